// The journal's promise when the environment misbehaves, with real parts: moto behind a
// proxy that drops the conditional headers (a store that ignores them), faketime for a
// clock hours ahead, a small tmpfs for a full disk, SIGKILL in the middle of a
// compaction, and the k9db / k9-api / bootstrap binaries as users run them.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "db/journal.hpp"
#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"
#include "support/api_harness.hpp"
#include "support/db_fixture.hpp"
#include "support/fake_runtime_api.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "support/tmpfs.hpp"

namespace k9 {
namespace {

using test::is_error;
using test::json_of;
using test::ProcessResult;

const std::string kBucket = "k9-journal-safety";
const std::string kKey = "databases/k9_api_dev.db";

std::string insert_user(const std::string& id) {
    return "INSERT INTO users VALUES ('" + id +
           "', 'x', NULL, NULL, NULL, TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01')";
}

std::string insert_report(const std::string& id, const std::string& user) {
    return "INSERT INTO reports VALUES ('" + id + "', 't', 'a', DATE '2024-01-01', '" + user +
           "', '{}', '[]', TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01')";
}

// Fills the filesystem holding `dir` with one file (appending to it when it exists: space
// freed since, e.g. by a WAL truncated at a checkpoint, is taken again); returns its path.
std::filesystem::path fill_disk(const std::filesystem::path& dir) {
    const auto filler = dir / "filler";
    const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const std::string block(64 * 1024, 'f');
    for (const std::size_t size :
         {block.size(), std::size_t{4096}, std::size_t{512}, std::size_t{1}}) {
        while (::write(fd, block.data(), size) > 0) {
        }
    }
    ::close(fd);
    return filler;
}

class SafetyProcessTest : public ::testing::Test {
  protected:
    // k9db / k9-api on `store_url` (S3 on moto unless it starts with file://).
    test::Env env(const std::string& store_url, const std::string& db_dir,
                  const std::string& endpoint = "") {
        test::Env e = test::base_env();
        if (store_url.rfind("s3://", 0) == 0) {
            for (auto& [k, v] : test::Moto::instance().aws_env()) e[k] = v;
            if (!endpoint.empty()) e["AWS_ENDPOINT_URL_S3"] = endpoint;
        }
        std::filesystem::create_directories(tmp_ / db_dir);
        e["K9_STORE_URL"] = store_url;
        e["K9_DB_PATH"] = (tmp_ / db_dir / "k9.db").string();
        e["K9_LOG_LEVEL"] = "WARN";
        return e;
    }
    ProcessResult k9db(const std::vector<std::string>& args, const test::Env& e,
                       const std::string& clock_offset = "") {
        std::vector<std::string> argv{(test::bin_dir() / "k9db").string()};
        argv.insert(argv.end(), args.begin(), args.end());
        if (!clock_offset.empty())
            return test::run_under_faketime(clock_offset, argv, e, tmp_.path());
        return test::run_process(argv, e, tmp_.path());
    }
    std::string s3_url() {
        test::Moto::instance().create_bucket(kBucket, true);
        return "s3://" + kBucket + "/" + test::unique_name();
    }
    std::shared_ptr<store::ObjectStore> s3_store(const std::string& url) {
        return test::Moto::instance().store(kBucket, url.substr(url.find('/', 5) + 1));
    }

