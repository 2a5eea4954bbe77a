#pragma once
// Captures k9's JSON log lines for the lifetime of the object.

#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace k9::test {

class LogCapture {
  public:
    LogCapture() {
        log::set_sink([this](const std::string& line) {
            std::lock_guard lock(mutex_);
            lines_.push_back(nlohmann::json::parse(line));
        });
    }
    ~LogCapture() { log::reset_sink(); }
    std::vector<nlohmann::json> lines() const {
        std::lock_guard lock(mutex_);
        return lines_;
    }
    // True when a line has this level and exactly this message.
    bool has(const std::string& level, const std::string& message) const {
        for (const auto& l : lines()) {
            if (l.value("level", "") == level && l.value("message", "") == message) return true;
        }
        return false;
    }

  private:
    mutable std::mutex mutex_;
    std::vector<nlohmann::json> lines_;
};

}  // namespace k9::test
