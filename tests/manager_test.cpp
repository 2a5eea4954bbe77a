// DatabaseManager: cold start, persist and the ways they must not lose data.
#include <gtest/gtest.h>

#include <thread>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "db/migrations.hpp"
#include "db/snapshot.hpp"
#include "repo/mutations.hpp"
#include "repo/user_repository.hpp"
#include "support/db_fixture.hpp"
#include "support/faulty_store.hpp"
#include "support/log_capture.hpp"

namespace k9 {
namespace {

using db::ColdStartError;
using db::PersistConflict;
using test::make_manager;

class ManagerTest : public ::testing::Test {
  protected:
    std::filesystem::path local(const std::string& name) {
        std::filesystem::create_directories(tmp_ / name);
        return tmp_ / name / "k9_api.db";
    }
    // A snapshot in the store holding `users` (made by a throwaway manager).
    void seed_snapshot(const std::vector<std::string>& users) {
        auto m = make_manager(local("seed"), store_);
        repo::UserRepository repo(*m);
        for (const auto& u : users) repo.upsert_profile(u, {u + " name", {}, {}, {}});
        m->persist();
    }
    bool has_user(db::DatabaseManager& m, const std::string& id) {
        return repo::UserRepository(m).get_user(id).has_value();
    }

    test::TempDir tmp_;
    std::shared_ptr<store::FileStore> store_ = std::make_shared<store::FileStore>(tmp_ / "store");
};

// K9_DUCKDB_THREADS and K9_DUCKDB_MEMORY_LIMIT reach DuckDB.
TEST_F(ManagerTest, DuckDbRunsWithTheConfiguredThreadsAndMemory) {
    db::ManagerOptions o;
    o.db_path = local("tuned");
    o.key = test::kSnapshotKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Snapshot;
    o.duckdb = {3, 100};
    db::DatabaseManager m(o, store_);
    m.open();
    const auto [threads, memory] = m.read([](duck::Connection& c) {
        auto r = c.query("SELECT current_setting('threads'), current_setting('memory_limit')");
        return std::make_pair(r.int64(0, 0), r.text(1, 0));
    });
    EXPECT_EQ(threads, 3);
    EXPECT_EQ(memory, "100.0 MiB");
}

TEST_F(ManagerTest, MissingSnapshotCreatesANewDatabaseWithTheDocumentedLogs) {
    test::LogCapture logs;
    auto m = make_manager(local("a"), store_);
    m->get_connection();
    const std::string url = store_->url_for(test::kSnapshotKey);
    EXPECT_TRUE(logs.has("WARN", "Database not found in the file store: " + url));
    EXPECT_TRUE(logs.has("INFO", "Will create new database locally"));
    EXPECT_EQ(m->status().origin, "created");
    EXPECT_EQ(m->status().schema_version, db::latest_schema_version(repo::k9_schema()));
}

TEST_F(ManagerTest, ACommitOnlyInTheWalSurvivesPersistAndAColdStartElsewhere) {
    auto a = make_manager(local("a"), store_);
    a->get_connection();
    a->persist();
    repo::UserRepository(*a).upsert_profile("wal-user", {"Only in the WAL", {}, {}, {}});
    const auto db_file = local("a");
    ASSERT_GT(fs::file_size_if_exists(db_file.string() + ".wal").value_or(0), 0u)
        << "the write should sit in the WAL";

    // The trap: the .db file alone does not hold the write.
    std::filesystem::copy_file(db_file, tmp_ / "naive.db");
    {
        duck::Database naive(tmp_ / "naive.db", {});
        duck::Connection conn(naive);
        EXPECT_EQ(conn.query("SELECT count(*) FROM users WHERE user_id = 'wal-user'").int64(0, 0),
                  0);
    }

    a->persist();
    auto b = make_manager(local("b"), store_);
    EXPECT_TRUE(has_user(*b, "wal-user"));
    EXPECT_EQ(b->status().origin, "downloaded");
    EXPECT_EQ(b->status().pending_writes, 0);
}

TEST_F(ManagerTest, TwoManagersFromOneBaseBothPersistAndExactlyOneWins) {
    seed_snapshot({"base"});
    auto a = make_manager(local("a"), store_);
    auto b = make_manager(local("b"), store_);
    repo::UserRepository(*a).upsert_profile("from-a", {"A", {}, {}, {}});
    repo::UserRepository(*b).upsert_profile("from-b", {"B", {}, {}, {}});

    std::atomic<int> won{0}, conflicts{0};
    auto persist = [&](db::DatabaseManager& m) {
        try {
            m.persist();
            ++won;
        } catch (const PersistConflict&) {
            ++conflicts;
        }
    };
    std::thread ta([&] { persist(*a); });
    std::thread tb([&] { persist(*b); });
    ta.join();
    tb.join();
    EXPECT_EQ(won, 1);
    EXPECT_EQ(conflicts, 1);

    // The remote holds the winner's data, intact, and nothing of the loser.
    auto c = make_manager(local("c"), store_);
    const bool a_won = has_user(*c, "from-a");
    EXPECT_NE(a_won, has_user(*c, "from-b"));
    EXPECT_TRUE(has_user(*c, "base"));
    // The loser keeps its write locally, still pending.
    db::DatabaseManager& loser = a_won ? *b : *a;
    EXPECT_TRUE(has_user(loser, a_won ? "from-b" : "from-a"));
    EXPECT_EQ(loser.status().pending_writes, 1);
}

TEST_F(ManagerTest, ACorruptSnapshotFailsColdStartAndLeavesTheLocalFileUntouched) {
    seed_snapshot({"base"});
    // Damage the stored bytes in place (same size): the store's checksum catches it.
    const auto object = tmp_ / "store" / test::kSnapshotKey;
    std::string bytes = test::slurp(object);
    bytes[bytes.size() / 2] ^= 0x5a;
    {
        FILE* f = std::fopen(object.c_str(), "r+b");
        ASSERT_NE(f, nullptr);
        std::fwrite(bytes.data(), 1, bytes.size(), f);
        std::fclose(f);
    }
    // The local path holds a file that is not a database (say, a partial earlier copy).
    const auto path = local("a");
    test::spit(path, "precious partial bytes");
    auto m = make_manager(path, store_);
    try {
        m->get_connection();
        FAIL() << "cold start should fail";
    } catch (const ColdStartError& e) {
        EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("No local database was created"), std::string::npos);
    }
    EXPECT_EQ(test::slurp(path), "precious partial bytes");
    EXPECT_FALSE(std::filesystem::exists(db::LocalState::path_for(path)));
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".wal"));
}

