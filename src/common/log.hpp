#pragma once
// Structured logs: one JSON object per line on stderr, with `timestamp`, `level`,
// `message` and any fields. Never pass secrets, tokens or request bodies as fields.
// Thread-safe. The threshold comes from K9_LOG_LEVEL or AWS_LAMBDA_LOG_LEVEL.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace k9::log {

enum class Level { Debug = 0, Info = 1, Warning = 2, Error = 3 };

std::string_view to_string(Level level);
// Accepts TRACE/DEBUG/INFO/WARN/WARNING/ERROR/FATAL (any case); nullopt otherwise.
std::optional<Level> parse_level(std::string_view text);

void set_threshold(Level level);
Level threshold();
// Reads K9_LOG_LEVEL, then AWS_LAMBDA_LOG_LEVEL; unknown values are ignored.
void configure_from_environment();

// Where lines go (default: stderr). Tests capture lines by installing a sink.
using Sink = std::function<void(const std::string& line)>;
void set_sink(Sink sink);
void reset_sink();

void write(Level level, std::string_view message, nlohmann::json fields = nlohmann::json::object());
inline void debug(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    write(Level::Debug, m, std::move(f));
}
inline void info(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    write(Level::Info, m, std::move(f));
}
inline void warning(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    write(Level::Warning, m, std::move(f));
}
inline void error(std::string_view m, nlohmann::json f = nlohmann::json::object()) {
    write(Level::Error, m, std::move(f));
}

}  // namespace k9::log
