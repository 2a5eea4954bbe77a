// Journal mode: every acknowledged write is in the store's journal before the answer;
// writers share one history; cold start = snapshot + replay; compaction; fencing.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
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

using Positions = std::vector<db::JournalPosition>;

class JournalTest : public ::testing::Test {
  protected:
    std::filesystem::path local(const std::string& name) {
        std::filesystem::create_directories(tmp_ / name);
        return tmp_ / name / "k9.db";
    }
    Positions entries() { return test::journal_entries(*store_); }
    static db::JournalPosition at(const std::string& owner, std::int64_t seq) {
        return {test::partition_of(owner), seq};
    }
    static bool has_user(db::DatabaseManager& m, const std::string& id) {
        m.refresh(id);
        return repo::UserRepository(m).get_user(id).has_value();
    }
    static void add_user(db::DatabaseManager& m, const std::string& id) {
        repo::UserRepository(m).upsert_profile(id, {"x", {}, {}, {}});
    }
    static repo::Report add_report(db::DatabaseManager& m, const std::string& user,
                                   const std::string& title = "t") {
        return repo::ReportRepository(m).create(user, {title, "x", "2024-01-01", {{"k", 1}}, {}});
    }
    static std::int64_t reports(db::DatabaseManager& m, const std::string& user) {
        m.refresh(user);
        return static_cast<std::int64_t>(
            repo::ReportRepository(m).list_for_user(user, 100, std::nullopt).items.size());
    }
    // The replicated state, once the copy has read the whole journal: every table but
    // schema_migrations (its applied_at is each copy's own migration time).
    static std::map<std::string, db::TableSummary> tables(db::DatabaseManager& m) {
        m.refresh_all();
        auto all = m.read([](duck::Connection& c) { return db::summarize_tables(c); });
        all.erase("schema_migrations");
        return all;
    }

    test::TempDir tmp_;
    std::shared_ptr<store::FileStore> store_ = std::make_shared<store::FileStore>(tmp_ / "store");
};

TEST_F(JournalTest, AnAcknowledgedWriteIsInTheStoreBeforeAnyPersist) {
    auto a = make_journal_manager(local("a"), store_);
    add_user(*a, "u1");
    EXPECT_EQ(entries(), (Positions{at("u1", 1)}));
    const auto seqs = db::snapshot_partition_seqs(store_->head(test::kSnapshotKey));
    ASSERT_TRUE(seqs) << "a new database starts with an empty partitioned snapshot";
    EXPECT_EQ((*seqs)[static_cast<std::size_t>(test::partition_of("u1"))], 0)
        << "which holds nothing of the write";
    a.reset();  // the container disappears without persisting
    auto b = make_journal_manager(local("b"), store_);
    EXPECT_TRUE(has_user(*b, "u1")) << "the first read of u1 catches its partition up";
}

TEST_F(JournalTest, WritersSeeEachOthersWritesAndOneHistoryEmerges) {
    auto a = make_journal_manager(local("a"), store_);
    auto b = make_journal_manager(local("b"), store_);
    for (int i = 0; i < 5; ++i) {
        add_user(*a, "a" + std::to_string(i));
        add_user(*b, "b" + std::to_string(i));
        add_report(*a, "shared", "from a");
        add_report(*b, "shared",
                   "from b");  // b is one behind in this partition: loses the seq, catches up
    }
    EXPECT_EQ(entries().size(), 20u);
    EXPECT_TRUE(has_user(*a, "b4"));
    EXPECT_TRUE(has_user(*b, "a4"));
    EXPECT_EQ(reports(*a, "shared"), 10);
    EXPECT_EQ(tables(*a), tables(*b));
    EXPECT_EQ(a->status().seq, 20);
}

