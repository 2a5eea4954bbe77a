// Journal mode: every acknowledged write is in the store's journal before the answer;
// writers share one history; cold start = snapshot + replay; compaction; fencing.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "db/journal.hpp"
#include "db/replace_snapshot.hpp"
#include "db/snapshot.hpp"
#include "db/sql_determinism.hpp"
#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"
#include "support/db_fixture.hpp"
#include "support/faulty_store.hpp"

namespace k9 {
namespace {

using test::make_journal_manager;

class JournalTest : public ::testing::Test {
protected:
    std::filesystem::path local(const std::string& name) {
        std::filesystem::create_directories(tmp_ / name);
        return tmp_ / name / "k9.db";
    }
    std::vector<std::int64_t> entries() { return db::Journal(*store_, test::kSnapshotKey).list_after(0); }
    bool has_user(db::DatabaseManager& m, const std::string& id) {
        m.refresh_if_stale();
        return repo::UserRepository(m).get_user(id).has_value();
    }
    // The replicated state: every table but schema_migrations (its applied_at is each
    // copy's own migration time).
    std::map<std::string, db::TableSummary> tables(db::DatabaseManager& m) {
        auto all = m.read([](duck::Connection& c) { return db::summarize_tables(c); });
        all.erase("schema_migrations");
        return all;
    }

    test::TempDir tmp_;
    std::shared_ptr<store::FileStore> store_ = std::make_shared<store::FileStore>(tmp_ / "store");
};

TEST_F(JournalTest, AnAcknowledgedWriteIsInTheStoreBeforeAnyPersist) {
    auto a = make_journal_manager(local("a"), store_);
    repo::UserRepository(*a).upsert_profile("u1", {"One", {}, {}, {}});
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{1}));
    EXPECT_FALSE(store_->head_if_exists(test::kSnapshotKey)) << "no snapshot was needed";
    a.reset();  // the container disappears without persisting
    auto b = make_journal_manager(local("b"), store_);
    EXPECT_TRUE(has_user(*b, "u1")) << "cold start = snapshot (none here) + the journal";
}

TEST_F(JournalTest, WritersSeeEachOthersWritesAndOneHistoryEmerges) {
    auto a = make_journal_manager(local("a"), store_);
    auto b = make_journal_manager(local("b"), store_);
    repo::UserRepository ua(*a), ub(*b);
    for (int i = 0; i < 5; ++i) {
        ua.upsert_profile("a" + std::to_string(i), {"A", {}, {}, {}});
        ub.upsert_profile("b" + std::to_string(i), {"B", {}, {}, {}});  // b is one behind: loses the seq, catches up
    }
    EXPECT_EQ(entries().size(), 10u);
    EXPECT_TRUE(has_user(*a, "b4"));
    EXPECT_TRUE(has_user(*b, "a4"));
    EXPECT_EQ(tables(*a), tables(*b));
    EXPECT_EQ(a->status().seq, 10);
}

TEST_F(JournalTest, ConcurrentWritesShareJournalEntries) {
    auto a = make_journal_manager(local("a"), store_);
    a->get_connection();
    constexpr int kThreads = 8, kEach = 20;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            repo::UserRepository users(*a);
            for (int i = 0; i < kEach; ++i) users.upsert_profile("t" + std::to_string(t) + "-" + std::to_string(i), {"x", {}, {}, {}});
        });
    }
    for (auto& th : threads) th.join();
    const auto n = entries().size();
    EXPECT_LE(n, static_cast<std::size_t>(kThreads * kEach));
    std::printf("group commit: %d writes in %zu journal entries\n", kThreads * kEach, n);
    auto fresh = make_journal_manager(local("fresh"), store_);
    EXPECT_EQ(fresh->read([](duck::Connection& c) { return c.query("SELECT count(*) FROM users").int64(0, 0); }),
              kThreads * kEach);
}

TEST_F(JournalTest, AWriteThatNoLongerAppliesAfterAConcurrentChangeIs409) {
    auto a = make_journal_manager(local("a"), store_);
    auto b = make_journal_manager(local("b"), store_);
    repo::ReportRepository ra(*a), rb(*b);
    const auto r = ra.create("alice", {"t", "x", "2024-01-01", {{"k", 1}}, {}});
    b->refresh_if_stale();
    ASSERT_TRUE(rb.get("alice", r.id));
    rb.remove("alice", r.id);  // a has not seen this yet
    try {
        ra.update("alice", r.id, {std::string("new title"), {}, {}, {}});
        FAIL() << "the update must not apply";
    } catch (const db::MutationRejected& e) {
        EXPECT_EQ(e.reason, db::MutationRejected::Reason::Conflict) << e.what();
        EXPECT_NE(std::string(e.what()).find("another container"), std::string::npos);
    }
    EXPECT_EQ(tables(*a), tables(*b));
}

