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
#include "repo/report_repository.hpp"
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
    std::vector<db::JournalPosition> entries() { return test::journal_entries(*store_); }
    std::string key(const std::string& owner, std::int64_t seq) {
        return journal().key(test::partition_of(owner), seq);
    }
    static void add_report(db::DatabaseManager& m, const std::string& user) {
        repo::ReportRepository(m).create(user, {"t", "x", "2024-01-01", {{"k", 1}}, {}});
    }
    static std::int64_t reports(db::DatabaseManager& m, const std::string& user) {
        m.refresh(user);
        return m.read([&](duck::Connection& c) {
            return c.prepare("SELECT count(*) FROM reports WHERE user_id = ?")
                .bind(1, user)
                .execute()
                .int64(0, 0);
        });
    }
    static std::string problem_code(db::DatabaseManager& m) {
        const auto p = m.status().problem;
        return p ? p->code : "";
    }

    test::TempDir tmp_;
    std::shared_ptr<store::FileStore> store_ = std::make_shared<store::FileStore>(tmp_ / "store");
};

TEST_F(JournalSafetyTest, AHoleIsRefusedAtTheFirstReadAndSaysHowToRecover) {
    {
        auto a = make_journal_manager(local("a"), store_);
        for (int i = 1; i <= 9; ++i) add_report(*a, "u");
        add_report(*a, "other");
    }
    store_->remove(key("u", 5));  // someone deletes an entry between two others
    auto fresh = make_journal_manager(local("fresh"), store_);
    fresh->open();  // a cold start reads the snapshot only
    try {
        reports(*fresh, "u");
        FAIL() << "the read must not stop silently at the hole";
    } catch (const db::Unavailable& e) {
        const std::string what = e.what();
        EXPECT_EQ(e.code, "journal_corrupt");
        EXPECT_NE(what.find("missing entry 5"), std::string::npos) << what;
        EXPECT_NE(what.find("k9db restore"), std::string::npos) << what;
    }
    EXPECT_EQ(problem_code(*fresh), "journal_corrupt");
    if (test::partition_of("other") != test::partition_of("u")) {
        EXPECT_EQ(reports(*fresh, "other"), 1) << "the users of other partitions are served";
    }
}

TEST_F(JournalSafetyTest, ARunningCopyStopsAtAHoleUntilASnapshotCoversIt) {
    auto a = make_journal_manager(local("a"), store_);
    add_report(*a, "u");
    add_report(*a, "u");
    auto b = make_journal_manager(local("b"), store_);
    EXPECT_EQ(reports(*b, "u"), 2);
    for (int i = 3; i <= 9; ++i) add_report(*a, "u");
    store_->remove(key("u", 5));
    try {
        b->refresh("u");
        FAIL() << "the hole must be refused";
    } catch (const db::Unavailable& e) {
        EXPECT_EQ(e.code, "journal_corrupt");
        EXPECT_EQ(e.hint.find("journal/"), std::string::npos) << "no keys for clients: " << e.hint;
    }
    EXPECT_EQ(problem_code(*b), "journal_corrupt");
    EXPECT_THROW(add_report(*b, "u"), db::Unavailable) << "no write may fill the hole";
    // A copy that holds the missing entry compacts: its snapshot covers the hole.
    a->persist();
    EXPECT_EQ(reports(*b, "u"), 9);
    EXPECT_FALSE(b->status().problem);
    add_report(*b, "u");
    EXPECT_EQ(reports(*a, "u"), 10);
}

TEST_F(JournalSafetyTest, ADamagedEntryIsReportedAndTheCopyRecoversWhenItIsRepaired) {
    auto a = make_journal_manager(local("a"), store_);
    add_report(*a, "u");
    store::PutOptions create;
    create.precondition = store::Precondition::if_none_match_any();
    store_->put_bytes("{not json", key("u", 2), create);
    try {
        a->refresh("u");
        FAIL() << "a damaged entry must not be skipped";
    } catch (const db::Unavailable& e) {
        EXPECT_EQ(e.code, "journal_corrupt");
        EXPECT_NE(std::string(e.what()).find(key("u", 2)), std::string::npos)
            << "the log names the key";
    }
    EXPECT_EQ(problem_code(*a), "journal_corrupt");
    store_->remove(key("u", 2));  // the operator removes the damaged object
    a->refresh("u");
    EXPECT_FALSE(a->status().problem);
    add_report(*a, "u");
    EXPECT_EQ(reports(*a, "u"), 2);
}