TEST_F(JournalTest, ConcurrentWritesOfOneUserShareJournalEntries) {
    auto a = make_journal_manager(local("a"), store_);
    a->get_connection();
    constexpr int kThreads = 8, kEach = 20;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < kEach; ++i) add_report(*a, "busy");
        });
    }
    for (auto& th : threads) th.join();
    const auto n = entries().size();
    EXPECT_LT(n, static_cast<std::size_t>(kThreads * kEach));
    std::printf("group commit: %d writes in %zu journal entries\n", kThreads * kEach, n);
    auto fresh = make_journal_manager(local("fresh"), store_);
    EXPECT_EQ(reports(*fresh, "busy"), 100) << "a page holds 100";
    fresh->refresh_all();
    EXPECT_EQ(fresh->read([](duck::Connection& c) {
        return c.query("SELECT count(*) FROM reports").int64(0, 0);
    }),
              kThreads * kEach);
}

TEST_F(JournalTest, WritesOfDifferentUsersCommitSideBySide) {
    auto a = make_journal_manager(local("a"), store_);
    a->get_connection();
    constexpr int kUsers = 8, kEach = 10;
    std::vector<std::thread> threads;
    for (int u = 0; u < kUsers; ++u) {
        threads.emplace_back([&, u] {
            for (int i = 0; i < kEach; ++i) add_report(*a, "user" + std::to_string(u));
        });
    }
    for (auto& th : threads) th.join();
    std::map<int, int> per_partition;
    for (const auto& e : entries()) ++per_partition[e.partition];
    for (int u = 0; u < kUsers; ++u) {
        EXPECT_GE(per_partition[test::partition_of("user" + std::to_string(u))], 1);
        EXPECT_EQ(reports(*a, "user" + std::to_string(u)), kEach);
    }
    auto fresh = make_journal_manager(local("fresh"), store_);
    EXPECT_EQ(tables(*fresh), tables(*a));
}

TEST_F(JournalTest, AWriteThatNoLongerAppliesAfterAConcurrentChangeIs409) {
    auto a = make_journal_manager(local("a"), store_);
    auto b = make_journal_manager(local("b"), store_);
    repo::ReportRepository ra(*a), rb(*b);
    const auto r = ra.create("alice", {"t", "x", "2024-01-01", {{"k", 1}}, {}});
    b->refresh("alice");
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

TEST_F(JournalTest, ARejectionIsAnsweredOnlyOnFreshState) {
    auto a = make_journal_manager(local("a"), store_);
    auto b = make_journal_manager(local("b"), store_);
    a->get_connection();
    const auto r = add_report(*b, "alice");  // a has not seen it: a write does not look first
    repo::ReportRepository(*a).remove("alice", r.id);  // a "not found" here would be a lie
    EXPECT_EQ(reports(*b, "alice"), 0);
}

TEST_F(JournalTest, AnAppendWhoseAnswerWasLostIsRecognisedAsOurs) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->get_connection();
    faulty->fail_after_put(store::ErrorKind::Transient);
    add_user(*a, "u1");  // acknowledged
    faulty->heal();
    EXPECT_EQ(entries(), (Positions{at("u1", 1)}));
    EXPECT_EQ(a->status().seq, 1);
    auto b = make_journal_manager(local("b"), store_);
    EXPECT_TRUE(has_user(*b, "u1"));
}

TEST_F(JournalTest, AFailedAppendIsNotAcknowledgedAndWritesNothing) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty);
    a->get_connection();
    faulty->fail(test::FaultyStore::Op::Put, store::ErrorKind::Transient);
    EXPECT_THROW(add_user(*a, "u1"), store::StoreError);
    faulty->heal();
    EXPECT_FALSE(has_user(*a, "u1")) << "rolled back locally";
    EXPECT_TRUE(entries().empty());
}

