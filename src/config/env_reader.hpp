#pragma once
// EnvReader: the one place k9's settings are read from the environment. Every name must
// be in the registry (config/registry.hpp), which gives whole numbers their range; each
// read records the value and where it came from, for `k9db --config`.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.hpp"
#include "config/registry.hpp"

namespace k9::config {

// One line of `k9db --config`: variable, value, and where the value came from.
struct Setting {
    std::string variable;
    std::string value;
    std::string source;  // "environment", "default" or "default: why"
};

class EnvReader {
  public:
    explicit EnvReader(EnvLookup env) : env_(std::move(env)) {}

    // The variable's value; nullopt when unset or empty (VAR= counts as unset).
    std::optional<std::string> text(std::string_view name);
    // A whole number in the registry's range: the variable's value, or `fallback` when it
    // is unset. Throws ConfigError naming the variable and the range.
    long long number(std::string_view name, long long fallback);
    // Like number(), nullopt when unset.
    std::optional<long long> number_if_set(std::string_view name);

    // What `k9db --config` shows for `name` instead of the raw value (a normalised or
    // derived value): from the environment when the variable is set, else the default
    // (`why` explains a derived one).
    void show(std::string_view name, std::string value, const std::string& why = "");
    // A row for each registry variable, in its order: the recorded ones as recorded, the
    // others as their default (secrets: whether they are set, never their value).
    std::vector<Setting> rows() const;

  private:
    std::optional<std::string> lookup(const Variable& v) const;
    void record(const Variable& v, std::string value, std::string source);

    EnvLookup env_;
    std::map<std::string, Setting, std::less<>> shown_;
};

}  // namespace k9::config