TEST_F(JournalTest, AnAppendWhoseAnswerWasLostIsRecognisedAsOurs) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->get_connection();
    faulty->fail_after_put(store::ErrorKind::Transient);
    repo::UserRepository(*a).upsert_profile("u1", {"One", {}, {}, {}});  // acknowledged
    faulty->heal();
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{1}));
    EXPECT_EQ(a->status().seq, 1);
    auto b = make_journal_manager(local("b"), store_);
    EXPECT_TRUE(has_user(*b, "u1"));
}

TEST_F(JournalTest, AFailedAppendIsNotAcknowledgedAndWritesNothing) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->get_connection();
    faulty->fail(test::FaultyStore::Op::Put, store::ErrorKind::Transient);
    EXPECT_THROW(repo::UserRepository(*a).upsert_profile("u1", {"One", {}, {}, {}}), store::StoreError);
    faulty->heal();
    EXPECT_FALSE(has_user(*a, "u1")) << "rolled back locally";
    EXPECT_TRUE(entries().empty());
}

TEST_F(JournalTest, CompactionWritesASnapshotAndPrunesOnlyAfterRetention) {
    auto a = make_journal_manager(local("a"), store_, 3600);
    for (int i = 0; i < 3; ++i) repo::UserRepository(*a).upsert_profile("u" + std::to_string(i), {"x", {}, {}, {}});
    auto r = a->persist_to_s3();
    EXPECT_TRUE(r.uploaded);
    EXPECT_EQ(r.seq, 3);
    EXPECT_EQ(store_->head(test::kSnapshotKey).metadata.at(db::kMetaSeq), "3");
    EXPECT_EQ(entries().size(), 3u) << "kept for the retention delay";
    EXPECT_EQ(a->status().pending_writes, 0);
    repo::UserRepository(*a).upsert_profile("u3", {"x", {}, {}, {}});
    // Cold start = snapshot (seq 3) + entry 4.
    auto b = make_journal_manager(local("b"), store_, 3600);
    EXPECT_TRUE(has_user(*b, "u3"));
    EXPECT_EQ(b->status().seq, 4);
    // The snapshot's age is measured on the store's clock (the file store's is the
    // filesystem's): make the snapshot two hours old there.
    std::filesystem::last_write_time(tmp_ / "store" / test::kSnapshotKey,
                                     std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
    a->persist_to_s3();
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{4})) << "entries 1..3 are pruned, 4 is not yet in an old snapshot";
    auto c = make_journal_manager(local("c"), store_, 3600);
    EXPECT_EQ(tables(*c), tables(*a));
}

TEST_F(JournalTest, AFailedPruneDoesNotFailTheCompaction) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty, 0);  // retention 0: prunes at once
    for (int i = 0; i < 3; ++i) repo::UserRepository(*a).upsert_profile("u" + std::to_string(i), {"x", {}, {}, {}});
    a->persist_to_s3();  // snapshot at seq 3
    repo::UserRepository(*a).upsert_profile("u3", {"x", {}, {}, {}});
    faulty->fail(test::FaultyStore::Op::Remove, store::ErrorKind::Transient);
    const auto r = a->persist_to_s3();  // uploads seq 4, then fails to prune 1..3
    EXPECT_TRUE(r.uploaded);
    EXPECT_EQ(r.seq, 4);
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{1, 2, 3, 4})) << "nothing removed";
    EXPECT_EQ(a->status().pending_writes, 0);
    faulty->heal();
    a->persist_to_s3();  // nothing new to upload; prunes what both snapshots cover
    EXPECT_EQ(entries(), std::vector<std::int64_t>{}) << "the next compaction removes them";
    auto b = make_journal_manager(local("b"), store_, 0);
    EXPECT_TRUE(has_user(*b, "u3"));
}

TEST_F(JournalTest, AFrozenWriterCannotWriteIntoACompactedRange) {
    auto frozen = make_journal_manager(local("frozen"), store_, 0);  // retention 0: always checks
    repo::UserRepository(*frozen).upsert_profile("early", {"x", {}, {}, {}});  // seq 1
    {
        auto busy = make_journal_manager(local("busy"), store_, 0);
        for (int i = 0; i < 5; ++i) repo::UserRepository(*busy).upsert_profile("b" + std::to_string(i), {"x", {}, {}, {}});
        busy->persist_to_s3();  // snapshot at seq 6
        busy->persist_to_s3();  // nothing new; prunes 1..6 (retention 0)
    }
    EXPECT_TRUE(entries().empty()) << "compacted";
    // The frozen writer wakes up at seq 1 and writes: its append at seq 2 finds no entry there.
    repo::UserRepository(*frozen).upsert_profile("late", {"x", {}, {}, {}});
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{7})) << "the write landed above the snapshot, not at seq 2";
    auto check = make_journal_manager(local("check"), store_, 0);
    EXPECT_TRUE(has_user(*check, "late"));
    EXPECT_TRUE(has_user(*check, "b4"));
    EXPECT_EQ(tables(*check), tables(*frozen));
}

