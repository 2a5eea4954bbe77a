// The "journal" and "duckdb" variables of the registry: how writes are made durable, and
// DuckDB's resources.
#include <charconv>

#include "config/config.hpp"

namespace k9::config {

DurabilitySettings load_durability_settings(EnvReader& env) {
    DurabilitySettings d;
    if (const auto mode = env.text("K9_DURABILITY")) {
        if (*mode != "journal" && *mode != "snapshot") {
            throw ConfigError("K9_DURABILITY",
                              "'" + *mode + "' is not allowed (allowed: journal, snapshot)");
        }
        d.journal = *mode == "journal";
    }
    // Below the minimum the fencing fast path and a fresh copy's catch-up lose their
    // margin: refused with the reason (the registry's range starts at the minimum).
    const Variable& retention = variable("K9_JOURNAL_RETENTION");
    if (const auto text = env.text("K9_JOURNAL_RETENTION")) {
        long long value = 0;
        const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
        if (ec == std::errc() && end == text->data() + text->size() &&
            value < kMinJournalRetentionS) {
            throw ConfigError(
                "K9_JOURNAL_RETENTION",
                "'" + *text + "' is below the minimum of " + std::to_string(kMinJournalRetentionS) +
                    " seconds, because writers skip their fencing check for half the retention "
                    "and a copy that downloaded a snapshot must still find the journal entries "
                    "after it (allowed: " +
                    retention.allowed_text() + ")");
        }
    }
    d.retention_s = env.number("K9_JOURNAL_RETENTION", d.retention_s);
    d.max_staleness_ms = env.number("K9_MAX_STALENESS_MS", d.max_staleness_ms);
    d.max_batch = static_cast<std::size_t>(
        env.number("K9_JOURNAL_MAX_BATCH", static_cast<long long>(d.max_batch)));
    d.partitions = static_cast<int>(env.number("K9_JOURNAL_PARTITIONS", d.partitions));
    return d;
}

DuckDbSettings load_duckdb_settings(EnvReader& env) {
    DuckDbSettings d;
    d.threads = static_cast<int>(env.number("K9_DUCKDB_THREADS", d.threads));
    if (const auto memory = env.number_if_set("K9_DUCKDB_MEMORY_LIMIT")) {
        d.memory_limit_mb = *memory;
    } else if (const auto function_mb = env.number_if_set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")) {
        d.memory_limit_mb = *function_mb / 2;
        env.show("K9_DUCKDB_MEMORY_LIMIT", std::to_string(d.memory_limit_mb),
                 "half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    } else {
        env.show("K9_DUCKDB_MEMORY_LIMIT", "DuckDB's default (80% of memory)");
        env.show("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "not set (not on Lambda)");
    }
    return d;
}

}  // namespace k9::config
