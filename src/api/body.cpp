#include "api/body.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <set>
#include <vector>

#include "api/errors.hpp"

namespace k9::api {
namespace {
constexpr std::size_t kMaxDepth = 32;

[[noreturn]] void invalid(const std::string& message) {
    throw ApiError(400, "invalid_field", message);
}

// Nesting depth of the raw text, outside strings; checked before parsing so that no
// recursion ever sees a deeply nested document.
std::size_t max_depth(const std::string& text) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}
}  // namespace

Body::Body(const Request& request, std::initializer_list<const char*> allowed) {
    if (request.body.empty())
        throw ApiError(400, "invalid_json", "the request needs a JSON object body");
    if (max_depth(request.body) > kMaxDepth)
        throw ApiError(400, "invalid_json", "the request body is nested too deeply");
    // No exceptions from the parser: malformed input is one error. The callback keeps the
    // keys of each open object and notes the first key given twice.
    std::vector<std::set<std::string>> open_objects;
    std::optional<std::string> duplicate;
    const auto note_keys = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
        using Event = nlohmann::json::parse_event_t;
        if (event == Event::object_start) {
            open_objects.emplace_back();
        } else if (event == Event::object_end && !open_objects.empty()) {
            open_objects.pop_back();
        } else if (event == Event::key && !open_objects.empty() && !duplicate) {
            std::string key = parsed.get<std::string>();
            if (!open_objects.back().insert(key).second) duplicate = std::move(key);
        }
        return true;
    };
    json_ = nlohmann::json::parse(request.body, note_keys, false);
    if (json_.is_discarded())
        throw ApiError(400, "invalid_json", "the request body is not valid JSON");
    if (duplicate) {
        throw ApiError(400, "invalid_json",
                       "the request body gives the key '" + duplicate->substr(0, 64) +
                           "' twice in one object");
    }
    if (!json_.is_object())
        throw ApiError(400, "invalid_json", "the request body must be a JSON object");
    for (const auto& item : json_.items()) {
        const std::string& name =
            item.key();  // not a structured binding: clang 14 cannot capture one
        const bool known =
            std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return name == a; });
        if (!known) {
            std::string list;
            for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            invalid("unknown field '" + name.substr(0, 64) + "' (allowed: " + list + ")");
        }
    }
}

const nlohmann::json& Body::field(const char* name) const {
    if (!json_.contains(name)) invalid(std::string("field '") + name + "' is required");
    return json_[name];
}

std::string Body::string(const char* name) const {
    const auto& v = field(name);
    if (!v.is_string()) invalid(std::string("field '") + name + "' must be a string");
    return v.get<std::string>();
}

std::optional<std::string> Body::optional_string(const char* name) const {
    if (!has(name)) return std::nullopt;
    return string(name);
}

std::optional<std::optional<std::string>> Body::nullable_string(const char* name) const {
    if (!has(name)) return std::nullopt;
    if (json_[name].is_null()) return std::optional<std::string>{};
    return std::optional<std::string>{string(name)};
}

bool Body::boolean(const char* name) const {
    const auto& v = field(name);
    if (!v.is_boolean()) invalid(std::string("field '") + name + "' must be true or false");
    return v.get<bool>();
}

nlohmann::json Body::value(const char* name) const {
    const auto& v = field(name);
    if (v.is_null()) invalid(std::string("field '") + name + "' must not be null");
    return v;
}

std::optional<nlohmann::json> Body::optional_object(const char* name) const {
    if (!has(name)) return std::nullopt;
    const auto& v = json_[name];
    if (!v.is_object() && !v.is_null())
        invalid(std::string("field '") + name + "' must be an object or null");
    return v;
}

std::vector<std::string> Body::string_list(const char* name) const {
    const auto& v = field(name);
    if (!v.is_array()) invalid(std::string("field '") + name + "' must be an array of strings");
    std::vector<std::string> out;
    for (const auto& item : v) {
        if (!item.is_string())
            invalid(std::string("field '") + name + "' must be an array of strings");
        out.push_back(item.get<std::string>());
    }
    return out;
}

}  // namespace k9::api
