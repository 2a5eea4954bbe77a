#pragma once
// k9's configuration, read from the environment with the K9 API's names:
//   ENVIRONMENT          dev | staging | prod (default dev)
//   DATABASE_S3_BUCKET   S3 bucket of the database (sets the default store)
//   DATABASE_S3_KEY      object key of the snapshot (default databases/k9_api_${ENVIRONMENT}.db)
//   K9_DB_PATH           local database file (default /tmp/k9_api.db)
//   K9_STORE_URL         file:///abs/dir or s3://bucket[/prefix]; default s3://$DATABASE_S3_BUCKET
//                        when that is set, else file://<cwd>/.k9/store
// A bad value throws ConfigError naming the variable and what it allows.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/env.hpp"

namespace k9::config {

class ConfigError : public std::runtime_error {
  public:
    ConfigError(std::string var, const std::string& message)
        : std::runtime_error(var + ": " + message), variable(std::move(var)) {}
    std::string variable;
};

// Where the object store is.
struct StoreLocation {
    enum class Kind { File, S3 };
    Kind kind = Kind::File;
    std::filesystem::path dir;   // File: absolute folder
    bool keep_versions = false;  // File: ?versions=on
    std::string bucket;          // S3
    std::string prefix;          // S3: "" or "some/prefix" (no slashes at the ends)
    std::string url;             // as given or derived, normalised
};

// Parses a K9_STORE_URL value; throws ConfigError naming `variable`.
StoreLocation parse_store_url(const std::string& variable, const std::string& url);
// Throws ConfigError unless `name` is a valid S3 bucket name.
void check_bucket_name(const std::string& variable, const std::string& name);

// One line of `k9db --config`: variable, value, and where the value came from.
struct Setting {
    std::string variable;
    std::string value;
    std::string source;  // "environment" or "default: ..."
};

// How k9 talks to S3 (used when the store is s3://).
//   AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL   custom endpoint (path-style addressing)
//   AWS_REGION > AWS_DEFAULT_REGION          region (default us-east-1)
//   AWS_MAX_ATTEMPTS                         attempts per request (default 3)
//   K9_S3_PART_SIZE_MB (8), K9_S3_MULTIPART_THRESHOLD_MB (16), K9_S3_CONCURRENCY (8)
//   K9_S3_SSE = AES256 | aws:kms | none (default AES256), K9_S3_SSE_KMS_KEY_ID
//   K9_S3_RETRY_BASE_MS (1000)               backoff base: rand() * min(base * 2^n, 20 s)
//   K9_S3_STALL_TIMEOUT_S (30)               abort a transfer with no progress for this long
//   K9_S3_PARALLEL_BELOW_MBPS (400)          add parallel ranged GETs to a download whose
//                                            single stream is slower than this (0: never)
struct S3Settings {
    std::optional<std::string> endpoint;  // scheme://host[:port], no trailing slash
    std::string region = "us-east-1";
    int max_attempts = 3;
    std::uint64_t part_size = 8ull << 20;
    std::uint64_t multipart_threshold = 16ull << 20;
    int concurrency = 8;
    std::string sse = "AES256";  // "" when none
    std::string sse_kms_key_id;
    int retry_base_ms = 1000;
    int stall_timeout_s = 30;
    // Downloads add parallel ranged GETs when one stream runs slower than this (0: never).
    int parallel_below_mbps = 400;
    int download_probe_ms = 100;
};

// Reads S3Settings from the environment; throws ConfigError naming the variable.
S3Settings load_s3_settings(const EnvLookup& env, std::vector<Setting>* settings = nullptr);

// The API service (k9-api serve, bootstrap).
//   K9_JWT_SECRET            HS256 secret for development tokens (at least 32 bytes)
//   K9_JWKS_FILE             a JWKS file with the RS256 keys to accept
//   K9_COGNITO_USER_POOL_ID  a Cognito user pool: tokens must come from it (issuer), keys
//                            from its JWKS (K9_JWKS_FILE, or fetched from Cognito)
//   K9_JWT_AUDIENCE          accepted app client ids, comma-separated (aud / client_id)
//   K9_PERSIST_WRITES (10; journal 1000), K9_PERSIST_INTERVAL (300 s): automatic persistence
//   K9_PERSIST_TAIL (128): journal mode, compact when one partition has this many entries
//                          beyond the snapshot (a cold start's first read of it fetches them)
//   K9_MAX_BODY_BYTES (1 MiB): larger request bodies get 413
//   K9_ADMIN_GROUP (k9-admins): the Cognito group (`cognito:groups`) whose members may
//                          call /admin/* and see /health's details
//   K9_ADMIN_CALLS_PER_MINUTE (6): /admin/* calls a process accepts per minute (then 429)
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

ApiSettings load_api_settings(const EnvLookup& env);

// The smallest K9_JOURNAL_RETENTION. Entries covered by a snapshot outlive it by the
// retention, and two things rely on that: a writer skips its fencing check for half the
// retention since it last read the journal (the other half is the margin for clock rates
// and the store's 1-second dates), and a copy that has just downloaded a snapshot must
// still find the entries written after it. A minute keeps both margins wide.
inline constexpr std::int64_t kMinJournalRetentionS = 60;

// How acknowledged writes are made durable.
//   K9_DURABILITY         journal (default): every write is in the store before it is
//                         acknowledged; snapshot: writes wait in the local file for a persist
//   K9_JOURNAL_RETENTION  seconds a snapshot must exist before the journal entries it covers
//                         are removed (default 3600; at least 60, kMinJournalRetentionS)
//   K9_MAX_STALENESS_MS   how old this copy's view of a user's partition of the journal may
//                         be when a request reads it (default 0: one GET per read)
//   K9_JOURNAL_MAX_BATCH  writes per journal entry, group commit (default 256; 1: none)
//   K9_JOURNAL_PARTITIONS partitions of a journal made from now on (default 64, 1-256);
//                         an existing journal keeps its own count
struct DurabilitySettings {
    bool journal = true;
    std::int64_t retention_s = 3600;
    std::int64_t max_staleness_ms = 0;
    std::size_t max_batch = 256;
    int partitions = 64;
};

DurabilitySettings load_durability_settings(const EnvLookup& env,
                                            std::vector<Setting>* settings = nullptr);

// DuckDB's resources. K9_DUCKDB_THREADS: DuckDB's worker threads (default 1: the API runs
// point queries, which bench/duckdb_floor measured 1.4x faster with one thread than with one
// per core; exports and checkpoints run single-threaded). K9_DUCKDB_MEMORY_LIMIT in MB:
// default half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE on Lambda (the rest is k9's, the
// download's and the libraries'), elsewhere DuckDB's own default (80% of the machine's).
struct DuckDbSettings {
    int threads = 1;
    std::int64_t memory_limit_mb = 0;  // 0: DuckDB's default
};

DuckDbSettings load_duckdb_settings(const EnvLookup& env, std::vector<Setting>* settings = nullptr);

struct Config {
    std::string environment = "dev";
    std::optional<std::string> bucket;
    std::string key;
    std::filesystem::path db_path;
    StoreLocation store;
    S3Settings s3;
    ApiSettings api;
    DurabilitySettings durability;
    DuckDbSettings duckdb;
    std::vector<Setting> settings;  // for display, in a stable order
};

Config load_config(const EnvLookup& env,
                   const std::filesystem::path& cwd = std::filesystem::current_path());

}  // namespace k9::config