TEST_F(JournalTest, CompactionWritesASnapshotAndPrunesOnlyAfterRetention) {
    auto a = make_journal_manager(local("a"), store_, 3600);
    for (int i = 0; i < 3; ++i) add_report(*a, "u");
    auto r = a->persist();
    EXPECT_TRUE(r.uploaded);
    EXPECT_EQ(r.seq, 3);
    const auto seqs = db::snapshot_partition_seqs(store_->head(test::kSnapshotKey));
    ASSERT_TRUE(seqs);
    EXPECT_EQ((*seqs)[static_cast<std::size_t>(test::partition_of("u"))], 3);
    EXPECT_EQ(entries().size(), 3u) << "kept for the retention delay";
    EXPECT_EQ(a->status().pending_writes, 0);
    add_report(*a, "u");
    // Cold start = the snapshot (3 of u's partition); u's first read takes entry 4.
    auto b = make_journal_manager(local("b"), store_, 3600);
    EXPECT_EQ(reports(*b, "u"), 4);
    EXPECT_EQ(b->status().seq, 4);
    // The snapshot's age is measured on the store's clock (the file store's is the
    // filesystem's): make the snapshot two hours old there.
    std::filesystem::last_write_time(
        tmp_ / "store" / test::kSnapshotKey,
        std::filesystem::file_time_type::clock::now() - std::chrono::hours(2));
    a->persist();
    EXPECT_EQ(entries(), (Positions{at("u", 4)}))
        << "entries 1..3 are pruned, 4 is not yet in an old snapshot";
    auto c = make_journal_manager(local("c"), store_, 3600);
    EXPECT_EQ(tables(*c), tables(*a));
}

TEST_F(JournalTest, AFailedPruneDoesNotFailTheCompaction) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto a = make_journal_manager(local("a"), faulty, 0);  // retention 0: prunes at once
    for (int i = 0; i < 3; ++i) add_report(*a, "u");
    a->persist();  // snapshot at seq 3
    add_report(*a, "u");
    faulty->fail(test::FaultyStore::Op::Remove, store::ErrorKind::Transient);
    const auto r = a->persist();  // uploads seq 4, then fails to prune 1..3
    EXPECT_TRUE(r.uploaded);
    EXPECT_EQ(r.seq, 4);
    EXPECT_EQ(entries(), (Positions{at("u", 1), at("u", 2), at("u", 3), at("u", 4)}))
        << "nothing removed";
    EXPECT_EQ(a->status().pending_writes, 0);
    faulty->heal();
    a->persist();  // nothing new to upload; prunes what both snapshots cover
    EXPECT_EQ(entries(), Positions{}) << "the next compaction removes them";
    auto b = make_journal_manager(local("b"), store_, 0);
    EXPECT_EQ(reports(*b, "u"), 4);
}

TEST_F(JournalTest, AFrozenWriterCannotWriteIntoACompactedRange) {
    auto frozen = make_journal_manager(local("frozen"), store_, 0);  // retention 0: always checks
    add_report(*frozen, "u", "early");                               // u's seq 1
    {
        auto busy = make_journal_manager(local("busy"), store_, 0);
        for (int i = 0; i < 5; ++i) add_report(*busy, "u", "busy");
        busy->persist();  // snapshot at u's seq 6
        busy->persist();  // nothing new; prunes 1..6 (retention 0)
    }
    EXPECT_TRUE(entries().empty()) << "compacted";
    // The frozen writer wakes up at seq 1 of u's partition and writes: its append at 2
    // finds no entry there.
    add_report(*frozen, "u", "late");
    EXPECT_EQ(entries(), (Positions{at("u", 7)}))
        << "the write landed above the snapshot, not at seq 2";
    auto check = make_journal_manager(local("check"), store_, 0);
    EXPECT_EQ(reports(*check, "u"), 7);
    EXPECT_EQ(tables(*check), tables(*frozen));
}

TEST_F(JournalTest, ACopyBehindACompactionReloadsTheSnapshot) {
    auto behind = make_journal_manager(local("behind"), store_, 0);
    behind->get_connection();
    {
        auto busy = make_journal_manager(local("busy"), store_, 0);
        for (int i = 0; i < 4; ++i) add_report(*busy, "u");
        busy->persist();
        busy->persist();
        add_report(*busy, "u", "after");
    }
    EXPECT_EQ(reports(*behind, "u"), 5);
}

