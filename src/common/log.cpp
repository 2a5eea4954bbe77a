#include "common/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "common/time.hpp"

namespace k9::log {
namespace {

std::atomic<Level> g_threshold{Level::Info};
std::mutex g_mutex;
Sink g_sink;  // empty: stderr

}  // namespace

std::string_view to_string(Level level) {
    switch (level) {
        case Level::Debug:
            return "DEBUG";
        case Level::Info:
            return "INFO";
        case Level::Warning:
            return "WARN";  // the name Lambda's JSON log format uses
        case Level::Error:
            return "ERROR";
    }
    return "INFO";
}

std::optional<Level> parse_level(std::string_view text) {
    std::string upper;
    for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (upper == "TRACE" || upper == "DEBUG") return Level::Debug;
    if (upper == "INFO") return Level::Info;
    if (upper == "WARN" || upper == "WARNING") return Level::Warning;
    if (upper == "ERROR" || upper == "FATAL") return Level::Error;
    return std::nullopt;
}

void set_threshold(Level level) {
    g_threshold = level;
}
Level threshold() {
    return g_threshold;
}

void configure_from_environment() {
    for (const char* name : {"K9_LOG_LEVEL", "AWS_LAMBDA_LOG_LEVEL"}) {
        const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read at start-up
        if (value == nullptr) continue;
        if (auto level = parse_level(value)) {
            set_threshold(*level);
            return;
        }
    }
}

void set_sink(Sink sink) {
    std::lock_guard lock(g_mutex);
    g_sink = std::move(sink);
}

void reset_sink() {
    set_sink(nullptr);
}

void write(Level level, std::string_view message, nlohmann::json fields) {
    if (level < g_threshold.load()) return;
    nlohmann::json line = nlohmann::json::object();
    line["timestamp"] = format_iso8601(system_now());
    line["level"] = to_string(level);
    line["message"] = message;
    if (fields.is_object()) {
        for (auto& [key, value] : fields.items()) {
            if (!line.contains(key)) line[key] = std::move(value);
        }
    }
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::lock_guard lock(g_mutex);
    if (g_sink) {
        g_sink(text);
        return;
    }
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

}  // namespace k9::log