TEST_F(ManagerTest, ASnapshotThatIsNotADuckDBFileIsRefused) {
    store_->put_bytes("this is not a database, just some text that is long enough",
                      test::kSnapshotKey);
    auto m = make_manager(local("a"), store_);
    try {
        m->get_connection();
        FAIL() << "cold start should fail";
    } catch (const ColdStartError& e) {
        EXPECT_NE(std::string(e.what()).find("not a DuckDB database"), std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(local("a")));
}

TEST_F(ManagerTest, ASnapshotDuckDBCannotOpenIsMovedAsideAndNothingIsCreated) {
    // Right checksum (uploaded as it is), right magic, damaged inside.
    seed_snapshot({"base"});
    std::string bytes = test::slurp(tmp_ / "store" / test::kSnapshotKey);
    for (std::size_t i = 100; i < 4000; ++i) bytes[i] = static_cast<char>(bytes[i] ^ 0xff);
    test::spit(tmp_ / "damaged.db", bytes);
    store_->put_file(tmp_ / "damaged.db", test::kSnapshotKey);
    const auto path = local("a");
    auto m = make_manager(path, store_);
    EXPECT_THROW(m->get_connection(), ColdStartError);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_FALSE(std::filesystem::exists(db::LocalState::path_for(path)));
}

TEST_F(ManagerTest, DownloadOverAGoodFileKeepsItWhenTheSnapshotIsCorrupt) {
    seed_snapshot({"base"});
    const auto target = tmp_ / "good.db";
    db::download_snapshot(*store_, test::kSnapshotKey, target);
    const std::string before = sha256_file_hex(target);
    const auto object = tmp_ / "store" / test::kSnapshotKey;
    std::string bytes = test::slurp(object);
    bytes[100] ^= 1;
    FILE* f = std::fopen(object.c_str(), "r+b");
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    EXPECT_THROW(db::download_snapshot(*store_, test::kSnapshotKey, target), store::StoreError);
    EXPECT_EQ(sha256_file_hex(target), before);
    for (const auto& e : std::filesystem::directory_iterator(tmp_.path())) {
        EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos)
            << "temp file left: " << e.path();
    }
}

