// The k9db binary end to end on the embedded file store: the seed's flags, the
// subcommands, exit codes, and what it refuses to do.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/hash.hpp"
#include "db/duck.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

using test::ProcessResult;

class K9dbTest : public ::testing::Test {
  protected:
    K9dbTest() {
        env_ = test::base_env();
        env_["K9_DB_PATH"] = (tmp_ / "k9_api.db").string();
        env_["K9_STORE_URL"] = "file://" + (tmp_ / "store").string();
    }
    ProcessResult k9db(std::vector<std::string> args, test::Env extra = {}) {
        args.insert(args.begin(), (test::bin_dir() / "k9db").string());
        test::Env env = env_;
        for (auto& [k, v] : extra) env[k] = v;
        return test::run_process(args, env, tmp_.path());
    }
    std::filesystem::path object() const { return tmp_ / "store/databases/k9_api_dev.db"; }
    // A small DuckDB database file with one table.
    std::filesystem::path make_db(const std::string& name, int rows) {
        const auto path = tmp_ / name;
        duck::Database db(path, {});
        duck::Connection c(db);
        c.execute("CREATE TABLE things (id INTEGER)");
        c.execute("INSERT INTO things SELECT range FROM range(" + std::to_string(rows) + ")");
        return path;
    }

    // Another copy (its own local file) writes and persists, moving the snapshot on.
    ::testing::AssertionResult other_copy_persists() {
        const test::Env other{{"K9_DB_PATH", (tmp_ / "other.db").string()}};
        auto w = k9db({"sql", "--user", "theirs",
                       "INSERT INTO users VALUES ('theirs', 'Them', NULL, NULL, NULL, "
                       "TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01')"},
                      other);
        if (w.exit_code != 0)
            return ::testing::AssertionFailure() << "the other copy's write failed: " << w.err;
        auto p = k9db({"persist"}, other);
        if (p.exit_code != 0)
            return ::testing::AssertionFailure() << "the other copy's persist failed: " << p.err;
        return ::testing::AssertionSuccess();
    }

    test::TempDir tmp_;
    test::Env env_;
};

TEST_F(K9dbTest, HelpListsFlagsAndExitCodes) {
    auto r = k9db({"--help"});
    EXPECT_EQ(r.exit_code, 0);
    for (const char* s : {"--config", "--download", "--upload", "--file", "--manager", "--all",
                          "status", "persist", "sql", "verify", "3  persist conflict"}) {
        EXPECT_NE(r.out.find(s), std::string::npos) << s;
    }
}

TEST_F(K9dbTest, ConfigShowsValuesAndSources) {
    auto r = k9db({"--config"}, {{"ENVIRONMENT", "staging"}});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("databases/k9_api_staging.db"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("K9_STORE_URL"), std::string::npos);
}

TEST_F(K9dbTest, ConfigKeepsEveryVariableApartFromItsValue) {
    auto r = k9db({"--config"}, {{"K9_S3_PARALLEL_BELOW_MBPS", "0"}});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> rows;
    std::istringstream in(r.out);
    for (std::string l; std::getline(in, l);) {
        if (l.rfind("  ", 0) == 0) rows.push_back(l);
    }
    ASSERT_GT(rows.size(), 5u) << r.out;
    // The values start in one column, two spaces or more after the longest variable.
    const std::string retention = "  K9_JOURNAL_RETENTION  ";
    std::size_t column = std::string::npos;
    for (const auto& row : rows) {
        if (row.rfind(retention, 0) == 0) column = row.find_first_not_of(' ', retention.size());
    }
    ASSERT_NE(column, std::string::npos) << "no separated K9_JOURNAL_RETENTION row:\n" << r.out;
    for (const auto& row : rows) {
        ASSERT_GT(row.size(), column) << row;
        EXPECT_EQ(row.substr(column - 2, 2), "  ") << row;
        EXPECT_NE(row[column], ' ') << row;
    }
    EXPECT_EQ(r.out.find("K9_JOURNAL_RETENTION3600"), std::string::npos) << r.out;
}

TEST_F(K9dbTest, BadConfigurationExitsTwoNamingTheVariable) {
    auto r = k9db({"--config"}, {{"ENVIRONMENT", "qa"}});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("ENVIRONMENT"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("dev, staging, prod"), std::string::npos) << r.err;
}

TEST_F(K9dbTest, UsageErrorsExitTwo) {
    EXPECT_EQ(k9db({}).exit_code, 2);
    EXPECT_EQ(k9db({"--upload"}).exit_code, 2);
    EXPECT_EQ(k9db({"--no-such-flag"}).exit_code, 2);
    EXPECT_EQ(k9db({"--force", "--download"}).exit_code, 2);
}

