#pragma once
// k9's configuration, read from the environment with the K9 API's names. Every variable,
// its default, what it allows and what it means is in one table, config/registry.cpp
// (the README's table is generated from it). A bad value throws ConfigError naming the
// variable and what it allows.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/env.hpp"
#include "config/env_reader.hpp"
#include "store/location.hpp"
#include "store/s3/s3_settings.hpp"

namespace k9::config {

// How k9 talks to S3 (store::S3Settings): the "s3" variables of the registry.
store::S3Settings load_s3_settings(EnvReader& env);

// The API service (k9-api serve, bootstrap): the "api" variables of the registry.
struct ApiSettings {
    std::optional<std::string> jwt_secret;
    std::optional<std::string> jwks_file;
    std::optional<std::string> user_pool_id;
    std::vector<std::string> audiences;
    int persist_writes = 10;
    int persist_interval_s = 300;
    int persist_tail = 128;
    std::size_t max_body_bytes = 1u << 20;
    std::string admin_group = "k9-admins";
    int admin_calls_per_minute = 6;
    int response_cache_mb = 8;  // K9_RESPONSE_CACHE_MB; 0: no response cache
};

// journal: the durability mode, which sets K9_PERSIST_WRITES's default.
ApiSettings load_api_settings(EnvReader& env, bool journal);

// The smallest K9_JOURNAL_RETENTION. Entries covered by a snapshot outlive it by the
// retention, and two things rely on that: a writer skips its fencing check for half the
// retention since it last read the journal (the other half is the margin for clock rates
// and the store's 1-second dates), and a copy that has just downloaded a snapshot must
// still find the entries written after it. A minute keeps both margins wide.
inline constexpr std::int64_t kMinJournalRetentionS = 60;

// How acknowledged writes are made durable: the "journal" variables of the registry.
struct DurabilitySettings {
    bool journal = true;
    std::int64_t retention_s = 3600;
    std::int64_t max_staleness_ms = 0;
    std::size_t max_batch = 256;
    int partitions = 64;
};

DurabilitySettings load_durability_settings(EnvReader& env);

// DuckDB's resources. K9_DUCKDB_THREADS: DuckDB's worker threads (default 1: the API runs
// point queries, which bench/duckdb_floor measured 1.4x faster with one thread than with one
// per core; exports and checkpoints run single-threaded). K9_DUCKDB_MEMORY_LIMIT in MB:
// default half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE on Lambda (the rest is k9's, the
// download's and the libraries'), elsewhere DuckDB's own default (80% of the machine's).
struct DuckDbSettings {
    int threads = 1;
    std::int64_t memory_limit_mb = 0;  // 0: DuckDB's default
};

DuckDbSettings load_duckdb_settings(EnvReader& env);

struct Config {
    std::string environment = "dev";
    std::optional<std::string> bucket;
    std::string key;
    std::filesystem::path db_path;
    store::StoreLocation store;
    store::S3Settings s3;
    ApiSettings api;
    DurabilitySettings durability;
    DuckDbSettings duckdb;
    std::vector<Setting> settings;  // every registry variable: value and source, for display
};

Config load_config(const EnvLookup& env,
                   const std::filesystem::path& cwd = std::filesystem::current_path());

}  // namespace k9::config
