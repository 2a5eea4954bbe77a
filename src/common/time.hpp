#pragma once
// Wall-clock time as microseconds since the Unix epoch (UTC), the unit DuckDB's
// TIMESTAMP uses, and the ISO 8601 text k9 shows. A Clock is injected where tests
// need to control time.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace k9 {

using Micros = std::int64_t;  // microseconds since 1970-01-01T00:00:00Z

Micros system_now();

// Returns now. Default: the system clock. Tests pass a fixed or stepping clock.
using Clock = std::function<Micros()>;
Clock system_clock();

// 2026-11-25T17:18:52.123456Z (microseconds kept; trailing zeros kept for sorting).
std::string format_iso8601(Micros t);
// Accepts YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM); nullopt when malformed.
std::optional<Micros> parse_iso8601(std::string_view text);
// Checks YYYY-MM-DD is a real calendar date.
bool is_calendar_date(std::string_view text);

// Monotonic milliseconds, for durations.
double monotonic_ms();

// A moment noted on two clocks, for safety decisions that rest on elapsed time (the
// journal's fencing): the boot clock (CLOCK_BOOTTIME, monotonic and counting while the
// machine or VM sleeps) and the wall clock. elapsed_ms() is the larger of the two
// differences, so neither a clock that stood still nor one that jumped back makes a
// long pause look short.
struct Instant {
    double boot_ms = 0;
    Micros wall = 0;
    static Instant now();
    double elapsed_ms() const;
    bool is_set() const { return wall != 0; }
};

}  // namespace k9