    test::TempDir tmp_;
};

// --- A store that ignores conditional writes -------------------------------------------

class IgnoringStoreTest : public SafetyProcessTest {
  protected:
    void drop(std::vector<std::string> headers) {
        test::FaultRule rule;
        rule.fault = test::Fault::DropHeaders;
        rule.times = -1;
        rule.drop_headers = std::move(headers);
        proxy_.add(rule);
    }
    test::FaultProxy proxy_{test::Moto::instance().port()};
};

TEST_F(IgnoringStoreTest, JournalModeIsRefusedWithExitCode2AndTheWayOut) {
    drop({"if-none-match", "if-match"});
    const std::string url = s3_url();
    const auto e = env(url, "a", proxy_.endpoint());
    const auto r = k9db({"sql", "--user", "u1", insert_user("u1")}, e);
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("ignores If-None-Match"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("K9_DURABILITY=snapshot"), std::string::npos) << r.err;
    EXPECT_TRUE(db::Journal(*s3_store(url), kKey).list_all().empty())
        << "no write reached the journal";

    // k9-api refuses to start the same way.
    const auto serve =
        test::run_process({(test::bin_dir() / "k9-api").string(), "serve", "--port", "0"}, e,
                          tmp_.path(), std::chrono::seconds(60));
    EXPECT_EQ(serve.exit_code, 2) << serve.err;
    EXPECT_NE(serve.err.find("ignores If-None-Match"), std::string::npos) << serve.err;

    // Knowingly in snapshot mode, the store serves.
    auto snapshot = e;
    snapshot["K9_DURABILITY"] = "snapshot";
    const auto w = k9db({"sql", insert_user("u1")}, snapshot);
    EXPECT_EQ(w.exit_code, 0) << w.err;
}

TEST_F(IgnoringStoreTest, AStoreThatIgnoresOnlyIfMatchIsRefusedToo) {
    drop({"if-match"});
    const auto r =
        k9db({"sql", "--user", "u1", insert_user("u1")}, env(s3_url(), "a", proxy_.endpoint()));
    EXPECT_EQ(r.exit_code, 2) << r.err;
    EXPECT_NE(r.err.find("ignores If-Match"), std::string::npos) << r.err;
}

TEST_F(IgnoringStoreTest, OnLambdaItIsAnInitError) {
    drop({"if-none-match", "if-match"});
    test::FakeRuntimeApi api;
    auto e = env(s3_url(), "a", proxy_.endpoint());
    e["AWS_LAMBDA_RUNTIME_API"] = api.endpoint();
    const auto r = test::run_process({(test::bin_dir() / "bootstrap").string()}, e, tmp_.path(),
                                     std::chrono::seconds(60));
    EXPECT_NE(r.exit_code, 0);
    ASSERT_TRUE(api.wait_for_init_errors(1, std::chrono::seconds(5))) << r.err;
    EXPECT_EQ(api.init_errors().front().error_type, "K9.ConfigError");
    EXPECT_NE(api.init_errors().front().body.find("If-None-Match"), std::string::npos);
    EXPECT_EQ(api.next_calls(), 0u) << "no request is served";
}

// --- A clock hours ahead -----------------------------------------------------------------

// The issue's scenario: a server sits at seq 5 of a user's partition; another copy, its
// clock two hours ahead, writes twice for that user and compacts twice with the default
// retention (3600 s). Measured on its own clock the snapshot looked two hours old and the
// journal was pruned at once; the server's next writes then landed at seqs the snapshot
// covered, and were lost.
class SkewedClockTest : public SafetyProcessTest,
                        public ::testing::WithParamInterface<std::string> {};

TEST_P(SkewedClockTest, ACompactionUnderAClockTwoHoursAheadLosesNothing) {
    if (const auto why = test::why_faketime_cannot_run()) GTEST_SKIP() << *why;
    const std::string url = GetParam() == "s3" ? s3_url() : "file://" + (tmp_ / "store").string();
    auto store =
        GetParam() == "s3" ? s3_store(url) : std::make_shared<store::FileStore>(tmp_ / "store");
    db::ManagerOptions o;  // the server, in this process, on the key k9db's configuration gives
    o.db_path = tmp_ / "server.db";
    o.key = kKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Journal;
    db::DatabaseManager m(o, store);
    auto write = [&](const std::string& title) {
        repo::ReportRepository(m).create("victim", {title, "x", "2024-01-01", {{"k", 1}}, {}});
    };
    for (int i = 1; i <= 4; ++i) write("s" + std::to_string(i));
    m.persist();
    write("s5");  // the server sits at seq 5

    const auto other = env(url, "other");
    for (const auto* id : {"o1", "o2"}) {
        const auto w = k9db({"sql", "--user", "victim", insert_report(id, "victim")}, other, "+2h");
        ASSERT_EQ(w.exit_code, 0) << w.err;
    }
    for (int i = 0; i < 2; ++i) {
        const auto p = k9db({"persist"}, other, "+2h");
        ASSERT_EQ(p.exit_code, 0) << p.err;
    }
    EXPECT_EQ(test::journal_entries(*store, kKey).size(), 7u)
        << "a snapshot seconds old on the store's clock";

    for (int i = 6; i <= 8; ++i) write("s" + std::to_string(i));
    const auto count =
        k9db({"sql", "SELECT 'reports=' || count(*) FROM reports"}, env(url, "fresh"));
    ASSERT_EQ(count.exit_code, 0) << count.err;
    EXPECT_NE(count.out.find("reports=10"), std::string::npos)
        << "8 of the server's and 2 of the other's:\n"
        << count.out;
}

INSTANTIATE_TEST_SUITE_P(Stores, SkewedClockTest, ::testing::Values("file", "s3"));

// --- A full disk -------------------------------------------------------------------------

class FullDiskTest : public test::ApiTest {
  protected:
    FullDiskTest() : disk_(3u << 20) {}
    test::Tmpfs disk_;
};

TEST_F(FullDiskTest, EveryAcknowledgedWriteSurvivesAndTheCopyHealsWhenSpaceReturns) {
    if (!disk_.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk_.why_not();
    auto vars = env();
    vars["K9_DB_PATH"] = (disk_ / "k9.db").string();
    start(vars);
    std::vector<std::string> acknowledged;
    for (int i = 0; i < 20; ++i)
        acknowledged.push_back(create_report("before " + std::to_string(i)));
    const auto filler = fill_disk(disk_.path());
    int refused = 0, unhealthy_seen = 0;
    for (int i = 0; i < 40; ++i) {
        fill_disk(disk_.path());  // full before every write, whatever the copy freed
        const auto r = post("/reports", report_body("full " + std::to_string(i)));
        ASSERT_TRUE(r.status == 201 || r.status == 503) << r.status << " " << r.body;
        if (r.status == 201) {
            acknowledged.push_back(json_of(r)["id"]);
        } else {
            ++refused;
            EXPECT_TRUE(is_error(r, 503, "local_copy_unusable")) << r.body;
            // The copy may heal at any moment (the failed commit's WAL gives space back), and
            // only that way: from unhealthy to healthy. So each answer below may be healthy
            // only if every later one is.
            const auto anonymous = get("/health", "");
            const auto h = get("/health", test::kAdmin);
            const auto read = get("/reports");
            ASSERT_TRUE(read.status == 200 || is_error(read, 503, "local_copy_unusable"))
                << "reads fail cleanly too, never a 500: " << read.body;
            if (h.status == 503) {
                ++unhealthy_seen;
                EXPECT_EQ(json_of(h)["database"]["problem"]["code"], "local_copy_unusable")
                    << h.body;
            } else {
                EXPECT_EQ(read.status, 200)
                    << "health must tell the truth while requests fail: " << h.body;
            }
            if (anonymous.status != 503) {
                EXPECT_EQ(h.status, 200) << "to anonymous callers too: " << anonymous.body;
            }
        }
    }
    EXPECT_GT(refused, 0) << "the disk never filled: the test proves nothing";
    EXPECT_GT(unhealthy_seen, 0) << "/health never saw the unusable copy: the test proves nothing";
    std::filesystem::remove(filler);
    std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // past the reload back-off
    const auto after = get("/reports?limit=100");
    ASSERT_EQ(after.status, 200) << "the copy reloads once there is space: " << after.body;
    EXPECT_EQ(get("/health", "").status, 200);
    acknowledged.push_back(create_report("after"));
    // A fresh copy elsewhere holds every acknowledged write.
    auto& fresh = start(env("fresh"));
    fresh.manager().refresh_all();
    auto fresh_reports = fresh.manager().read(
        [](duck::Connection& c) { return c.query("SELECT count(*) FROM reports").int64(0, 0); });
    EXPECT_EQ(fresh_reports, static_cast<std::int64_t>(acknowledged.size()));
}

TEST_F(SafetyProcessTest, AColdStartIntoADiskTooSmallSaysSoAndHowMuchItNeeds) {
    test::Tmpfs small(1u << 20);
    if (!small.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << small.why_not();
    for (const std::string& url : {"file://" + (tmp_ / "store").string(), s3_url()}) {
        auto big = env(url, "big");
        big["K9_DURABILITY"] = "snapshot";  // a write of the whole database
        // About 3 MB of data.
        auto w = k9db({"sql",
                       "CREATE TABLE filler AS SELECT range AS id, md5(range::VARCHAR) || "
                       "md5((range+1)::VARCHAR) AS "
                       "pad FROM range(60000)"},
                      big);
        ASSERT_EQ(w.exit_code, 0) << w.err;
        ASSERT_EQ(k9db({"persist"}, big).exit_code, 0);
        auto e = env(url, "unused");
        e["K9_DB_PATH"] = (small / "k9.db").string();
        const auto r = k9db({"sql", "SELECT count(*) FROM filler"}, e);  // a cold start
        EXPECT_EQ(r.exit_code, 1) << r.err;
        EXPECT_NE(r.err.find("not enough disk space"), std::string::npos) << r.err;
        EXPECT_NE(r.err.find("the snapshot is"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("ended early"), std::string::npos) << r.err;
        EXPECT_FALSE(std::filesystem::exists(small / "k9.db")) << "nothing installed";
        std::filesystem::remove_all(tmp_ / "big");
    }
}

// --- Leftovers of a killed process ------------------------------------------------------

TEST_F(SafetyProcessTest, TempFilesOfAKilledCompactionAreRemovedByTheNextStart) {
    const auto e = env("file://" + (tmp_ / "store").string(), "a");
    ASSERT_EQ(k9db({"sql", "--user", "u1", insert_user("u1")}, e).exit_code, 0);
    auto crash = e;
    crash["K9_TEST_CRASH_POINTS"] = "snapshot.upload:1";
    const auto killed = k9db({"persist"}, crash);
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;
    auto leftovers = [&] {
        int n = 0;
        for (const auto& f : std::filesystem::directory_iterator(tmp_ / "a")) {
            if (f.path().extension() == ".tmp") ++n;
        }
        return n;
    };
    ASSERT_GE(leftovers(), 1) << "the kill left the snapshot copy behind";
    ASSERT_EQ(k9db({"status"}, e).exit_code, 0);
    EXPECT_EQ(leftovers(), 0) << "a start removes the temp files of dead processes";
}

// --- k9db verify -------------------------------------------------------------------------

TEST_F(SafetyProcessTest, VerifyFindsAHoleInTheJournal) {
    const std::string dir = (tmp_ / "store").string();
    const auto e = env("file://" + dir, "a");
    for (int i = 1; i <= 4; ++i) {
        ASSERT_EQ(
            k9db({"sql", "--user", "u", insert_report("r" + std::to_string(i), "u")}, e).exit_code,
            0);
    }
    auto ok = k9db({"verify"}, e);
    EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_NE(ok.out.find("4 entries"), std::string::npos) << ok.out;
    store::FileStore store(tmp_ / "store");
    store.remove(db::Journal(store, kKey).key(test::partition_of("u"), 2));
    const auto bad = k9db({"verify"}, e);
    EXPECT_EQ(bad.exit_code, 1) << bad.out;
    EXPECT_NE(bad.out.find("missing entry 2"), std::string::npos) << bad.out;
}

// --- Quiet errors ------------------------------------------------------------------------

class QuietErrorTest : public test::ApiTest {};

TEST_F(QuietErrorTest, ADamagedNextEntryIs503WithoutDetailsAndHealthSaysWhy) {
    create_report("one");
    store::FileStore store(tmp_ / "store");
    store::PutOptions create;
    create.precondition = store::Precondition::if_none_match_any();
    const db::Journal journal(store, test::kSnapshotKey);
    const int partition = test::partition_of(test::kUserA);
    store.put_bytes("{\"format\": 2, \"garbage", journal.key(partition, 2), create);
    const auto r = get("/reports");
    EXPECT_TRUE(is_error(r, 503, "journal_corrupt")) << r.body;
    for (const std::string& secret :
         {std::string("journal/"), (tmp_ / "store").string(), std::string("parse")}) {
        EXPECT_EQ(r.body.find(secret), std::string::npos)
            << "'" << secret << "' leaked: " << r.body;
    }
    EXPECT_NE(r.body.find("req-"), std::string::npos)
        << "the request id, to find the details in the log: " << r.body;
    const auto h = get("/health", test::kAdmin);
    EXPECT_EQ(h.status, 503);
    EXPECT_EQ(json_of(h)["status"], "unhealthy");
    EXPECT_EQ(get("/health", "").body, R"({"status":"unhealthy"})");
    EXPECT_EQ(json_of(h)["database"]["problem"]["code"], "journal_corrupt");
    EXPECT_EQ(h.body.find("journal/"), std::string::npos) << h.body;
    store.remove(journal.key(partition, 2));
    EXPECT_EQ(get("/reports").status, 200);
    EXPECT_EQ(get("/health", "").status, 200);
}

}  // namespace
}  // namespace k9
