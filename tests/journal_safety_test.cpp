// The journal's promise when the environment misbehaves (in-process, on the file store):
// holes and damaged entries are refused and reported, never skipped; a copy whose local
// database cannot apply the journal heals from the store; every write of a batch gets an
// answer whatever step fails; a seq with two owners is noticed; pruning runs on the
// store's clock. The same cases across processes, on S3 and on a full disk, are in
// journal_safety_process_test.cpp.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "db/journal.hpp"
#include "db/snapshot.hpp"
#include "db/store_probe.hpp"
#include "repo/user_repository.hpp"
#include "support/db_fixture.hpp"
#include "support/faulty_store.hpp"

namespace k9 {
namespace {

using test::make_journal_manager;

class JournalSafetyTest : public ::testing::Test {
protected:
    std::filesystem::path local(const std::string& name) {
        std::filesystem::create_directories(tmp_ / name);
        return tmp_ / name / "k9.db";
    }
    db::Journal journal() { return db::Journal(*store_, test::kSnapshotKey); }
    std::vector<std::int64_t> entries() { return journal().list_after(0); }
    static void add_user(db::DatabaseManager& m, const std::string& id) {
        repo::UserRepository(m).upsert_profile(id, {"x", {}, {}, {}});
    }
    static bool has_user(db::DatabaseManager& m, const std::string& id) {
        return repo::UserRepository(m).get_user(id).has_value();
    }
    static std::int64_t users(db::DatabaseManager& m) {
        return m.read([](duck::Connection& c) { return c.query("SELECT count(*) FROM users").int64(0, 0); });
    }
    static std::string problem_code(db::DatabaseManager& m) {
        const auto p = m.status().problem;
        return p ? p->code : "";
    }

    test::TempDir tmp_;
    std::shared_ptr<store::FileStore> store_ = std::make_shared<store::FileStore>(tmp_ / "store");
};

TEST_F(JournalSafetyTest, AColdStartRefusesAHoleAndSaysHowToRecover) {
    {
        auto a = make_journal_manager(local("a"), store_);
        for (int i = 1; i <= 9; ++i) add_user(*a, "u" + std::to_string(i));
    }
    store_->remove(journal().key(5));  // someone deletes an entry between two others
    auto fresh = make_journal_manager(local("fresh"), store_);
    try {
        fresh->open();
        FAIL() << "a cold start must not stop silently at the hole";
    } catch (const db::ColdStartError& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("missing entry 5"), std::string::npos) << what;
        EXPECT_NE(what.find("k9db restore"), std::string::npos) << what;
    }
    EXPECT_FALSE(fresh->is_open());
}

TEST_F(JournalSafetyTest, ARunningCopyStopsAtAHoleUntilASnapshotCoversIt) {
    auto a = make_journal_manager(local("a"), store_);
    add_user(*a, "u1");
    add_user(*a, "u2");
    auto b = make_journal_manager(local("b"), store_);
    b->open();
    for (int i = 3; i <= 9; ++i) add_user(*a, "u" + std::to_string(i));
    store_->remove(journal().key(5));
    try {
        b->refresh_if_stale();
        FAIL() << "the hole must be refused";
    } catch (const db::Unavailable& e) {
        EXPECT_EQ(e.code, "journal_corrupt");
        EXPECT_EQ(e.hint.find("journal/"), std::string::npos) << "no keys for clients: " << e.hint;
    }
    EXPECT_EQ(problem_code(*b), "journal_corrupt");
    EXPECT_EQ(b->status().seq, 4) << "applied what comes before the hole, nothing after it";
    EXPECT_THROW(add_user(*b, "b1"), db::Unavailable) << "no write may fill the hole";
    // A copy that holds the missing entry compacts: its snapshot covers the hole.
    a->persist_to_s3();
    b->refresh_if_stale();
    EXPECT_FALSE(b->status().problem);
    EXPECT_EQ(users(*b), 9);
    add_user(*b, "b1");
    EXPECT_TRUE(has_user(*b, "b1"));
}

TEST_F(JournalSafetyTest, ADamagedEntryIsReportedAndTheCopyRecoversWhenItIsRepaired) {
    auto a = make_journal_manager(local("a"), store_);
    add_user(*a, "u1");
    store::PutOptions create;
    create.precondition = store::Precondition::if_none_match_any();
    store_->put_bytes("{not json", journal().key(2), create);
    try {
        a->refresh_if_stale();
        FAIL() << "a damaged entry must not be skipped";
    } catch (const db::Unavailable& e) {
        EXPECT_EQ(e.code, "journal_corrupt");
        EXPECT_NE(std::string(e.what()).find(journal().key(2)), std::string::npos) << "the log names the key";
    }
    EXPECT_EQ(problem_code(*a), "journal_corrupt");
    store_->remove(journal().key(2));  // the operator removes the damaged object
    a->refresh_if_stale();
    EXPECT_FALSE(a->status().problem);
    add_user(*a, "u2");
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(JournalSafetyTest, EveryWriteOfABatchIsAnsweredWhateverStepFails) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::ManagerOptions o;
    o.db_path = local("a");
    o.key = test::kSnapshotKey;
    o.mutations = &repo::k9_mutations();
    o.durability = db::Durability::Journal;
    o.max_batch = 8;
    db::DatabaseManager a(o, faulty);
    a.open();
    {
        auto other = make_journal_manager(local("other"), store_);
        add_user(*other, "first");  // a is one behind: its next append loses the seq
    }
    // Losing the seq makes a catch up, and the store fails it: the batch cannot commit.
    faulty->fail(test::FaultyStore::Op::List, store::ErrorKind::Transient);
    faulty->fail(test::FaultyStore::Op::Head, store::ErrorKind::Transient);
    constexpr int kWriters = 8;
    std::vector<std::future<std::string>> answers;
    for (int i = 0; i < kWriters; ++i) {
        answers.push_back(std::async(std::launch::async, [&a, i] {
            try {
                add_user(a, "w" + std::to_string(i));
                return std::string("ok");
            } catch (const std::exception& e) {
                return std::string("error: ") + e.what();
            }
        }));
    }
    for (auto& f : answers) {
        if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
            ADD_FAILURE() << "a write got no answer within 30 s (stranded in a failed batch)";
            std::fflush(nullptr);
            std::_Exit(1);  // its thread spins forever: the process cannot end otherwise
        }
        EXPECT_NE(f.get().find("injected fault"), std::string::npos);
    }
    faulty->heal();
    add_user(a, "after");
    EXPECT_TRUE(has_user(a, "first"));
    EXPECT_FALSE(has_user(a, "w0"));
    EXPECT_FALSE(a.status().problem) << "a write that succeeds clears the store's failure";
}

