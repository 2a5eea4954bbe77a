#include <algorithm>
#include <charconv>
#include <filesystem>

#include "config/config.hpp"

namespace k9::config {
namespace {

constexpr std::size_t kMinSecretBytes = 32;

std::optional<std::string> get(const EnvLookup& env, const std::string& name) {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

long long number(const std::string& variable, const std::string& text, long long min,
                 long long max) {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        throw ConfigError(variable, "'" + text + "' is not allowed (a whole number from " +
                                        std::to_string(min) + " to " + std::to_string(max) + ")");
    }
    return value;
}

// K9_JOURNAL_RETENTION in seconds, from kMinJournalRetentionS to 30 days. Below the
// minimum the fencing fast path and a fresh copy's catch-up lose their margin: refused
// with the reason.
std::int64_t journal_retention(const std::string& text) {
    constexpr long long kMax = 30LL * 86400;
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec == std::errc() && end == text.data() + text.size() && value < kMinJournalRetentionS) {
        throw ConfigError(
            "K9_JOURNAL_RETENTION",
            "'" + text + "' is below the minimum of " + std::to_string(kMinJournalRetentionS) +
                " seconds, because writers skip their fencing check for half the retention and a "
                "copy that downloaded a snapshot must still find the journal entries after it "
                "(allowed: " +
                std::to_string(kMinJournalRetentionS) + " to " + std::to_string(kMax) + ")");
    }
    return number("K9_JOURNAL_RETENTION", text, kMinJournalRetentionS, kMax);
}

}  // namespace

ApiSettings load_api_settings(const EnvLookup& env) {
    ApiSettings a;
    if (auto s = get(env, "K9_JWT_SECRET")) {
        if (s->size() < kMinSecretBytes) {
            throw ConfigError("K9_JWT_SECRET",
                              "is " + std::to_string(s->size()) +
                                  " bytes; HS256 needs at least 32 (e.g. openssl rand -hex 32)");
        }
        a.jwt_secret = *s;
    }
    if (auto f = get(env, "K9_JWKS_FILE")) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*f, ec)) {
            throw ConfigError("K9_JWKS_FILE",
                              "'" + *f + "' is not a readable file (a JSON Web Key Set)");
        }
        a.jwks_file = *f;
    }
    if (auto p = get(env, "K9_COGNITO_USER_POOL_ID")) {
        const auto us = p->find('_');
        const bool ok =
            us != std::string::npos && us > 0 && us + 1 < p->size() &&
            std::all_of(p->begin(), p->end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
            });
        if (!ok)
            throw ConfigError("K9_COGNITO_USER_POOL_ID",
                              "'" + *p + "' is not a user pool id (e.g. us-east-1_AbC123)");
        a.user_pool_id = *p;
    }
    if (auto list = get(env, "K9_JWT_AUDIENCE")) {
        std::size_t start = 0;
        while (start <= list->size()) {
            const auto comma = list->find(',', start);
            std::string item =
                list->substr(start, comma == std::string::npos ? std::string::npos : comma - start);
            item.erase(0, item.find_first_not_of(' '));
            item.erase(item.find_last_not_of(' ') + 1);
            if (!item.empty()) a.audiences.push_back(item);
            if (comma == std::string::npos) break;
            start = comma + 1;
        }
    }
    if (auto v = get(env, "K9_PERSIST_WRITES"))
        a.persist_writes = static_cast<int>(number("K9_PERSIST_WRITES", *v, 0, 1000000));
    if (auto v = get(env, "K9_PERSIST_INTERVAL")) {
        a.persist_interval_s = static_cast<int>(number("K9_PERSIST_INTERVAL", *v, 0, 86400));
    }
    if (auto v = get(env, "K9_PERSIST_TAIL")) {
        a.persist_tail = static_cast<int>(number("K9_PERSIST_TAIL", *v, 0, 1000000));
    }
    if (auto v = get(env, "K9_MAX_BODY_BYTES")) {
        a.max_body_bytes =
            static_cast<std::size_t>(number("K9_MAX_BODY_BYTES", *v, 1024, 64ll << 20));
    }
    if (auto g = get(env, "K9_ADMIN_GROUP")) {
        const bool ok =
            !g->empty() && g->size() <= 128 && std::none_of(g->begin(), g->end(), [](char c) {
                return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' ||
                       c == ']';
            });
        if (!ok) {
            throw ConfigError("K9_ADMIN_GROUP", "'" + g->substr(0, 64) +
                                                    "' is not a group name (no spaces, commas or "
                                                    "brackets, at most 128 characters)");
        }
        a.admin_group = *g;
    }
    if (auto v = get(env, "K9_ADMIN_CALLS_PER_MINUTE")) {
        a.admin_calls_per_minute =
            static_cast<int>(number("K9_ADMIN_CALLS_PER_MINUTE", *v, 1, 10000));
    }
    if (auto v = get(env, "K9_RESPONSE_CACHE_MB"))
        a.response_cache_mb = static_cast<int>(number("K9_RESPONSE_CACHE_MB", *v, 0, 4096));
    return a;
}

