#include "config/config.hpp"

#include <algorithm>

#include "store/error.hpp"
#include "store/key.hpp"

namespace k9::config {
namespace stdfs = std::filesystem;

namespace {

constexpr const char* kEnvironments[] = {"dev", "staging", "prod"};

std::filesystem::path database_path(EnvReader& env, const stdfs::path& cwd) {
    const auto p = env.text("K9_DB_PATH");
    if (!p) return "/tmp/k9_api.db";
    stdfs::path path(*p);
    if (path.is_relative()) path = cwd / path;
    path = path.lexically_normal();
    if (!path.has_filename()) {
        throw ConfigError("K9_DB_PATH", "'" + *p + "' must name a file, not a folder");
    }
    std::error_code ec;
    if (stdfs::is_directory(path, ec)) {
        throw ConfigError("K9_DB_PATH", "'" + *p + "' is a folder; it must name the database file");
    }
    env.show("K9_DB_PATH", path.string());
    return path;
}

store::StoreLocation store_location(EnvReader& env, const Config& c, const stdfs::path& cwd) {
    if (auto u = env.text("K9_STORE_URL")) {
        auto store = store::parse_store_url("K9_STORE_URL", *u);
        if (c.bucket && store.kind == store::StoreLocation::Kind::S3 && store.bucket != *c.bucket) {
            throw ConfigError("K9_STORE_URL", "names bucket '" + store.bucket +
                                                  "' but DATABASE_S3_BUCKET is '" + *c.bucket +
                                                  "'; set one of them, or make them agree");
        }
        env.show("K9_STORE_URL", store.url);
        return store;
    }
    if (c.bucket) {
        auto store = store::parse_store_url("DATABASE_S3_BUCKET", "s3://" + *c.bucket);
        env.show("K9_STORE_URL", store.url, "s3://$DATABASE_S3_BUCKET");
        return store;
    }
    auto store =
        store::parse_store_url("K9_STORE_URL", "file://" + (cwd / ".k9" / "store").string());
    env.show("K9_STORE_URL", store.url, "embedded file store (DATABASE_S3_BUCKET is not set)");
    return store;
}

}  // namespace

Config load_config(const EnvLookup& lookup, const stdfs::path& cwd) {
    EnvReader env(lookup);
    Config c;
    if (auto e = env.text("ENVIRONMENT")) {
        if (std::find(std::begin(kEnvironments), std::end(kEnvironments), *e) ==
            std::end(kEnvironments)) {
            throw ConfigError("ENVIRONMENT",
                              "'" + *e + "' is not allowed (allowed: dev, staging, prod)");
        }
        c.environment = *e;
    }
    c.bucket = env.text("DATABASE_S3_BUCKET");
    if (c.bucket) store::check_bucket_name("DATABASE_S3_BUCKET", *c.bucket);
    if (auto k = env.text("DATABASE_S3_KEY")) {
        try {
            store::validate_key(*k);
        } catch (const store::StoreError& e) {
            throw ConfigError("DATABASE_S3_KEY", e.what());
        }
        c.key = *k;
    } else {
        c.key = "databases/k9_api_" + c.environment + ".db";
        env.show("DATABASE_S3_KEY", c.key, "databases/k9_api_${ENVIRONMENT}.db");
    }
    c.db_path = database_path(env, cwd);
    c.store = store_location(env, c, cwd);
    c.s3 = load_s3_settings(env);
    c.durability = load_durability_settings(env);
    c.duckdb = load_duckdb_settings(env);
    c.api = load_api_settings(env, c.durability.journal);
    // Read by the logger and the metrics at their own start; read here to show them.
    env.text("K9_LOG_LEVEL");
    env.text("AWS_LAMBDA_LOG_LEVEL");
    env.text("K9_METRICS");
    c.settings = env.rows();
    if (c.store.kind == store::StoreLocation::Kind::File) {
        for (auto& s : c.settings) {
            if (variable(s.variable).part == "s3") s.source += "; unused: the store is file://";
        }
    }
    return c;
}

}  // namespace k9::config
