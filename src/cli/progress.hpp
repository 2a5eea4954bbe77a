#pragma once
// Progress of long transfers on a terminal: bytes, rate, time left, redrawn on one
// line of stderr at most ten times a second. When stderr is not a terminal (piped,
// CI, Lambda) it prints nothing. Safe to call from the threads of a parallel transfer.

#include <cstdint>
#include <mutex>
#include <string>

#include "store/object_store.hpp"

namespace k9::cli {

class Progress {
  public:
    // `label` is shown first, e.g. "download". `force` shows it even when not a terminal.
    explicit Progress(std::string label, bool force = false);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // A callback for store operations; empty when progress is not shown.
    store::ProgressFn callback();
    void update(std::uint64_t done, std::uint64_t total);
    // Ends the line (prints the final state once).
    void finish();

    // "12.3 MB / 100.0 MB  12%  45.6 MB/s  0:02 left"
    static std::string render(std::uint64_t done, std::uint64_t total, double seconds);

  private:
    std::string label_;
    bool enabled_;
    std::mutex mutex_;
    double started_ms_;
    double last_draw_ms_ = 0;
    std::uint64_t done_ = 0, total_ = 0;
    bool drawn_ = false, finished_ = false;
};

}  // namespace k9::cli