DurabilitySettings load_durability_settings(const EnvLookup& env, std::vector<Setting>* settings) {
    DurabilitySettings d;
    auto note = [&](const std::string& var, const std::string& value, bool from_env) {
        if (settings != nullptr)
            settings->push_back({var, value, from_env ? "environment" : "default"});
    };
    const auto mode = get(env, "K9_DURABILITY");
    if (mode) {
        if (*mode != "journal" && *mode != "snapshot") {
            throw ConfigError("K9_DURABILITY",
                              "'" + *mode + "' is not allowed (allowed: journal, snapshot)");
        }
        d.journal = *mode == "journal";
    }
    note("K9_DURABILITY", d.journal ? "journal" : "snapshot", mode.has_value());
    if (auto v = get(env, "K9_JOURNAL_RETENTION")) d.retention_s = journal_retention(*v);
    if (auto v = get(env, "K9_MAX_STALENESS_MS"))
        d.max_staleness_ms = number("K9_MAX_STALENESS_MS", *v, 0, 86400000);
    if (auto v = get(env, "K9_JOURNAL_MAX_BATCH"))
        d.max_batch = static_cast<std::size_t>(number("K9_JOURNAL_MAX_BATCH", *v, 1, 10000));
    if (auto v = get(env, "K9_JOURNAL_PARTITIONS"))
        d.partitions = static_cast<int>(number("K9_JOURNAL_PARTITIONS", *v, 1, 256));
    if (d.journal) {
        note("K9_JOURNAL_RETENTION", std::to_string(d.retention_s) + " s",
             get(env, "K9_JOURNAL_RETENTION").has_value());
        note("K9_MAX_STALENESS_MS", std::to_string(d.max_staleness_ms),
             get(env, "K9_MAX_STALENESS_MS").has_value());
        note("K9_JOURNAL_PARTITIONS", std::to_string(d.partitions) + " (for a new journal)",
             get(env, "K9_JOURNAL_PARTITIONS").has_value());
    }
    return d;
}

DuckDbSettings load_duckdb_settings(const EnvLookup& env, std::vector<Setting>* settings) {
    DuckDbSettings d;
    const auto threads = get(env, "K9_DUCKDB_THREADS");
    if (threads) d.threads = static_cast<int>(number("K9_DUCKDB_THREADS", *threads, 1, 256));
    const auto memory = get(env, "K9_DUCKDB_MEMORY_LIMIT");
    std::string memory_note;
    if (memory) {
        d.memory_limit_mb = number("K9_DUCKDB_MEMORY_LIMIT", *memory, 16, 1LL << 20);
    } else if (const auto lambda = get(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE")) {
        const long long function_mb =
            number("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", *lambda, 128, 1LL << 20);
        d.memory_limit_mb = function_mb / 2;
        memory_note = " (half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE)";
    }
    if (settings != nullptr) {
        settings->push_back(
            {"K9_DUCKDB_THREADS", std::to_string(d.threads), threads ? "environment" : "default"});
        settings->push_back({"K9_DUCKDB_MEMORY_LIMIT",
                             d.memory_limit_mb > 0
                                 ? std::to_string(d.memory_limit_mb) + " MB" + memory_note
                                 : "DuckDB's default (80% of memory)",
                             memory ? "environment" : "default"});
    }
    return d;
}

}  // namespace k9::config
