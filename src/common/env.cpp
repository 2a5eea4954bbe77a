#include "common/env.hpp"

#include <cstdlib>

namespace k9 {

EnvLookup process_env() {
    return [](const std::string& name) -> std::optional<std::string> {
        const char* v =
            std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe): no setenv in k9
        if (v == nullptr) return std::nullopt;
        return std::string(v);
    };
}

EnvLookup map_env(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

}  // namespace k9