TEST_F(ManagerTest, AnAccessErrorCreatesNoDatabase) {
    seed_snapshot({"base"});
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    faulty->fail(test::FaultyStore::Op::Get, store::ErrorKind::AccessDenied);
    test::LogCapture logs;
    const auto path = local("a");
    auto m = make_manager(path, faulty);
    EXPECT_THROW(m->get_connection(), ColdStartError);
    EXPECT_FALSE(std::filesystem::exists(path));
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".wal"));
    EXPECT_FALSE(std::filesystem::exists(db::LocalState::path_for(path)));
    bool logged = false;
    for (const auto& l : logs.lines()) {
        logged |= l["level"] == "ERROR" && l["message"].get<std::string>().rfind(
                                               "Failed to download from the file store:", 0) == 0;
    }
    EXPECT_TRUE(logged);
    // The remote is untouched and a later, healthy start downloads it.
    faulty->heal();
    auto again = make_manager(path, faulty);
    EXPECT_TRUE(has_user(*again, "base"));
}

TEST_F(ManagerTest, ATransientErrorCreatesNoDatabaseEither) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    faulty->fail(test::FaultyStore::Op::Get, store::ErrorKind::Transient);
    const auto path = local("a");
    auto m = make_manager(path, faulty);
    EXPECT_THROW(m->get_connection(), ColdStartError);
    EXPECT_FALSE(std::filesystem::exists(path));
}

TEST_F(ManagerTest, ANewerSchemaIsRefused) {
    {
        duck::Database db(tmp_ / "future.db", {});
        duck::Connection conn(db);
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, applied_at "
            "TIMESTAMP)");
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'from the future', now())");
    }
    store_->put_file(tmp_ / "future.db", test::kSnapshotKey);
    auto m = make_manager(local("a"), store_);
    try {
        m->get_connection();
        FAIL() << "a newer schema must be refused";
    } catch (const db::SchemaTooNew& e) {
        EXPECT_EQ(e.found, 99);
        EXPECT_NE(std::string(e.what()).find("upgrade k9"), std::string::npos);
    }
    // Nothing was changed: the downloaded file still says 99 and has no k9 tables.
    auto summary = db::summarize_tables(local("a"));
    EXPECT_EQ(summary.count("users"), 0u);
}