TEST_F(K9dbTest, AllOnAnEmptyStoreCreatesAndPersistsThenDownloadWorks) {
    auto r = k9db({"--all"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.err.find("Database not found in the file store"), std::string::npos);
    EXPECT_NE(r.out.find("users"), std::string::npos) << r.out;
    // Journal mode (the default): the new database's empty snapshot is made at the cold
    // start, so the persist finds nothing new; snapshot mode persists it then.
    EXPECT_TRUE(r.out.find("Persisted") != std::string::npos ||
                r.out.find("Nothing to persist") != std::string::npos)
        << r.out;
    ASSERT_TRUE(std::filesystem::exists(object()));

    auto d = k9db({"--download", "--file", (tmp_ / "copy.db").string()});
    EXPECT_EQ(d.exit_code, 0) << d.err;
    EXPECT_NE(d.out.find("bytes"), std::string::npos) << d.out;
    EXPECT_EQ(sha256_file_hex(tmp_ / "copy.db"), sha256_file_hex(object()));
}

TEST_F(K9dbTest, DownloadOfAMissingSnapshotFails) {
    auto r = k9db({"--download", "--file", (tmp_ / "x.db").string()});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("Database not found"), std::string::npos);
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "x.db"));
}

TEST_F(K9dbTest, UploadRefusesNonDatabasesAndExistingSnapshotsUnlessForced) {
    test::spit(tmp_ / "notes.txt", "not a database at all, not even close");
    auto bad = k9db({"--upload", "--file", (tmp_ / "notes.txt").string()});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.err.find("not a DuckDB database"), std::string::npos) << bad.err;
    EXPECT_FALSE(std::filesystem::exists(object()));

    const auto one = make_db("one.db", 10);
    ASSERT_EQ(k9db({"--upload", "--file", one.string()}).exit_code, 0);
    const std::string first = sha256_file_hex(object());

    const auto two = make_db("two.db", 20);
    auto refused = k9db({"--upload", "--file", two.string()});
    EXPECT_EQ(refused.exit_code, 1);
    EXPECT_NE(refused.err.find("--force"), std::string::npos) << refused.err;
    EXPECT_EQ(sha256_file_hex(object()), first);

    auto forced = k9db({"--upload", "--file", two.string(), "--force"});
    EXPECT_EQ(forced.exit_code, 0) << forced.err;
    // In journal mode the replacement is recorded in the copy's k9_meta: compare data.
    ASSERT_EQ(k9db({"--download", "--file", (tmp_ / "back.db").string()}).exit_code, 0);
    duck::Database db(tmp_ / "back.db", {{"access_mode", "READ_ONLY"}});
    duck::Connection c(db);
    EXPECT_EQ(c.query("SELECT count(*) FROM things").int64(0, 0), 20);
}

