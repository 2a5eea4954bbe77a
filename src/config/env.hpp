#pragma once
// Environment lookup, injected so tests can pass their own variables.

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace k9::config {

using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// The process environment (getenv).
EnvLookup process_env();
// A fixed set of variables, for tests.
EnvLookup map_env(std::map<std::string, std::string> vars);

}  // namespace k9::config