TEST_F(ManagerTest, PendingWritesAndTheBaseETagSurviveANewProcess) {
    const auto path = local("a");
    std::string etag;
    {
        auto m = make_manager(path, store_);
        etag = m->persist().etag;
        repo::UserRepository(*m).upsert_profile("u1", {"One", {}, {}, {}});
        repo::UserRepository(*m).upsert_profile("u2", {"Two", {}, {}, {}});
    }  // the process ends with two writes not persisted
    {
        auto m = make_manager(path, store_);
        auto st = m->status();
        EXPECT_EQ(st.pending_writes, 2);
        EXPECT_EQ(st.base_etag, etag);
        auto r = m->persist();  // If-Match the ETag the first process started from
        EXPECT_TRUE(r.uploaded);
        EXPECT_EQ(m->status().pending_writes, 0);
        EXPECT_FALSE(m->persist().uploaded);  // nothing left
    }
    // Someone else moves the remote on; our next persist must conflict.
    {
        auto other = make_manager(local("b"), store_);
        repo::UserRepository(*other).upsert_profile("u3", {"Three", {}, {}, {}});
        other->persist();
    }
    auto m = make_manager(path, store_);
    repo::UserRepository(*m).upsert_profile("u4", {"Four", {}, {}, {}});
    try {
        m->persist();
        FAIL() << "expected a conflict";
    } catch (const PersistConflict& e) {
        EXPECT_NE(std::string(e.what()).find("Nothing was overwritten"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find("--upload"), std::string::npos);
    }
    auto check = make_manager(local("c"), store_);
    EXPECT_TRUE(has_user(*check, "u3"));
    EXPECT_FALSE(has_user(*check, "u4"));
}

TEST_F(ManagerTest, APersistWhoseResponseWasLostIsRecognisedOnRetry) {
    auto faulty = std::make_shared<test::FaultyStore>(store_);
    auto m = make_manager(local("a"), faulty);
    m->persist();
    repo::UserRepository(*m).upsert_profile("u1", {"One", {}, {}, {}});
    faulty->fail_after_put(store::ErrorKind::Transient);
    EXPECT_THROW(m->persist(), store::StoreError);
    EXPECT_EQ(m->status().pending_writes, 1);
    faulty->heal();
    // The retry's If-Match fails (the upload did land), but the remote is our bytes.
    auto r = m->persist();
    EXPECT_TRUE(r.uploaded);
    EXPECT_EQ(m->status().pending_writes, 0);
    EXPECT_EQ(m->status().base_etag, store_->head(test::kSnapshotKey).etag);
}

TEST_F(ManagerTest, ALocalFileOfAnotherRemoteIsRefused) {
    const auto path = local("a");
    make_manager(path, store_, "databases/k9_api_dev.db")->persist();
    auto m = make_manager(path, store_, "databases/k9_api_prod.db");
    try {
        m->get_connection();
        FAIL() << "expected a refusal";
    } catch (const ColdStartError& e) {
        EXPECT_NE(std::string(e.what()).find("belongs to"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(store_->head_if_exists("databases/k9_api_prod.db"));
}

TEST_F(ManagerTest, ALocalFileOfUnknownOriginNeverReplacesAnExistingRemote) {
    seed_snapshot({"base"});
    const auto path = local("a");
    {
        duck::Database db(path, {});  // a database put there by hand, no state file
        duck::Connection conn(db);
        conn.execute("CREATE TABLE stray (x INTEGER)");
    }
    auto m = make_manager(path, store_);
    EXPECT_EQ(m->status().origin, "unknown");
    EXPECT_THROW(m->persist(), PersistConflict);
    auto check = make_manager(local("c"), store_);
    EXPECT_TRUE(has_user(*check, "base"));
}

TEST_F(ManagerTest, ASecondManagerOnTheSameFileIsRefused) {
    const auto path = local("a");
    auto first = make_manager(path, store_);
    first->get_connection();
    auto second = make_manager(path, store_);
    EXPECT_THROW(second->get_connection(), ColdStartError);
}

TEST_F(ManagerTest, AnUnusableLocalFileIsMovedAsideNotDeleted) {
    seed_snapshot({"base"});
    const auto path = local("a");
    test::spit(path, "garbage that is not a database");
    auto m = make_manager(path, store_);
    EXPECT_TRUE(has_user(*m, "base"));
    bool kept = false;
    for (const auto& e : std::filesystem::directory_iterator(path.parent_path())) {
        if (e.path().filename().string().rfind("k9_api.db.corrupt-", 0) == 0) {
            kept = test::slurp(e.path()) == "garbage that is not a database";
        }
    }
    EXPECT_TRUE(kept);
}

TEST_F(ManagerTest, ARejectedMutationWritesNothing) {
    auto m = make_manager(local("a"), store_);
    const auto before = m->status().seq;
    EXPECT_THROW(
        repo::UserRepository(*m).upsert_profile("u", {std::nullopt, std::string("a@b.c"), {}, {}}),
        db::MutationRejected);
    EXPECT_EQ(m->status().seq, before);
    EXPECT_FALSE(has_user(*m, "u"));
}

TEST_F(ManagerTest, ConcurrentWritesAndReadsFromManyThreads) {
    auto m = make_manager(local("a"), store_);
    repo::UserRepository users(*m);
    constexpr int kThreads = 4, kWrites = 25;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kWrites; ++i) {
                const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
                users.upsert_profile(id, {id, {}, {}, {}});
                EXPECT_TRUE(users.get_user(id).has_value());
            }
        });
    }
    std::thread persister([&] {
        for (int i = 0; i < 5; ++i) m->persist();
    });
    for (auto& t : threads) t.join();
    persister.join();
    EXPECT_EQ(m->status().seq, kThreads * kWrites);
    m->persist();
    auto check = make_manager(local("c"), store_);
    auto n = check->read(
        [](duck::Connection& c) { return c.query("SELECT count(*) FROM users").int64(0, 0); });
    EXPECT_EQ(n, kThreads * kWrites);
}

}  // namespace
}  // namespace k9