TEST_F(JournalSafetyTest, EveryWriteOfABatchIsAnsweredWhateverStepFails) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::ManagerOptions o;
    o.db_path = local("a");
    o.key = test::kSnapshotKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Journal;
    o.max_batch = 8;
    db::DatabaseManager a(o, faulty);
    a.open();
    {
        auto other = make_journal_manager(local("other"), store_);
        add_report(*other, "u");  // a is one behind in u's partition: its next append loses the seq
    }
    // Losing the seq makes a read the entry that took it, and the store fails that.
    faulty->fail(test::FaultyStore::Op::Get, store::ErrorKind::Transient);
    constexpr int kWriters = 8;
    std::vector<std::future<std::string>> answers;
    for (int i = 0; i < kWriters; ++i) {
        answers.push_back(std::async(std::launch::async, [&a] {
            try {
                add_report(a, "u");
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
    add_report(a, "u");
    EXPECT_EQ(reports(a, "u"), 2) << "the other's write and this one";
    EXPECT_FALSE(a.status().problem) << "a write that succeeds clears the store's failure";
}

TEST_F(JournalSafetyTest, AStoreFailureShowsInHealthUntilACallSucceeds) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->open();
    faulty->fail(test::FaultyStore::Op::Get, store::ErrorKind::Transient);
    EXPECT_THROW(a->refresh("u"), store::StoreError);
    EXPECT_EQ(problem_code(*a), "store_unavailable");
    faulty->heal();
    a->refresh("u");
    EXPECT_FALSE(a->status().problem);
}

TEST_F(JournalSafetyTest, ASeqWithTwoOwnersIsNoticedOnAStoreThatKeepsVersions) {
    store_ = std::make_shared<store::FileStore>(tmp_ / "versioned", store::FileStoreOptions{true});
    auto a = make_journal_manager(local("a"), store_);
    for (int i = 1; i <= 3; ++i) add_report(*a, "u");
    // What a store that does not hold If-None-Match: * does when two writers race for 2.
    const std::string lost = store_->get_bytes(key("u", 2));
    store_->put_bytes(lost, key("u", 2));
    a->persist();
    const auto warnings = a->status().warnings;
    ASSERT_EQ(warnings.size(), 1u);
    EXPECT_EQ(warnings[0].code, "journal_seq_conflict");
    const std::string where = std::to_string(test::partition_of("u")) + "/2";
    EXPECT_NE(warnings[0].detail.find(where), std::string::npos) << warnings[0].detail;
    EXPECT_EQ(journal().doubly_owned(),
              (std::vector<db::JournalPosition>{{test::partition_of("u"), 2}}));
}

TEST_F(JournalSafetyTest, EntriesRemovedByACompactionAreNotTwoOwners) {
    store_ = std::make_shared<store::FileStore>(tmp_ / "versioned", store::FileStoreOptions{true});
    auto a = make_journal_manager(local("a"), store_, 0);  // prunes at once
    for (int i = 1; i <= 3; ++i) add_report(*a, "u");
    a->persist();
    add_report(*a, "u");
    a->persist();  // prunes 1..3: delete markers, not a second owner
    EXPECT_EQ(entries(), (std::vector<db::JournalPosition>{{test::partition_of("u"), 4}}));
    EXPECT_TRUE(journal().doubly_owned().empty());
    EXPECT_TRUE(a->status().warnings.empty());
}

TEST_F(JournalSafetyTest, ALocalClockHoursAheadDoesNotPruneAYoungSnapshot) {
    // The old rule (local clock minus Last-Modified) pruned everything here at once.
    const auto two_hours_ahead = [] { return system_now() + 2 * 3600LL * 1'000'000; };
    auto a = make_journal_manager(local("a"), store_, 3600, two_hours_ahead);
    for (int i = 1; i <= 3; ++i) add_report(*a, "u");
    a->persist();
    add_report(*a, "u");
    a->persist();
    EXPECT_EQ(entries().size(), 4u) << "the snapshot is seconds old on the store's clock";
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
    EXPECT_EQ(faulty->calls(test::FaultyStore::Op::Put), puts)
        << "the verdict is kept for the process";
}

}  // namespace
}  // namespace k9
