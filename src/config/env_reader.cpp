#include "config/env_reader.hpp"

#include <charconv>

namespace k9::config {

std::optional<std::string> EnvReader::lookup(const Variable& v) const {
    auto value = env_(std::string(v.name));
    if (value && value->empty()) return std::nullopt;  // VAR= counts as unset
    return value;
}

void EnvReader::record(const Variable& v, std::string value, std::string source) {
    shown_.try_emplace(std::string(v.name),
                       Setting{std::string(v.name), std::move(value), std::move(source)});
}

std::optional<std::string> EnvReader::text(std::string_view name) {
    const Variable& v = variable(name);  // throws for a name the registry lacks
    auto value = lookup(v);
    if (value) record(v, v.secret ? "(set, not shown)" : *value, "environment");
    return value;
}

std::optional<long long> EnvReader::number_if_set(std::string_view name) {
    const Variable& v = variable(name);
    const auto value = lookup(v);
    if (!value) return std::nullopt;
    long long n = 0;
    const auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), n);
    if (ec != std::errc() || end != value->data() + value->size() || n < v.min || n > v.max) {
        throw ConfigError(std::string(name),
                          "'" + *value + "' is not allowed (a whole number from " +
                              std::to_string(v.min) + " to " + std::to_string(v.max) + ")");
    }
    record(v, std::to_string(n), "environment");
    return n;
}

long long EnvReader::number(std::string_view name, long long fallback) {
    if (const auto n = number_if_set(name)) return *n;
    record(variable(name), std::to_string(fallback), "default");
    return fallback;
}

void EnvReader::show(std::string_view name, std::string value, const std::string& why) {
    const Variable& v = variable(name);
    std::string source = lookup(v) ? "environment" : why.empty() ? "default" : "default: " + why;
    shown_.insert_or_assign(std::string(v.name),
                            Setting{std::string(v.name), std::move(value), std::move(source)});
}

std::vector<Setting> EnvReader::rows() const {
    std::vector<Setting> out;
    for (const Variable& v : variables()) {
        if (const auto it = shown_.find(v.name); it != shown_.end()) {
            out.push_back(it->second);
        } else if (const auto value = lookup(v)) {
            out.push_back(
                {std::string(v.name), v.secret ? "(set, not shown)" : *value, "environment"});
        } else {
            out.push_back({std::string(v.name), std::string(v.fallback), "default"});
        }
    }
    return out;
}

}  // namespace k9::config