TEST_F(JournalSafetyTest, AStoreFailureShowsInHealthUntilACallSucceeds) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->open();
    faulty->fail(test::FaultyStore::Op::List, store::ErrorKind::Transient);
    EXPECT_THROW(a->refresh_if_stale(), store::StoreError);
    EXPECT_EQ(problem_code(*a), "store_unavailable");
    faulty->heal();
    a->refresh_if_stale();
    EXPECT_FALSE(a->status().problem);
}

TEST_F(JournalSafetyTest, ASeqWithTwoOwnersIsNoticedOnAStoreThatKeepsVersions) {
    store_ = std::make_shared<store::FileStore>(tmp_ / "versioned", store::FileStoreOptions{true});
    auto a = make_journal_manager(local("a"), store_);
    for (int i = 1; i <= 3; ++i) add_user(*a, "u" + std::to_string(i));
    // What a store that does not hold If-None-Match: * does when two writers race for 2.
    const std::string lost = store_->get_bytes(journal().key(2));
    store_->put_bytes(lost, journal().key(2));
    a->persist_to_s3();
    const auto warnings = a->status().warnings;
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0].code, "journal_seq_conflict");
    EXPECT_NE(warnings[0].detail.find("seq(s) 2 "), std::string::npos) << warnings[0].detail;
    EXPECT_EQ(journal().doubly_owned(0), (std::vector<std::int64_t>{2}));
}

TEST_F(JournalSafetyTest, EntriesRemovedByACompactionAreNotTwoOwners) {
    store_ = std::make_shared<store::FileStore>(tmp_ / "versioned", store::FileStoreOptions{true});
    auto a = make_journal_manager(local("a"), store_, 0);  // prunes at once
    for (int i = 1; i <= 3; ++i) add_user(*a, "u" + std::to_string(i));
    a->persist_to_s3();
    add_user(*a, "u4");
    a->persist_to_s3();  // prunes 1..3: delete markers, not a second owner
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{4}));
    EXPECT_TRUE(journal().doubly_owned(0).empty());
    EXPECT_TRUE(a->status().warnings.empty());
}

TEST_F(JournalSafetyTest, ALocalClockHoursAheadDoesNotPruneAYoungSnapshot) {
    // The old rule (local clock minus Last-Modified) pruned everything here at once.
    const auto two_hours_ahead = [] { return system_now() + 2 * 3600LL * 1'000'000; };
    auto a = make_journal_manager(local("a"), store_, 3600, two_hours_ahead);
    for (int i = 1; i <= 3; ++i) add_user(*a, "u" + std::to_string(i));
    a->persist_to_s3();
    add_user(*a, "u4");
    a->persist_to_s3();
    EXPECT_EQ(entries(), (std::vector<std::int64_t>{1, 2, 3, 4})) << "the snapshot is seconds old on the store's clock";
}

TEST_F(JournalSafetyTest, ConditionalWritesAreProbedOncePerStore) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->open();
    const int puts = faulty->calls(test::FaultyStore::Op::Put);
    EXPECT_GE(puts, 2) << "a create-only PUT and an If-Match PUT of the probe key";
    EXPECT_TRUE(store_->head_if_exists(db::probe_key(test::kSnapshotKey)));
    auto b = make_journal_manager(local("b"), faulty);
    b->open();
    EXPECT_EQ(faulty->calls(test::FaultyStore::Op::Put), puts) << "the verdict is kept for the process";
}

}  // namespace
}  // namespace k9
