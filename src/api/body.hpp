#pragma once
// Reading a JSON request body strictly: it must be a JSON object; only the fields a
// route names are allowed; each field has one type. Every violation is a 400 ApiError
// whose message names the field.

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http_types.hpp"

namespace k9::api {

class Body {
  public:
    // Parses the request body; `allowed` lists every field the route accepts.
    Body(const Request& request, std::initializer_list<const char*> allowed);

    bool has(const char* name) const { return json_.contains(name); }
    bool is_null(const char* name) const { return has(name) && json_[name].is_null(); }
    std::string string(const char* name) const;                          // required string
    std::optional<std::string> optional_string(const char* name) const;  // absent: nullopt
    // Present and null -> optional holding nullopt (clear); absent -> nullopt.
    std::optional<std::optional<std::string>> nullable_string(const char* name) const;
    bool boolean(const char* name) const;          // required boolean
    nlohmann::json value(const char* name) const;  // required, any JSON but null
    std::optional<nlohmann::json> optional_object(const char* name) const;  // object or null
    std::vector<std::string> string_list(const char* name) const;  // required array of strings

  private:
    const nlohmann::json& field(const char* name) const;
    nlohmann::json json_;
};

}  // namespace k9::api
