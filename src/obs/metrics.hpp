#pragma once
// Metrics as CloudWatch Embedded Metric Format (EMF) lines: one JSON object per line,
//   {"_aws":{"Timestamp":<epoch ms>,"CloudWatchMetrics":[{"Namespace":"K9/Database",
//     "Dimensions":[["Environment"]],"Metrics":[{"Name":<name>,"Unit":<unit>}]}]},
//    "Environment":<environment>,<name>:<value>}
// On Lambda, stdout goes to CloudWatch Logs, which turns each line into a metric datum
// (namespace K9/Database, dimension Environment). The alarms in infrastructure/template.yaml
// watch these names. Lines carry no level: with Lambda's log-level filtering they count as
// INFO, so the function's ApplicationLogLevel must be INFO or more verbose.
//
// Emitting never throws and never blocks on anything but the sink: a metric that cannot
// be written (bad name, non-finite value) is dropped with a warning log line.
// Thread-safe: every call may come from any thread; each line is written whole.

#include <functional>
#include <mutex>
#include <string>
#include <string_view>

#include "common/env.hpp"
#include "common/time.hpp"

namespace k9::obs {

inline constexpr std::string_view kNamespace = "K9/Database";
inline constexpr std::string_view kDimension = "Environment";

// The metric names k9 emits, and their units.
inline constexpr std::string_view kDatabaseDownloadFailures = "DatabaseDownloadFailures";  // Count
inline constexpr std::string_view kDatabaseUploadFailures = "DatabaseUploadFailures";      // Count
inline constexpr std::string_view kPersistConflicts = "PersistConflicts";                  // Count
inline constexpr std::string_view kDatabaseSizeBytes = "DatabaseSizeBytes";                // Bytes
inline constexpr std::string_view kColdStartDurationMs = "ColdStartDurationMs";  // Milliseconds
inline constexpr std::string_view kDownloadDurationMs = "DownloadDurationMs";    // Milliseconds
inline constexpr std::string_view kPersistDurationMs = "PersistDurationMs";      // Milliseconds
inline constexpr std::string_view kJournalAppendMs = "JournalAppendMs";          // Milliseconds
inline constexpr std::string_view kJournalSeqConflicts =
    "JournalSeqConflicts";  // Count: a seq with two owners
inline constexpr std::string_view kCopyReloads =
    "CopyReloads";  // Count: a broken local copy reloaded

// A subset of CloudWatch's units; the names are EMF's.
enum class Unit { Count, Bytes, Milliseconds, Seconds, None };
std::string_view to_string(Unit unit);

// Receives one EMF line (no newline). Default: stdout.
using Sink = std::function<void(const std::string& line)>;

class Metrics {
  public:
    // `sink` empty: stdout. `clock` gives the Timestamp.
    Metrics(std::string environment, bool enabled, Sink sink = {}, Clock clock = system_clock());

    // Changes where and whether lines go; safe while other threads emit.
    void configure(std::string environment, bool enabled);
    void set_sink(Sink sink);
    void reset_sink() { set_sink({}); }

    bool enabled() const;
    std::string environment() const;

    void count(std::string_view name, double value = 1);  // Unit Count
    void gauge(std::string_view name, double value, Unit unit);
    void duration_ms(std::string_view name, double ms);  // Unit Milliseconds

    // The EMF line for one datum; no checks. Exposed for tests.
    static std::string emf_line(std::string_view environment, std::string_view name, double value,
                                Unit unit, Micros timestamp);

  private:
    void emit(std::string_view name, double value, Unit unit);

    mutable std::mutex mutex_;
    std::string environment_;
    bool enabled_;
    Sink sink_;
    Clock clock_;
};

// The process-wide emitter. Until configure_metrics() is called it is configured from the
// process environment (see metrics_enabled / ENVIRONMENT, default "dev").
Metrics& metrics();
void configure_metrics(std::string environment, bool enabled);

// Whether k9 should emit EMF lines here: on Lambda (AWS_LAMBDA_FUNCTION_NAME is set), or
// when K9_METRICS=emf. K9_METRICS=off turns them off even on Lambda.
bool metrics_enabled(const k9::EnvLookup& env);

}  // namespace k9::obs