TEST_F(JournalTest, ReplacingTheSnapshotIsAnEventInEveryPartition) {
    auto live = make_journal_manager(local("live"), store_);
    add_user(*live, "before");
    live->persist();
    add_user(*live, "journal-only");
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
    const auto seqs = db::snapshot_partition_seqs(info);
    ASSERT_TRUE(seqs);
    ASSERT_EQ(seqs->size(), static_cast<std::size_t>(db::kDefaultPartitions));
    for (std::size_t p = 0; p < seqs->size(); ++p) {
        const std::int64_t before =
            (static_cast<int>(p) == test::partition_of("before") ? 1 : 0) +
            (static_cast<int>(p) == test::partition_of("journal-only") ? 1 : 0);
        EXPECT_EQ((*seqs)[p], before + 1) << "a reset took the next seq of partition " << p;
    }
    // A new container sees the uploaded database, not the old writes replayed onto it.
    auto fresh = make_journal_manager(local("fresh"), store_);
    EXPECT_FALSE(has_user(*fresh, "before"));
    EXPECT_FALSE(has_user(*fresh, "journal-only"));
    EXPECT_EQ(fresh->read([](duck::Connection& c) {
        return c.query("SELECT x FROM imported").int64(0, 0);
    }),
              42);
    // The live writer reaches the reset, loads the new snapshot, and writes on top of it.
    add_user(*live, "after");
    EXPECT_FALSE(has_user(*live, "before"));
    EXPECT_TRUE(has_user(*fresh, "after"));
    EXPECT_EQ(tables(*live), tables(*fresh));
}

