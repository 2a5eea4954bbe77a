#pragma once
// Environment lookup, injected so tests can pass their own variables, and ConfigError:
// a bad value of a setting, naming the variable (every layer reports bad configuration
// with it: the front doors exit 2).

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

namespace k9 {

class ConfigError : public std::runtime_error {
  public:
    ConfigError(std::string var, const std::string& message)
        : std::runtime_error(var + ": " + message), variable(std::move(var)) {}
    std::string variable;
};

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvLookup process_env();
// A fixed set of variables, for tests.
EnvLookup map_env(std::map<std::string, std::string> vars);

}  // namespace k9