TEST_F(JournalTest, ACopyBehindACompactionReloadsTheSnapshot) {
    auto behind = make_journal_manager(local("behind"), store_, 0);
    behind->get_connection();
    {
        auto busy = make_journal_manager(local("busy"), store_, 0);
        for (int i = 0; i < 4; ++i) repo::UserRepository(*busy).upsert_profile("b" + std::to_string(i), {"x", {}, {}, {}});
        busy->persist_to_s3();
        busy->persist_to_s3();
        repo::UserRepository(*busy).upsert_profile("after", {"x", {}, {}, {}});
    }
    EXPECT_TRUE(has_user(*behind, "b0"));
    EXPECT_TRUE(has_user(*behind, "after"));
}

TEST_F(JournalTest, ReplacingTheSnapshotIsAnEventInTheHistory) {
    auto live = make_journal_manager(local("live"), store_);
    repo::UserRepository(*live).upsert_profile("before", {"x", {}, {}, {}});
    live->persist_to_s3();
    repo::UserRepository(*live).upsert_profile("journal-only", {"x", {}, {}, {}});
    // An operator uploads another database (k9db --upload --force).
    {
        duck::Database db(tmp_ / "other.db", {});
        duck::Connection c(db);
        c.execute("CREATE TABLE imported (x INTEGER); INSERT INTO imported VALUES (42)");
    }
    db::ReplaceOptions replace;
    replace.expected_etag = store_->head(test::kSnapshotKey).etag;
    replace.journal = true;
    const auto info = db::replace_snapshot(*store_, test::kSnapshotKey, tmp_ / "other.db", replace);
    EXPECT_EQ(info.metadata.at(db::kMetaSeq), "3") << "the reset took the next seq";
    // A new container sees the uploaded database, not the old writes replayed onto it.
    auto fresh = make_journal_manager(local("fresh"), store_);
    EXPECT_FALSE(has_user(*fresh, "before"));
    EXPECT_FALSE(has_user(*fresh, "journal-only"));
    EXPECT_EQ(fresh->read([](duck::Connection& c) { return c.query("SELECT x FROM imported").int64(0, 0); }), 42);
    // The live writer reaches the reset, loads the new snapshot, and writes on top of it.
    repo::UserRepository(*live).upsert_profile("after", {"x", {}, {}, {}});
    EXPECT_FALSE(has_user(*live, "before"));
    EXPECT_TRUE(has_user(*fresh, "after"));
    EXPECT_EQ(tables(*live), tables(*fresh));
}

TEST_F(JournalTest, NonDeterministicSqlIsRefused) {
    auto a = make_journal_manager(local("a"), store_);
    try {
        a->apply({"sql", {{"sql", "INSERT INTO users VALUES ('x', 'X', NULL, NULL, NULL, now(), now())"}}});
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("now()"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(a->apply({"sql", {{"sql", "INSERT INTO users VALUES ('y', 'now()', NULL, NULL, NULL, "
                                              "TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01')"}}}));
    EXPECT_EQ(entries().size(), 1u);
}

TEST(SqlDeterminism, FindsCallsOutsideLiteralsAndComments) {
    EXPECT_EQ(db::nondeterministic_call("SELECT NOW()"), "now");
    EXPECT_EQ(db::nondeterministic_call("insert into t values (random ())"), "random");
    EXPECT_EQ(db::nondeterministic_call("UPDATE t SET at = CURRENT_TIMESTAMP"), "current_timestamp");
    EXPECT_EQ(db::nondeterministic_call("insert into t select gen_random_uuid()"), "gen_random_uuid");
    EXPECT_EQ(db::nondeterministic_call("select nextval('s')"), "nextval");
    EXPECT_FALSE(db::nondeterministic_call("insert into t values ('now()', 'random()')"));
    EXPECT_FALSE(db::nondeterministic_call("select 1 -- now()\n"));
    EXPECT_FALSE(db::nondeterministic_call("select 1 /* random() */"));
    EXPECT_FALSE(db::nondeterministic_call("select nowhere(), my_random(1), \"now\" from t"));
    EXPECT_FALSE(db::nondeterministic_call("insert into t values ('it''s now()')"));
}

}  // namespace
}  // namespace k9