TEST_F(JournalTest, NonDeterministicSqlIsRefused) {
    auto a = make_journal_manager(local("a"), store_);
    try {
        a->apply({"sql",
                  {{"sql", "INSERT INTO users VALUES ('x', 'X', NULL, NULL, NULL, now(), now())"}},
                  "x"});
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("now()"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(a->apply({"sql",
                              {{"sql",
                                "INSERT INTO users VALUES ('y', 'now()', NULL, NULL, NULL, "
                                "TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-01')"}},
                              "y"}));
    EXPECT_EQ(entries().size(), 1u);
}

TEST_F(JournalTest, AWriteWithoutAnOwnerIsRefused) {
    auto a = make_journal_manager(local("a"), store_);
    try {
        a->apply({"sql", {{"sql", "CREATE TABLE t (x INTEGER)"}}});
        FAIL();
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("--user"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("--upload"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(entries().empty());
}

// ---- What a request costs in store calls (Lambda: every call is a round trip) ----------

db::ManagerOptions journal_options(const std::filesystem::path& path,
                                   int partitions = db::kDefaultPartitions,
                                   std::int64_t staleness_ms = 0) {
    db::ManagerOptions o;
    o.db_path = path;
    o.key = test::kSnapshotKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Journal;
    o.partitions = partitions;
    o.max_staleness_ms = staleness_ms;
    return o;
}

struct Calls {
    int get = 0, put = 0, head = 0, list = 0;
    static Calls of(const test::FaultyStore& s) {
        using Op = test::FaultyStore::Op;
        return {s.calls(Op::Get), s.calls(Op::Put), s.calls(Op::Head), s.calls(Op::List)};
    }
    Calls operator-(const Calls& o) const {
        return {get - o.get, put - o.put, head - o.head, list - o.list};
    }
};

class JournalCostTest : public JournalTest, public ::testing::WithParamInterface<int> {};

TEST_P(JournalCostTest, AColdStartReadsTheSnapshotAndNothingOfTheJournal) {
    const int partitions = GetParam();
    {
        db::DatabaseManager writer(journal_options(local("writer"), partitions), store_);
        for (int u = 0; u < 40; ++u) add_report(writer, "user" + std::to_string(u));
    }
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::DatabaseManager fresh(journal_options(local("fresh"), partitions), faulty);
    fresh.open();
    const Calls c = Calls::of(*faulty);
    EXPECT_EQ(c.list, 0) << "no listing of the journal";
    EXPECT_EQ(c.head, 0);
    EXPECT_EQ(c.get, 1) << "the snapshot, nothing else";
    EXPECT_EQ(fresh.status().partitions, partitions);
    EXPECT_EQ(reports(fresh, "user7"), 1) << "the first read of a user catches its partition up";
    const Calls first = Calls::of(*faulty) - c;
    // The first look since the load reads the next two seqs at once (entries are likely
    // after a cold start); with no more than one there, no listing.
    const std::int64_t in_partition = [&] {
        std::int64_t n = 0;
        for (int u = 0; u < 40; ++u)
            n += db::partition_of("user" + std::to_string(u), partitions) ==
                 db::partition_of("user7", partitions);
        return n;
    }();
    if (in_partition == 1) {
        EXPECT_EQ(first.get, 2);
        EXPECT_EQ(first.list, 0);
    } else {
        EXPECT_EQ(first.list, 1) << "more than one new entry: one listing";
        EXPECT_LE(first.get, 2 + (in_partition + 31) / 32) << "the rest: a GET per block";
    }
    EXPECT_EQ(first.head + first.put, 0);
}

INSTANTIATE_TEST_SUITE_P(Partitions, JournalCostTest, ::testing::Values(1, 64, 256));

TEST_F(JournalTest, AWriteIsOnePutAndAReadOneGet) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::DatabaseManager a(journal_options(local("a")), faulty);
    add_report(a, "u");  // the first write and read of u
    reports(a, "u");
    const Calls before = Calls::of(*faulty);
    for (int i = 0; i < 10; ++i) add_report(a, "u");
    const Calls writes = Calls::of(*faulty) - before;
    EXPECT_EQ(writes.put, 10);
    EXPECT_EQ(writes.list + writes.head + writes.get, 0) << "no look before a write";
    for (int i = 0; i < 10; ++i) a.refresh("u");
    const Calls reads = Calls::of(*faulty) - before - writes;
    EXPECT_EQ(reads.get, 10) << "one GET of u's next seq per read";
    EXPECT_EQ(reads.list + reads.head + reads.put, 0);
}

TEST_F(JournalTest, ALongTailIsCaughtUpWithAGetPerBlockOfEntries) {
    constexpr int kWrites = 100;  // 100 entries of one partition: blocks 1-32, ..., 97-100
    db::DatabaseManager writer(journal_options(local("writer")), store_);
    // Mostly creates (replayed many rows per INSERT), with other writes between them.
    repo::ReportRepository repo(writer);
    std::vector<repo::Report> made;
    for (int i = 0; i < kWrites; ++i) {
        if (i == 40) {
            repo.update("u", made[3].id, {std::string("changed"), {}, {}, {}});
        } else if (i == 70) {
            repo.remove("u", made[5].id);
        } else if (i == 71) {
            repo.set_favorite("u", made[64].id, "p1", true);
        } else {
            made.push_back(add_report(writer, "u"));
        }
    }
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::DatabaseManager fresh(journal_options(local("fresh")), faulty);
    fresh.open();
    const Calls before = Calls::of(*faulty);
    EXPECT_EQ(reports(fresh, "u"), kWrites - 4);
    const Calls c = Calls::of(*faulty) - before;
    // The probe (1) and the entry after it (2), one LIST, then the last entry of each
    // block (32, 64, 96, 100), whose copies hold the rest.
    EXPECT_EQ(c.list, 1);
    EXPECT_EQ(c.get, 2 + 4) << "one GET per block, not one per entry";
    EXPECT_EQ(tables(fresh), tables(writer));
    // The fresh copy carries on: its next entry carries the ones before it in its block
    // (97-100), which it read from the store, some of them as copies.
    add_report(fresh, "u");
    const auto next = db::Journal(*store_, test::kSnapshotKey).read(test::partition_of("u"), 101);
    ASSERT_TRUE(next);
    ASSERT_EQ(next->carried.size(), 4u);
    EXPECT_EQ(next->carried.front().seq, 97);
    EXPECT_EQ(next->carried.back().mutations.size(), 1u);
}

TEST_F(JournalTest, EntriesNoCopyHoldsAreFetchedOneByOne) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::DatabaseManager stale(journal_options(local("stale")), faulty);
    EXPECT_EQ(reports(stale, "u"), 0);  // at seq 0 of u's partition
    {
        db::DatabaseManager a(journal_options(local("a")), store_);
        for (int i = 0; i < 3; ++i) add_report(a, "u");
        a.persist();  // the snapshot holds 1-3
    }
    {
        // A cold start from that snapshot holds no entry of the journal: its 4, 5, 6 carry
        // only its own entries (4, 5), never a copy of 1-3.
        db::DatabaseManager b(journal_options(local("b")), store_);
        for (int i = 0; i < 3; ++i) add_report(b, "u");
    }
    const auto six = db::Journal(*store_, test::kSnapshotKey).read(test::partition_of("u"), 6);
    ASSERT_TRUE(six);
    ASSERT_EQ(six->carried.size(), 2u);
    EXPECT_EQ(six->carried.front().seq, 4);
    const Calls before = Calls::of(*faulty);
    EXPECT_EQ(reports(stale, "u"), 6);
    // 1 (the probe), 2, a LIST, 6 (carrying 4 and 5), then 3, which no copy holds.
    EXPECT_EQ((Calls::of(*faulty) - before).get, 4);
    db::DatabaseManager fresh(journal_options(local("fresh")), store_);
    EXPECT_EQ(tables(stale), tables(fresh));
}

TEST(JournalEntryCopies, CarriedCopiesRoundTripAndMalformedOnesAreDropped) {
    db::JournalEntry first{.partition = 3, .seq = 4, .writer = "w", .nonce = "a"};
    first.mutations.push_back({"sql", {{"sql", "SELECT 1"}}, "u"});
    db::JournalEntry second{.partition = 3, .seq = 5, .writer = "w", .nonce = "b"};
    db::JournalEntry entry{.partition = 3, .seq = 6, .writer = "w", .nonce = "c"};
    const auto parsed = db::JournalEntry::parse(
        db::JournalEntry::with_copies(entry.serialize(), {first.serialize(), second.serialize()}),
        "e");
    ASSERT_EQ(parsed.carried.size(), 2u);
    EXPECT_EQ(parsed.carried[0].seq, 4);
    EXPECT_EQ(parsed.carried[0].mutations.at(0).params.at("sql"), "SELECT 1");
    EXPECT_EQ(parsed.carried[1].nonce, "b");
    EXPECT_TRUE(parsed.mutations.empty()) << "the entry's own mutations are its own";
    // Copies that do not end right before the entry, of another partition, or nested:
    // dropped (the reader fetches those entries), the entry itself still read.
    db::JournalEntry elsewhere = second;
    elsewhere.partition = 4;
    for (const auto& copies : std::vector<std::vector<std::string>>{
             {first.serialize()},
             {second.serialize(), first.serialize()},
             {first.serialize(), elsewhere.serialize()},
             {first.serialize(),
              db::JournalEntry::with_copies(second.serialize(), {first.serialize()})},
             {R"({"format":2})", second.serialize()}}) {
        const auto e =
            db::JournalEntry::parse(db::JournalEntry::with_copies(entry.serialize(), copies), "e");
        EXPECT_TRUE(e.carried.empty());
        EXPECT_EQ(e.seq, 6);
    }
    EXPECT_TRUE(db::JournalEntry::parse(R"({"format":2,"partition":3,"seq":6,"writer":"w",)"
                                        R"("nonce":"c","mutations":[],"carried":"x"})",
                                        "e")
                    .carried.empty());
}

TEST(JournalEntryCopies, BlocksOfSeqs) {
    EXPECT_EQ(db::carry_block_start(1), 1);
    EXPECT_EQ(db::carry_block_start(32), 1);
    EXPECT_EQ(db::carry_block_start(33), 33);
    EXPECT_EQ(db::carry_block_start(100), 97);
}

TEST_F(JournalTest, WithinTheStalenessWindowAReadCallsTheStoreNotAtAll) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    db::DatabaseManager a(journal_options(local("a"), db::kDefaultPartitions, 60'000), faulty);
    reports(a, "u");
    const Calls before = Calls::of(*faulty);
    for (int i = 0; i < 10; ++i) a.refresh("u");
    const Calls reads = Calls::of(*faulty) - before;
    EXPECT_EQ(reads.get + reads.list + reads.head + reads.put, 0);
}

TEST_F(JournalTest, WritersOfDifferentUsersOnManyCopiesNeverRace) {
    make_journal_manager(local("warm"), store_)
        ->open();  // the database and the probe verdict exist
    constexpr int kCopies = 4, kEach = 10;
    std::vector<std::shared_ptr<test::FaultyStore>> stores;
    std::vector<std::unique_ptr<db::DatabaseManager>> copies;
    for (int c = 0; c < kCopies; ++c) {
        stores.push_back(std::make_shared<test::FaultyStore>(store_));
        copies.push_back(std::make_unique<db::DatabaseManager>(
            journal_options(local("c" + std::to_string(c))), stores.back()));
        copies.back()->open();
    }
    // Users of distinct partitions, one per copy.
    std::vector<std::string> users;
    std::set<int> taken;
    for (int i = 0; static_cast<int>(users.size()) < kCopies; ++i) {
        const std::string u = "user" + std::to_string(i);
        if (taken.insert(test::partition_of(u)).second) users.push_back(u);
    }
    std::vector<std::thread> threads;
    for (int c = 0; c < kCopies; ++c) {
        threads.emplace_back([&, c] {
            for (int i = 0; i < kEach; ++i)
                add_report(*copies[static_cast<std::size_t>(c)],
                           users[static_cast<std::size_t>(c)]);
        });
    }
    for (auto& t : threads) t.join();
    for (int c = 0; c < kCopies; ++c) {
        const Calls calls = Calls::of(*stores[static_cast<std::size_t>(c)]);
        EXPECT_EQ(calls.put, kEach) << "copy " << c << ": one PUT per write, none lost to a race";
        EXPECT_EQ(calls.list, 0);
    }
    auto fresh = make_journal_manager(local("fresh"), store_);
    for (const auto& u : users) EXPECT_EQ(reports(*fresh, u), kEach);
}

TEST_F(JournalTest, AFrozenWriterInOnePartitionWhileOthersCompact) {
    auto frozen = make_journal_manager(local("frozen"), store_,
                                       0);  // retention 0: prunes at once, fences always
    add_report(*frozen, "u", "early");
    add_report(*frozen, "v", "early");
    {
        auto busy = make_journal_manager(local("busy"), store_, 0);
        for (int i = 0; i < 5; ++i) add_report(*busy, "v", "busy");  // v's partition moves on
        add_report(*busy, "w", "busy");
        busy->persist();
        busy->persist();  // prunes everything the first snapshot holds
    }
    // u's partition did not move: the frozen writer's next append there simply lands.
    add_report(*frozen, "u", "late");
    // v's did, and its entries are gone: the append lands below the snapshot, is withdrawn,
    // and the write is applied again above it.
    add_report(*frozen, "v", "late");
    auto check = make_journal_manager(local("check"), store_, 0);
    EXPECT_EQ(reports(*check, "u"), 2);
    EXPECT_EQ(reports(*check, "v"), 7);
    EXPECT_EQ(reports(*check, "w"), 1);
    EXPECT_EQ(tables(*check), tables(*frozen));
}

TEST(SqlDeterminism, FindsCallsOutsideLiteralsAndComments) {
    EXPECT_EQ(db::nondeterministic_call("SELECT NOW()"), "now");
    EXPECT_EQ(db::nondeterministic_call("insert into t values (random ())"), "random");
    EXPECT_EQ(db::nondeterministic_call("UPDATE t SET at = CURRENT_TIMESTAMP"),
              "current_timestamp");
    EXPECT_EQ(db::nondeterministic_call("insert into t select gen_random_uuid()"),
              "gen_random_uuid");
    EXPECT_EQ(db::nondeterministic_call("select nextval('s')"), "nextval");
    EXPECT_FALSE(db::nondeterministic_call("insert into t values ('now()', 'random()')"));
    EXPECT_FALSE(db::nondeterministic_call("select 1 -- now()\n"));
    EXPECT_FALSE(db::nondeterministic_call("select 1 /* random() */"));
    EXPECT_FALSE(db::nondeterministic_call("select nowhere(), my_random(1), \"now\" from t"));
    EXPECT_FALSE(db::nondeterministic_call("insert into t values ('it''s now()')"));
}

}  // namespace
}  // namespace k9
