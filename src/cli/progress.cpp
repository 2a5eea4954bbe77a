#include "cli/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "common/time.hpp"

namespace k9::cli {
namespace {

std::string mb(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
    return buf;
}

}  // namespace

Progress::Progress(std::string label, bool force)
    : label_(std::move(label)),
      enabled_(force || ::isatty(STDERR_FILENO) == 1),
      started_ms_(monotonic_ms()) {}

Progress::~Progress() {
    finish();
}

store::ProgressFn Progress::callback() {
    if (!enabled_) return {};
    return [this](std::uint64_t done, std::uint64_t total) { update(done, total); };
}

std::string Progress::render(std::uint64_t done, std::uint64_t total, double seconds) {
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    std::string out = mb(static_cast<double>(done));
    if (total > 0) {
        char pct[16];
        std::snprintf(
            pct, sizeof pct, "  %3d%%",
            static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total)));
        out += " / " + mb(static_cast<double>(total)) + pct;
    }
    out += "  " + mb(rate) + "/s";
    if (total > 0 && rate > 0 && done < total) {
        const auto left = static_cast<long>(static_cast<double>(total - done) / rate);
        char eta[32];
        std::snprintf(eta, sizeof eta, "  %ld:%02ld left", left / 60, left % 60);
        out += eta;
    }
    return out;
}

void Progress::update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    std::lock_guard lock(mutex_);
    if (finished_) return;
    done_ = std::max(done_, done);
    total_ = total;
    const double now = monotonic_ms();
    if (now - last_draw_ms_ < 100 && done_ < total_) return;
    last_draw_ms_ = now;
    const std::string line = render(done_, total_, (now - started_ms_) / 1000.0);
    const bool complete = total_ > 0 && done_ >= total_;
    std::fprintf(stderr, "\r%s: %s\033[K%s", label_.c_str(), line.c_str(), complete ? "\n" : "");
    std::fflush(stderr);
    drawn_ = true;
    finished_ = complete;
}

void Progress::finish() {
    std::lock_guard lock(mutex_);
    if (!enabled_ || finished_ || !drawn_) return;
    finished_ = true;
    std::fprintf(stderr, "\r%s: %s\033[K\n", label_.c_str(),
                 render(done_, total_, (monotonic_ms() - started_ms_) / 1000.0).c_str());
    std::fflush(stderr);
}

}  // namespace k9::cli
