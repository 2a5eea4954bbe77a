#include <gtest/gtest.h>

#include "config/config.hpp"

namespace k9 {
namespace {

using config::load_config;
using store::StoreLocation;

std::string failing_variable(std::map<std::string, std::string> vars) {
    try {
        load_config(map_env(std::move(vars)), "/work");
    } catch (const ConfigError& e) {
        EXPECT_NE(std::string(e.what()).find(e.variable), std::string::npos);
        return e.variable;
    }
    return "(no error)";
}

TEST(Config, DefaultsAreTheEmbeddedStoreAndTheSeedNames) {
    auto c = load_config(map_env({}), "/work");
    EXPECT_EQ(c.environment, "dev");
    EXPECT_EQ(c.key, "databases/k9_api_dev.db");
    EXPECT_EQ(c.db_path, "/tmp/k9_api.db");
    EXPECT_EQ(c.store.kind, StoreLocation::Kind::File);
    EXPECT_EQ(c.store.dir, "/work/.k9/store");
    EXPECT_FALSE(c.bucket);
}

TEST(Config, EnvironmentNamesTheDefaultKey) {
    auto c = load_config(map_env({{"ENVIRONMENT", "prod"}}), "/work");
    EXPECT_EQ(c.key, "databases/k9_api_prod.db");
}

TEST(Config, BucketMakesS3TheDefaultStore) {
    auto c = load_config(map_env({{"DATABASE_S3_BUCKET", "my-bucket"}}), "/work");
    EXPECT_EQ(c.store.kind, StoreLocation::Kind::S3);
    EXPECT_EQ(c.store.bucket, "my-bucket");
    EXPECT_EQ(c.store.prefix, "");
    EXPECT_EQ(c.store.url, "s3://my-bucket");
}

TEST(Config, StoreUrlWinsAndMayCarryAPrefix) {
    auto c = load_config(
        map_env({{"K9_STORE_URL", "s3://b-1/some/prefix/"}, {"DATABASE_S3_KEY", "x/y.db"}}), "/");
    EXPECT_EQ(c.store.bucket, "b-1");
    EXPECT_EQ(c.store.prefix, "some/prefix");
    EXPECT_EQ(c.key, "x/y.db");
    auto f = load_config(map_env({{"K9_STORE_URL", "file:///var/lib/k9/?versions=on"}}), "/");
    EXPECT_EQ(f.store.dir, "/var/lib/k9");
    EXPECT_TRUE(f.store.keep_versions);
}

TEST(Config, RelativeDbPathIsMadeAbsolute) {
    auto c = load_config(map_env({{"K9_DB_PATH", "data/k9.db"}}), "/work");
    EXPECT_EQ(c.db_path, "/work/data/k9.db");
}

TEST(Config, EmptyValuesCountAsUnset) {
    auto c = load_config(map_env({{"ENVIRONMENT", ""}, {"DATABASE_S3_BUCKET", ""}}), "/work");
    EXPECT_EQ(c.environment, "dev");
    EXPECT_EQ(c.store.kind, StoreLocation::Kind::File);
}

TEST(Config, BadValuesNameTheirVariable) {
    EXPECT_EQ(failing_variable({{"ENVIRONMENT", "production"}}), "ENVIRONMENT");
    EXPECT_EQ(failing_variable({{"DATABASE_S3_BUCKET", "Bad_Bucket"}}), "DATABASE_S3_BUCKET");
    EXPECT_EQ(failing_variable({{"DATABASE_S3_BUCKET", "ab"}}), "DATABASE_S3_BUCKET");
    EXPECT_EQ(failing_variable({{"DATABASE_S3_KEY", "/abs/key.db"}}), "DATABASE_S3_KEY");
    EXPECT_EQ(failing_variable({{"DATABASE_S3_KEY", "a//b.db"}}), "DATABASE_S3_KEY");
    EXPECT_EQ(failing_variable({{"K9_STORE_URL", "http://example"}}), "K9_STORE_URL");
    EXPECT_EQ(failing_variable({{"K9_STORE_URL", "file://relative/dir"}}), "K9_STORE_URL");
    EXPECT_EQ(failing_variable({{"K9_STORE_URL", "file:///x?color=blue"}}), "K9_STORE_URL");
    EXPECT_EQ(failing_variable({{"K9_STORE_URL", "s3://"}}), "K9_STORE_URL");
    EXPECT_EQ(failing_variable({{"K9_STORE_URL", "s3://other"}, {"DATABASE_S3_BUCKET", "mine"}}),
              "K9_STORE_URL");
    EXPECT_EQ(failing_variable({{"K9_DB_PATH", "/tmp"}}), "K9_DB_PATH");
    EXPECT_EQ(failing_variable({{"K9_DB_PATH", "/tmp/dir/"}}), "K9_DB_PATH");
}

// DuckDB gets one thread by default, and half of a Lambda function's memory there.
TEST(Config, DuckDbIsSizedForTheFunctionAndCanBeOverridden) {
    const auto plain = load_config(map_env({}), "/work");
    EXPECT_EQ(plain.duckdb.threads, 1);
    EXPECT_EQ(plain.duckdb.memory_limit_mb, 0) << "DuckDB's own default off Lambda";
    for (const auto& [function_mb, expected] : std::vector<std::pair<std::string, std::int64_t>>{
             {"128", 64}, {"512", 256}, {"1024", 512}}) {
        const auto lambda =
            load_config(map_env({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", function_mb}}), "/work");
        EXPECT_EQ(lambda.duckdb.memory_limit_mb, expected) << function_mb;
    }
    const auto set = load_config(map_env({{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"},
                                          {"K9_DUCKDB_MEMORY_LIMIT", "100"},
                                          {"K9_DUCKDB_THREADS", "4"}}),
                                 "/work");
    EXPECT_EQ(set.duckdb.memory_limit_mb, 100);
    EXPECT_EQ(set.duckdb.threads, 4);
    EXPECT_EQ(failing_variable({{"K9_DUCKDB_THREADS", "0"}}), "K9_DUCKDB_THREADS");
    EXPECT_EQ(failing_variable({{"K9_DUCKDB_MEMORY_LIMIT", "1"}}), "K9_DUCKDB_MEMORY_LIMIT");
    EXPECT_EQ(failing_variable({{"K9_DUCKDB_MEMORY_LIMIT", "lots"}}), "K9_DUCKDB_MEMORY_LIMIT");
}

TEST(Config, JournalRetentionBelowTheMinimumIsRefusedWithTheReason) {
    for (const std::string value : {"0", "1", "59", "-5"}) {
        SCOPED_TRACE(value);
        try {
            load_config(map_env({{"K9_JOURNAL_RETENTION", value}}), "/work");
            ADD_FAILURE() << "accepted";
        } catch (const ConfigError& e) {
            const std::string message = e.what();
            EXPECT_EQ(e.variable, "K9_JOURNAL_RETENTION");
            EXPECT_NE(message.find("minimum of " + std::to_string(config::kMinJournalRetentionS)),
                      std::string::npos)
                << message;
            EXPECT_NE(message.find("fencing check"), std::string::npos) << message;
        }
    }
    EXPECT_EQ(failing_variable({{"K9_JOURNAL_RETENTION", "soon"}}), "K9_JOURNAL_RETENTION");
    EXPECT_EQ(failing_variable({{"K9_JOURNAL_RETENTION", "2592001"}}), "K9_JOURNAL_RETENTION");
    // Snapshot mode does not use the retention, but a wrong value is still wrong.
    EXPECT_EQ(failing_variable({{"K9_DURABILITY", "snapshot"}, {"K9_JOURNAL_RETENTION", "0"}}),
              "K9_JOURNAL_RETENTION");
}

TEST(Config, JournalRetentionAcceptsTheMinimumAndDefaultsToAnHour) {
    EXPECT_EQ(load_config(map_env({}), "/work").durability.retention_s, 3600);
    const auto c = load_config(
        map_env({{"K9_JOURNAL_RETENTION", std::to_string(config::kMinJournalRetentionS)}}),
        "/work");
    EXPECT_EQ(c.durability.retention_s, config::kMinJournalRetentionS);
    EXPECT_EQ(
        load_config(map_env({{"K9_JOURNAL_RETENTION", "2592000"}}), "/work").durability.retention_s,
        2592000);
}

TEST(Config, SettingsSayWhereEachValueCameFrom) {
    auto c = load_config(map_env({{"ENVIRONMENT", "staging"}}), "/work");
    bool saw_env = false, saw_default_key = false;
    for (const auto& s : c.settings) {
        if (s.variable == "ENVIRONMENT")
            saw_env = s.source == "environment" && s.value == "staging";
        if (s.variable == "DATABASE_S3_KEY") saw_default_key = s.source.rfind("default", 0) == 0;
    }
    EXPECT_TRUE(saw_env);
    EXPECT_TRUE(saw_default_key);
}

}  // namespace
}  // namespace k9
