// The AWS CLI is the interop peer: what k9 writes, `aws s3 cp` reads byte for byte,
// and a database the AWS CLI uploads is downloaded and opened by k9.
#include <gtest/gtest.h>

#include "db/migrations.hpp"
#include "repo/mutations.hpp"

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/checksum.hpp"
#include "common/hash.hpp"
#include "db/duck.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

class S3InteropTest : public ::testing::Test {
  protected:
    void SetUp() override { moto_.create_bucket(bucket_); }

    test::ProcessResult aws(std::vector<std::string> args) {
        args.insert(args.begin(), {"aws", "--endpoint-url", moto_.endpoint()});
        test::Env env = moto_.aws_env();
        env["AWS_CONFIG_FILE"] = "/dev/null";
        env["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null";
        return test::run_process(args, env);
    }
    test::ProcessResult k9db(std::vector<std::string> args, test::Env extra = {}) {
        args.insert(args.begin(), (test::bin_dir() / "k9db").string());
        test::Env env = moto_.aws_env();
        env["DATABASE_S3_BUCKET"] = bucket_;
        env["DATABASE_S3_KEY"] = key_;
        env["K9_DB_PATH"] = (tmp_ / "managed.db").string();
        for (auto& [k, v] : extra) env[k] = v;
        return test::run_process(args, env, tmp_.path());
    }
    std::filesystem::path make_db(const std::string& name, int rows) {
        const auto path = tmp_ / name;
        duck::Database db(path, {});
        duck::Connection c(db);
        c.execute(
            "CREATE TABLE things AS SELECT range AS id, md5(range::VARCHAR) AS v FROM range(" +
            std::to_string(rows) + ")");
        return path;
    }

    test::Moto& moto_ = test::Moto::instance();
    std::string bucket_ = "k9-interop";
    std::string key_ = "databases/k9_api_" + test::unique_name() + ".db";
    test::TempDir tmp_;
};

TEST_F(S3InteropTest, ADatabaseUploadedByK9dbIsReadByTheAwsCli) {
    const auto db = make_db("small.db", 1000);
    auto up = k9db({"--upload", "--file", db.string()});
    ASSERT_EQ(up.exit_code, 0) << up.err;
    auto cp = aws({"s3", "cp", "s3://" + bucket_ + "/" + key_, (tmp_ / "by-aws.db").string()});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;
    EXPECT_EQ(xxh128_file_hex(tmp_ / "by-aws.db"), xxh128_file_hex(db));
}

TEST_F(S3InteropTest, AMultipartUploadByK9IsReadByTheAwsCli) {
    const std::string data = random_bytes(13 * 1024 * 1024 + 7);
    test::spit(tmp_ / "big.bin", data);
    auto settings = moto_.settings();
    settings.part_size = 5ull << 20;
    settings.multipart_threshold = 5ull << 20;
    auto info = moto_.store(bucket_, "", settings)->put_file(tmp_ / "big.bin", key_);
    ASSERT_NE(info.etag.find('-'), std::string::npos) << "expected a multipart ETag: " << info.etag;
    auto cp = aws({"s3", "cp", "s3://" + bucket_ + "/" + key_, (tmp_ / "back.bin").string()});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;
    EXPECT_EQ(test::slurp(tmp_ / "back.bin"), data);
}

TEST_F(S3InteropTest, ADatabaseUploadedByTheAwsCliIsDownloadedAndOpenedByK9) {
    // Big enough that the AWS CLI uses multipart (its threshold is 8 MB) and k9 ranged GETs.
    const auto db = make_db("from-aws.db", 600000);
    ASSERT_GT(std::filesystem::file_size(db), 9u << 20);
    auto cp = aws({"s3", "cp", db.string(), "s3://" + bucket_ + "/" + key_});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;

    auto d =
        k9db({"--download", "--file", (tmp_ / "k9.db").string()}, {{"K9_S3_PART_SIZE_MB", "5"}});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(xxh128_file_hex(tmp_ / "k9.db"), xxh128_file_hex(db));

    // A cold start of the managed database from it: opened, migrated, queried.
    auto q = k9db({"sql", "SELECT count(*) AS n FROM things"});
    ASSERT_EQ(q.exit_code, 0) << q.err;
    EXPECT_NE(q.out.find("600000"), std::string::npos) << q.out;
    auto st = k9db({"status", "--json"});
    auto j = nlohmann::json::parse(st.out);
    EXPECT_EQ(j["origin"], "downloaded");
    EXPECT_EQ(j["schema_version"], db::latest_schema_version(repo::k9_schema()));
}

TEST_F(S3InteropTest, K9dbRunsTheSeedWorkflowAgainstS3) {
    auto all = k9db({"--all"});
    ASSERT_EQ(all.exit_code, 0) << all.err;
    EXPECT_NE(all.err.find("Database not found in S3: s3://" + bucket_ + "/" + key_),
              std::string::npos)
        << all.err;
    auto ls = aws({"s3", "ls", "s3://" + bucket_ + "/databases/"});
    EXPECT_NE(ls.out.find(key_.substr(std::string("databases/").size())), std::string::npos)
        << ls.out;
    auto w = k9db({"sql", "--user", "u",
                   "INSERT INTO users VALUES ('u', 'U', NULL, NULL, NULL, TIMESTAMP '2024-01-01', "
                   "TIMESTAMP '2024-01-01')"});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    ASSERT_EQ(k9db({"persist"}).exit_code, 0);
    auto v = k9db({"verify"});
    EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
    EXPECT_NE(v.out.find("same data"), std::string::npos) << v.out;
}

TEST_F(S3InteropTest, VersionsAndRestoreOnAVersionedBucket) {
    moto_.create_bucket("k9-interop-versions", true);
    const test::Env env{{"DATABASE_S3_BUCKET", "k9-interop-versions"}};
    ASSERT_EQ(k9db({"--manager"}, env).exit_code, 0);
    ASSERT_EQ(k9db({"sql", "--user", "u",
                    "INSERT INTO users VALUES ('u', 'U', NULL, NULL, NULL, TIMESTAMP '2024-01-01', "
                    "TIMESTAMP '2024-01-01')"},
                   env)
                  .exit_code,
              0);
    ASSERT_EQ(k9db({"persist"}, env).exit_code, 0);
    auto v = k9db({"versions"}, env);
    ASSERT_EQ(v.exit_code, 0) << v.err;
    std::vector<std::string> lines;
    std::istringstream in(v.out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    ASSERT_EQ(lines.size(), 4u) << v.out;
    const std::string oldest = lines[3].substr(0, lines[3].find(' '));
    auto r = k9db({"restore", "--version-id", oldest}, env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto cp =
        aws({"s3", "cp", "s3://k9-interop-versions/" + key_, (tmp_ / "restored.db").string()});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;
    duck::Database db(tmp_ / "restored.db", {{"access_mode", "READ_ONLY"}});
    duck::Connection c(db);
    EXPECT_EQ(c.query("SELECT count(*) FROM users").int64(0, 0), 0)
        << "the restored version predates u";
    EXPECT_EQ(k9db({"versions"}, env).out.find("current") != std::string::npos, true);
}

}  // namespace
}  // namespace k9