TEST_F(K9dbTest, UploadFoldsTheWalInFirst) {
    const auto path = tmp_ / "live.db";
    {
        duck::Database db(path, {});
        duck::Connection c(db);
        c.execute("CREATE TABLE t (x INTEGER)");
        c.execute("CHECKPOINT");
        c.execute("INSERT INTO t VALUES (42)");
        // Copy the files as they are now, while the commit sits in the WAL.
        std::filesystem::copy_file(path, tmp_ / "copy.db");
        std::filesystem::copy_file(path.string() + ".wal", tmp_ / "copy.db.wal");
    }
    ASSERT_GT(std::filesystem::file_size(tmp_ / "copy.db.wal"), 0u);
    auto r = k9db({"--upload", "--file", (tmp_ / "copy.db").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    auto d = k9db({"--download", "--file", (tmp_ / "back.db").string()});
    ASSERT_EQ(d.exit_code, 0) << d.err;
    duck::Database db(tmp_ / "back.db", {{"access_mode", "READ_ONLY"}});
    duck::Connection c(db);
    EXPECT_EQ(c.query("SELECT count(*) FROM t WHERE x = 42").int64(0, 0), 1);
}

TEST_F(K9dbTest, SqlWritesArePendingUntilPersist) {
    env_["K9_DURABILITY"] = "snapshot";
    ASSERT_EQ(k9db({"--manager"}).exit_code, 0);
    auto w = k9db({"sql",
                   "INSERT INTO users VALUES ('u1', 'Ann', NULL, NULL, NULL, TIMESTAMP "
                   "'2024-01-01', TIMESTAMP '2024-01-01')"});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    EXPECT_NE(w.out.find("1 pending write"), std::string::npos) << w.out;
    auto st = k9db({"status", "--json"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    auto j = nlohmann::json::parse(st.out);
    EXPECT_EQ(j["pending_writes"], 1);
    EXPECT_NE(j["remote_etag"], nullptr);
    auto q = k9db({"sql", "SELECT name FROM users"});
    EXPECT_NE(q.out.find("Ann"), std::string::npos) << q.out;
    auto p = k9db({"persist"});
    EXPECT_EQ(p.exit_code, 0) << p.err;
    EXPECT_NE(p.out.find("Persisted 1 pending write"), std::string::npos) << p.out;
    EXPECT_EQ(nlohmann::json::parse(k9db({"status", "--json"}).out)["pending_writes"], 0);
    EXPECT_NE(k9db({"persist"}).out.find("Nothing to persist"), std::string::npos);
}

TEST_F(K9dbTest, SqlWritesInJournalModeNameTheirUser) {
    auto refused = k9db({"sql",
                         "INSERT INTO users VALUES ('u1', 'Ann', NULL, NULL, NULL, TIMESTAMP "
                         "'2024-01-01', TIMESTAMP '2024-01-01')"});
    EXPECT_EQ(refused.exit_code, 2);
    EXPECT_NE(refused.err.find("--user"), std::string::npos) << refused.err;
    auto w = k9db({"sql", "--user", "u1",
                   "INSERT INTO users VALUES ('u1', 'Ann', NULL, NULL, NULL, TIMESTAMP "
                   "'2024-01-01', TIMESTAMP '2024-01-01')"});
    ASSERT_EQ(w.exit_code, 0) << w.err;
    EXPECT_NE(w.out.find("in the journal (partition "), std::string::npos) << w.out;
    // Another container (its own local file) sees it at once: a read catches up first.
    auto q =
        k9db({"sql", "SELECT name FROM users"}, {{"K9_DB_PATH", (tmp_ / "other.db").string()}});
    EXPECT_NE(q.out.find("Ann"), std::string::npos) << q.out;
}

TEST_F(K9dbTest, SqlRefusesTransactionControl) {
    auto r = k9db({"sql", "BEGIN; DELETE FROM users; COMMIT"});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("own transaction"), std::string::npos) << r.err;
}

TEST_F(K9dbTest, PersistConflictExitsThree) {
    env_["K9_DURABILITY"] = "snapshot";  // in journal mode a persist never conflicts
    ASSERT_EQ(k9db({"--manager"}).exit_code, 0);
    ASSERT_EQ(k9db({"sql",
                    "INSERT INTO users VALUES ('mine', 'Me', NULL, NULL, NULL, TIMESTAMP "
                    "'2024-01-01', TIMESTAMP '2024-01-01')"})
                  .exit_code,
              0);
    // Another container persists first.
    auto other = k9db({"sql",
                       "INSERT INTO users VALUES ('theirs', 'Them', NULL, NULL, NULL, TIMESTAMP "
                       "'2024-01-01', TIMESTAMP '2024-01-01')"},
                      {{"K9_DB_PATH", (tmp_ / "other.db").string()}});
    ASSERT_EQ(other.exit_code, 0) << other.err;
    ASSERT_EQ(k9db({"persist"}, {{"K9_DB_PATH", (tmp_ / "other.db").string()}}).exit_code, 0);
    const std::string theirs = sha256_file_hex(object());
    auto p = k9db({"persist"});
    EXPECT_EQ(p.exit_code, 3);
    EXPECT_NE(p.err.find("Nothing was overwritten"), std::string::npos) << p.err;
    EXPECT_EQ(sha256_file_hex(object()), theirs);
    auto st = nlohmann::json::parse(k9db({"status", "--json"}).out);
    EXPECT_EQ(st["pending_writes"], 1);
    EXPECT_NE(st["remote_etag"], st["remote_now"]);
}

TEST_F(K9dbTest, StatusInJournalModeNeverPredictsAConflict) {
    ASSERT_EQ(k9db({"--manager"}).exit_code, 0);  // journal, the default
    ASSERT_EQ(k9db({"sql", "--user", "mine",
                    "INSERT INTO users VALUES ('mine', 'Me', NULL, NULL, NULL, TIMESTAMP "
                    "'2024-01-01', TIMESTAMP '2024-01-01')"})
                  .exit_code,
              0);
    ASSERT_TRUE(other_copy_persists());
    auto st = k9db({"status"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    EXPECT_NE(st.out.find("journal"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("another copy compacted"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("never conflicts"), std::string::npos) << st.out;
    EXPECT_EQ(st.out.find("will conflict"), std::string::npos) << st.out;
    EXPECT_EQ(k9db({"persist"}).exit_code, 0);  // and indeed it does not
}

TEST_F(K9dbTest, StatusInSnapshotModeSaysAPersistWillConflict) {
    env_["K9_DURABILITY"] = "snapshot";
    ASSERT_EQ(k9db({"--manager"}).exit_code, 0);
    ASSERT_EQ(k9db({"sql",
                    "INSERT INTO users VALUES ('mine', 'Me', NULL, NULL, NULL, TIMESTAMP "
                    "'2024-01-01', TIMESTAMP '2024-01-01')"})
                  .exit_code,
              0);
    ASSERT_TRUE(other_copy_persists());
    auto st = k9db({"status"});
    ASSERT_EQ(st.exit_code, 0) << st.err;
    EXPECT_NE(st.out.find("snapshot (writes stay in the local file"), std::string::npos) << st.out;
    EXPECT_NE(st.out.find("persist will conflict"), std::string::npos) << st.out;
    EXPECT_EQ(k9db({"persist"}).exit_code, 3);  // and indeed it does
}

TEST_F(K9dbTest, VerifyReportsHealthyAndDamagedSnapshots) {
    ASSERT_EQ(k9db({"--manager"}).exit_code, 0);
    auto ok = k9db({"verify"});
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("same data"), std::string::npos) << ok.out;

    std::string bytes = test::slurp(object());
    bytes[bytes.size() - 10] ^= 0x01;
    FILE* f = std::fopen(object().c_str(), "r+b");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    auto bad = k9db({"verify"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_NE(bad.out.find("DAMAGED"), std::string::npos) << bad.out;
}

TEST_F(K9dbTest, VersionsAndRestoreOnAVersionedFileStore) {
    env_["K9_DURABILITY"] = "snapshot";
    const test::Env versioned{
        {"K9_STORE_URL", "file://" + (tmp_ / "store").string() + "?versions=on"}};
    ASSERT_EQ(k9db({"--manager"}, versioned).exit_code, 0);
    ASSERT_EQ(k9db({"sql",
                    "INSERT INTO users VALUES ('u1', 'Ann', NULL, NULL, NULL, TIMESTAMP "
                    "'2024-01-01', TIMESTAMP '2024-01-01')"},
                   versioned)
                  .exit_code,
              0);
    ASSERT_EQ(k9db({"persist"}, versioned).exit_code, 0);
    auto v = k9db({"versions"}, versioned);
    ASSERT_EQ(v.exit_code, 0) << v.err;
    // Two versions: the empty database, then the one with Ann. The older is the last line.
    std::vector<std::string> lines;
    std::istringstream in(v.out);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    ASSERT_EQ(lines.size(), 4u) << v.out;
    EXPECT_NE(lines[2].find("current"), std::string::npos) << v.out;
    const std::string oldest = lines[3].substr(0, lines[3].find(' '));

    auto r = k9db({"restore", "--version-id", oldest}, versioned);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("Restored version " + oldest), std::string::npos) << r.out;
    auto d = k9db({"--download", "--file", (tmp_ / "restored.db").string()}, versioned);
    ASSERT_EQ(d.exit_code, 0) << d.err;
    duck::Database db(tmp_ / "restored.db", {{"access_mode", "READ_ONLY"}});
    duck::Connection c(db);
    EXPECT_EQ(c.query("SELECT count(*) FROM users").int64(0, 0), 0)
        << "the restored version predates Ann";
    EXPECT_EQ(k9db({"restore", "--version-id", "no-such-version"}, versioned).exit_code, 1);
    // The restore moved the snapshot under the local database: its next persist conflicts.
    ASSERT_EQ(k9db({"sql", "DELETE FROM users"}, versioned).exit_code, 0);
    EXPECT_EQ(k9db({"persist"}, versioned).exit_code, 3);
}

TEST_F(K9dbTest, PipedOutputHasNoProgressLines) {
    ASSERT_EQ(k9db({"--manager"}).exit_code, 0);
    auto d = k9db({"--download", "--file", (tmp_ / "x.db").string()});
    ASSERT_EQ(d.exit_code, 0);
    EXPECT_EQ(d.err.find('\r'), std::string::npos);
    EXPECT_EQ(d.out.find('\r'), std::string::npos);
}

TEST_F(K9dbTest, ResultsGoToStdoutAndLogsAreJsonLinesOnStderr) {
    auto r = k9db({"--all"});
    ASSERT_EQ(r.exit_code, 0);
    std::istringstream lines(r.err);
    std::string line;
    int n = 0;
    while (std::getline(lines, line)) {
        auto j = nlohmann::json::parse(line);  // throws if not JSON
        EXPECT_TRUE(j.contains("timestamp") && j.contains("level") && j.contains("message"))
            << line;
        ++n;
    }
    EXPECT_GT(n, 0);
    EXPECT_EQ(r.out.find("\"level\""), std::string::npos);
}

}  // namespace
}  // namespace k9
