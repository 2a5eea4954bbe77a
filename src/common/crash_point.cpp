#include "common/crash_point.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <random>
#include <string>

namespace k9 {
namespace {

struct CrashConfig {
    std::map<std::string, double> points;
    std::mt19937_64 rng{static_cast<std::uint64_t>(::getpid()) * 7919u +
                        static_cast<std::uint64_t>(::time(nullptr))};
    std::mutex mutex;
};

CrashConfig& config() {
    static CrashConfig* c = [] {
        auto* cfg = new CrashConfig();
        const char* spec =
            std::getenv("K9_TEST_CRASH_POINTS");  // NOLINT(concurrency-mt-unsafe): read once
        std::string s = spec != nullptr ? spec : "";
        std::size_t start = 0;
        while (start < s.size()) {
            const auto comma = s.find(',', start);
            const std::string item =
                s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            const auto colon = item.find(':');
            if (colon != std::string::npos)
                cfg->points[item.substr(0, colon)] = std::strtod(item.c_str() + colon + 1, nullptr);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
        return cfg;
    }();
    return *c;
}

}  // namespace

void crash_point(const char* name) {
    auto& c = config();
    if (c.points.empty()) return;
    auto it = c.points.find(name);
    if (it == c.points.end()) return;
    std::lock_guard lock(c.mutex);
    if (std::uniform_real_distribution<double>(0, 1)(c.rng) < it->second)
        ::kill(::getpid(), SIGKILL);
}

}  // namespace k9
