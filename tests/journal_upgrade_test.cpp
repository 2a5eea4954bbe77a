// A store written by k9 before the journal had partitions (tests/fixtures: a snapshot
// plus a single journal whose last four entries are not in it) keeps working: the first
// cold start of this k9 replays the single journal, closes it with an upgrade entry that
// older k9 cannot read, and uploads the first partitioned snapshot. No acknowledged
// write of the old store is lost, on the file store and on S3.
#include <gtest/gtest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "db/journal.hpp"
#include "db/snapshot.hpp"
#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"
#include "support/db_fixture.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

const std::string kKey = "databases/k9_api_dev.db";
constexpr int kSingleJournalEntries = 8;

// What the old store acknowledged: 3 users (carol renamed) and 4 reports.
void expect_every_old_write(db::DatabaseManager& m) {
    m.refresh_all();
    m.read([](duck::Connection& c) {
        EXPECT_EQ(c.query("SELECT count(*) FROM users WHERE user_id IN ('alice', 'bob', 'carol')")
                      .int64(0, 0),
                  3);
        EXPECT_EQ(c.query("SELECT name FROM users WHERE user_id = 'carol'").text(0, 0), "Carol C");
        EXPECT_EQ(c.query("SELECT string_agg(id, ',' ORDER BY id) FROM reports").text(0, 0),
                  "r1,r2,r3,r4");
        return 0;
    });
}

db::ManagerOptions options(const std::filesystem::path& db_path, std::int64_t retention_s = 3600) {
    db::ManagerOptions o;
    o.db_path = db_path;
    o.key = kKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Journal;
    o.journal_retention_s = retention_s;
    return o;
}

class JournalUpgradeTest : public ::testing::Test {
  protected:
    JournalUpgradeTest() {
        const auto r = test::run_process(
            {"tar", "-xzf", std::string(K9_FIXTURES_DIR) + "/single_journal_store.tar.gz", "-C",
             tmp_.path().string()},
            test::base_env());
        EXPECT_EQ(r.exit_code, 0) << r.err;
    }
    std::filesystem::path local(const std::string& name) {
        std::filesystem::create_directories(tmp_ / name);
        return tmp_ / name / "k9.db";
    }
    // The old store's objects, with the metadata k9 gave them, copied into `to` (S3).
    void copy_fixture_to(store::ObjectStore& to) {
        const auto root = tmp_ / "store";
        for (const auto& f : std::filesystem::recursive_directory_iterator(root / "databases")) {
            if (!f.is_regular_file()) continue;
            const std::string key = std::filesystem::relative(f.path(), root).string();
            const auto meta =
                nlohmann::json::parse(test::slurp(root / ".k9store/meta" / (key + ".json")));
            store::PutOptions put;
            for (const auto& [k, v] : meta.at("metadata").items())
                put.metadata[k] = v.get<std::string>();
            to.put_file(f.path(), key, put);
        }
    }

    test::TempDir tmp_;
};

TEST_F(JournalUpgradeTest, TheFirstColdStartConvertsTheStoreAndLosesNothing) {
    auto store = std::make_shared<store::FileStore>(tmp_ / "store");
    ASSERT_FALSE(db::snapshot_partitions(store->head(kKey)))
        << "the fixture is a store of older k9";
    {
        db::DatabaseManager m(options(local("a")), store);
        m.open();
        expect_every_old_write(m);
    }
    const auto snapshot = store->head(kKey);
    ASSERT_TRUE(db::snapshot_partitions(snapshot)) << "the first partitioned snapshot was uploaded";
    EXPECT_EQ(*db::snapshot_partitions(snapshot), db::kDefaultPartitions);
    // The single journal is closed: an entry older k9 cannot read (format 2) ends it.
    db::Journal journal(*store, kKey);
    const auto marker =
        nlohmann::json::parse(store->get_bytes(journal.legacy_key(kSingleJournalEntries + 1)));
    EXPECT_EQ(marker["format"], 2);
    EXPECT_EQ(marker["upgrade"], true);
    // A fresh container reads the partitioned snapshot alone and writes on.
    db::DatabaseManager b(options(local("b")), store);
    expect_every_old_write(b);
    repo::UserRepository(b).upsert_profile("dave", {"Dave", {}, {}, {}});
    db::DatabaseManager c(options(local("c")), store);
    c.refresh("dave");
    EXPECT_TRUE(repo::UserRepository(c).get_user("dave"));
}

TEST_F(JournalUpgradeTest, TwoContainersUpgradingAtOnceAgree) {
    auto store = std::make_shared<store::FileStore>(tmp_ / "store");
    db::DatabaseManager a(options(local("a")), store);
    db::DatabaseManager b(options(local("b")), store);
    std::thread other([&] { b.open(); });
    a.open();
    other.join();
    expect_every_old_write(a);
    expect_every_old_write(b);
    db::Journal journal(*store, kKey);
    EXPECT_EQ(journal.list(-1, 0).size(), static_cast<std::size_t>(kSingleJournalEntries + 1))
        << "one upgrade entry";
}

TEST_F(JournalUpgradeTest, ACompactionRemovesTheSingleJournalOnceTheNewSnapshotIsOld) {
    auto store = std::make_shared<store::FileStore>(tmp_ / "store");
    db::DatabaseManager a(options(local("a"), 0), store);  // retention 0: prunes at once
    a.open();
    repo::UserRepository(a).upsert_profile("dave", {"Dave", {}, {}, {}});
    a.persist();
    db::Journal journal(*store, kKey);
    EXPECT_TRUE(journal.list(-1, 0).empty()) << "the partitioned snapshot holds all of it";
    db::DatabaseManager b(options(local("b")), store);
    expect_every_old_write(b);
}

TEST_F(JournalUpgradeTest, AStoreOfOlderK9OnS3IsConvertedByTheFirstK9db) {
    auto& moto = test::Moto::instance();
    moto.create_bucket("k9-upgrade");
    const std::string prefix = test::unique_name();
    auto s3 = moto.store("k9-upgrade", prefix);
    copy_fixture_to(*s3);
    test::Env env = test::base_env();
    for (auto& [k, v] : moto.aws_env()) env[k] = v;
    env["K9_STORE_URL"] = "s3://k9-upgrade/" + prefix;
    env["K9_DB_PATH"] = local("cli").string();
    env["K9_LOG_LEVEL"] = "WARN";
    const auto r = test::run_process({(test::bin_dir() / "k9db").string(), "sql",
                                      "SELECT count(*) || ' users, ' || (SELECT count(*) FROM "
                                      "reports) || ' reports' FROM users"},
                                     env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("3 users, 4 reports"), std::string::npos) << r.out;
    EXPECT_TRUE(db::snapshot_partitions(s3->head(kKey)));
    db::DatabaseManager m(options(local("s3")), s3);
    expect_every_old_write(m);
}

}  // namespace
}  // namespace k9
