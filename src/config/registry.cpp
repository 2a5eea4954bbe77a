#include "config/registry.hpp"

#include <stdexcept>

#include "config/config.hpp"

namespace k9::config {
namespace {

// clang-format off
constexpr Variable kVariables[] = {
    // The database and where it lives (read by config/config.cpp).
    {"ENVIRONMENT", "store", "dev", "dev, staging, prod",
     "the deployment stage; names the default DATABASE_S3_KEY"},
    {"DATABASE_S3_BUCKET", "store", "not set", "an S3 bucket name",
     "S3 bucket; when set, the store defaults to `s3://$DATABASE_S3_BUCKET`"},
    {"DATABASE_S3_KEY", "store", "databases/k9_api_${ENVIRONMENT}.db", "an object key",
     "object key of the snapshot (the journal is `<key>.journal/`)"},
    {"K9_DB_PATH", "store", "/tmp/k9_api.db", "a file path", "the local database file"},
    {"K9_STORE_URL", "store", "s3://$DATABASE_S3_BUCKET, else file://$PWD/.k9/store",
     "file:///absolute/folder[?versions=on], s3://bucket[/prefix]",
     "the object store holding the snapshot and the journal"},
    // Durability (config/database_settings.cpp; used by db/).
    {"K9_DURABILITY", "journal", "journal", "journal, snapshot",
     "journal: every write is in the store before it is acknowledged; snapshot: the seed's "
     "design, writes wait in the local file for a persist"},
    {"K9_JOURNAL_RETENTION", "journal", "3600", "",
     "seconds a snapshot must exist (on the store's clock) before the journal entries it "
     "covers are removed", kMinJournalRetentionS, 30LL * 86400},
    {"K9_MAX_STALENESS_MS", "journal", "0", "",
     "how old a copy's view of a user's partition may be when a request reads it (0: one GET "
     "per read)", 0, 86400000},
    {"K9_JOURNAL_MAX_BATCH", "journal", "256", "",
     "writes per journal entry, group commit (1: none)", 1, 10000},
    {"K9_JOURNAL_PARTITIONS", "journal", "64", "",
     "partitions of a journal created from now on; an existing journal keeps its count", 1, 256},
    // DuckDB (config/database_settings.cpp; used by db/).
    {"K9_DUCKDB_THREADS", "duckdb", "1", "",
     "DuckDB's threads: the API runs point queries, 1.4x faster with one thread than with one "
     "per core (`build/bin/duckdb_floor --duckdb-threads N`)", 1, 256},
    {"K9_DUCKDB_MEMORY_LIMIT", "duckdb",
     "half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE on Lambda, else DuckDB's (80% of memory)", "",
     "MB DuckDB may use; beyond it, it spills to `<db>.tmp`", 16, 1LL << 20},
    {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "duckdb", "set by Lambda", "",
     "the function's memory in MB; sizes K9_DUCKDB_MEMORY_LIMIT", 128, 1LL << 20},
    // The API service (config/api_settings.cpp; used by api/).
    {"K9_JWT_SECRET", "api", "not set", "at least 32 bytes",
     "HS256 secret for development tokens (`k9db token`)", 0, 0, true},
    {"K9_JWKS_FILE", "api", "not set", "a readable JWKS file",
     "the RS256 keys to accept, from a file"},
    {"K9_COGNITO_USER_POOL_ID", "api", "not set", "a user pool id, e.g. us-east-1_AbC123",
     "tokens must come from this Cognito user pool (issuer); keys from its JWKS"},
    {"K9_JWT_AUDIENCE", "api", "not set", "app client ids, comma-separated",
     "accepted audiences (`aud` / `client_id`)"},
    {"K9_PERSIST_WRITES", "api", "10 (journal: 1000)", "",
     "persist (a compaction in journal mode) after this many writes (0: not by count)", 0,
     1000000},
    {"K9_PERSIST_INTERVAL", "api", "300", "",
     "persist after this many seconds with writes pending (0: not by time)", 0, 86400},
    {"K9_PERSIST_TAIL", "api", "128", "",
     "journal: compact when one partition holds this many entries beyond the snapshot (what "
     "a cold start's first read of it fetches; 0: off)", 0, 1000000},
    {"K9_MAX_BODY_BYTES", "api", "1048576", "", "larger request bodies get 413", 1024,
     64LL << 20},
    {"K9_ADMIN_GROUP", "api", "k9-admins", "a group name (no spaces, commas or brackets)",
     "the Cognito group (`cognito:groups`) whose members may call `/admin/*` and see "
     "`/health`'s details"},
    {"K9_ADMIN_CALLS_PER_MINUTE", "api", "6", "",
     "`/admin/*` calls one process accepts a minute (then 429)", 1, 10000},
    {"K9_RESPONSE_CACHE_MB", "api", "8", "",
     "memory for answers of reads (`GET /user/profile`, `/reports`, `/reports/{id}`) kept "
     "while the user's data is unchanged; 0: none", 0, 4096},
    // S3 (config/s3_settings.cpp; used by store/s3/).
    {"AWS_ENDPOINT_URL_S3", "s3", "AWS", "http(s)://host[:port]",
     "a custom S3 endpoint (path-style addressing); before AWS_ENDPOINT_URL"},
    {"AWS_ENDPOINT_URL", "s3", "AWS", "http(s)://host[:port]", "a custom endpoint for every AWS service"},
    {"AWS_REGION", "s3", "us-east-1", "a region name", "region; before AWS_DEFAULT_REGION"},
    {"AWS_DEFAULT_REGION", "s3", "us-east-1", "a region name", "region"},
    {"AWS_MAX_ATTEMPTS", "s3", "3", "", "attempts per request (AWS standard retry mode)", 1, 20},
    {"K9_S3_PART_SIZE_MB", "s3", "8", "", "multipart part size", 5, 5120},
    {"K9_S3_MULTIPART_THRESHOLD_MB", "s3", "16", "", "uploads larger than this are multipart",
     5, 5120},
    {"K9_S3_CONCURRENCY", "s3", "8", "", "parallel parts of one transfer", 1, 64},
    {"K9_S3_RETRY_BASE_MS", "s3", "1000", "",
     "retry backoff base: rand() * min(base * 2^n, 20 s)", 1, 20000},
    {"K9_S3_STALL_TIMEOUT_S", "s3", "30", "",
     "abort a transfer that makes no progress for this long", 1, 3600},
    {"K9_S3_PARALLEL_BELOW_MBPS", "s3", "400", "",
     "add parallel ranged GETs to a download slower than this (0: never)", 0, 1000000},
    {"K9_S3_SSE", "s3", "AES256", "AES256, aws:kms, none", "server-side encryption of uploads"},
    {"K9_S3_SSE_KMS_KEY_ID", "s3", "not set", "a KMS key id (with K9_S3_SSE=aws:kms)",
     "the KMS key of aws:kms encryption"},
    // Logs and metrics (common/log.cpp, obs/metrics.cpp).
    {"K9_LOG_LEVEL", "logs", "INFO", "DEBUG, INFO, WARN, ERROR",
     "the least severe log line written; before AWS_LAMBDA_LOG_LEVEL"},
    {"AWS_LAMBDA_LOG_LEVEL", "logs", "INFO", "DEBUG, INFO, WARN, ERROR",
     "Lambda's log level, used when K9_LOG_LEVEL is not set"},
    {"K9_METRICS", "logs", "emf on Lambda, else off", "emf, off",
     "CloudWatch Embedded Metric Format lines on stdout"},
};
// clang-format on

}  // namespace

std::string Variable::allowed_text() const {
    if (!allowed.empty() || !is_number()) return std::string(allowed);
    return std::to_string(min) + "-" + std::to_string(max);
}

std::span<const Variable> variables() {
    return kVariables;
}

const Variable& variable(std::string_view name) {
    for (const auto& v : kVariables) {
        if (v.name == name) return v;
    }
    throw std::logic_error("k9 reads the environment variable " + std::string(name) +
                           ", which config/registry.cpp does not list; add it there");
}

std::string markdown_table() {
    std::string out = "| variable | default | allowed | meaning |\n|---|---|---|---|\n";
    for (const auto& v : kVariables) {
        out += "| `" + std::string(v.name) + "` | " + std::string(v.fallback) + " | " +
               v.allowed_text() + " | " + std::string(v.meaning) + " |\n";
    }
    return out;
}

}  // namespace k9::config
