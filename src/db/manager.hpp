#pragma once
// DatabaseManager: the local DuckDB file and its snapshot in the object store.
//
//  - Cold start (open / get_connection): a valid local file is used as it is;
//    otherwise the snapshot is downloaded to a temp file, verified and renamed into
//    place. A missing snapshot creates a new database; any other failure creates
//    nothing and throws ColdStartError (an empty database persisted later would
//    destroy the real one). Migrations run after opening.
//  - Writes: apply(Mutation) is the one door. Each mutation runs in a transaction that
//    also advances k9_meta.seq, so "pending writes" is exact and crash-safe.
//  - Persist: CHECKPOINT (folds the .wal into the file), copy, upload with If-Match on
//    the ETag the file came from (If-None-Match: * when created here). A changed remote
//    throws PersistConflict and overwrites nothing.
//
// One manager per local file: a lock file (<db>.lock) keeps other processes out.
// Thread-safe: apply/persist/status may be called from any thread; read() gives each
// caller its own connection. get_connection() returns the manager's own connection,
// for single-threaded callers (the CLI).

#include <filesystem>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "db/duck.hpp"
#include "db/health.hpp"
#include "db/journal.hpp"
#include "db/local_state.hpp"
#include "db/mutation.hpp"
#include "store/object_store.hpp"

namespace k9::db {

// How acknowledged writes are made durable (K9_DURABILITY).
enum class Durability {
    // Every write goes to the journal in the store before it is acknowledged; persist
    // writes a snapshot and, later, removes the journal entries it covers.
    Journal,
    // Writes live in the local file until persist uploads a snapshot (the seed's design:
    // a container lost before its persist loses them).
    Snapshot,
};

struct ManagerOptions {
    std::filesystem::path db_path = "/tmp/k9_api.db";  // K9_DB_PATH
    std::string key;                                   // the snapshot's object key
    const MutationRegistry* mutations = nullptr;       // besides the built-in "sql"
    Clock clock = system_clock();
    store::ProgressFn download_progress;
    store::ProgressFn upload_progress;
    Durability durability = Durability::Snapshot;
    std::int64_t journal_retention_s = 3600;  // K9_JOURNAL_RETENTION
    std::int64_t max_staleness_ms = 0;        // K9_MAX_STALENESS_MS
    std::size_t max_batch = 256;              // mutations per journal entry (1: no group commit)
    std::string writer_id;                    // unique per process; generated when empty
};

// Copies the K9_DURABILITY settings into manager options.
void apply_durability(const config::DurabilitySettings& settings, ManagerOptions& options);

// Cold start failed; no database was created or changed.
class ColdStartError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The remote snapshot changed since the local file's base; nothing was overwritten.
class PersistConflict : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ManagerStatus {
    std::string durability;  // journal | snapshot
    std::string db_path;
    std::uint64_t local_bytes = 0;  // database file plus its .wal
    std::string remote;             // URL of the snapshot
    std::string origin;             // downloaded | created | unknown
    std::optional<std::string> base_etag;
    int schema_version = 0;
    std::int64_t seq = 0;
    std::int64_t base_seq = 0;
    std::int64_t pending_writes = 0;
    std::optional<std::int64_t> last_persist;
    std::optional<std::int64_t> last_download;
    std::optional<std::int64_t> last_refresh;  // journal: when the journal was last read
    std::optional<double> refresh_lag_ms;      // journal: how long ago that was
    std::optional<HealthIssue> problem;        // what stops requests now, if anything
    std::vector<HealthIssue> warnings;         // what is wrong but does not stop them
    nlohmann::json to_json() const;
};

struct PersistResult {
    bool uploaded = false;
    std::string etag;
    std::int64_t seq = 0;
    std::uint64_t bytes = 0;
    double duration_ms = 0;
};

class DatabaseManager {
public:
    DatabaseManager(ManagerOptions options, std::shared_ptr<store::ObjectStore> store);
    ~DatabaseManager();
    DatabaseManager(const DatabaseManager&) = delete;
    DatabaseManager& operator=(const DatabaseManager&) = delete;

    // Cold start if not done yet. Throws ColdStartError or SchemaTooNew.
    void open();
    bool is_open() const;
    duck::Connection& get_connection();

    // Applies a mutation in a transaction; returns its result. Throws MutationRejected
    // (nothing written), Unavailable (this copy cannot serve now: see health()),
    // StoreError or duck::Error.
    nlohmann::json apply(const Mutation& mutation);

    // Runs `fn(duck::Connection&)` on a connection of its own.
    template <typename F>
    auto read(F&& fn) {
        Lease lease(*this);
        return fn(*lease.conn);
    }

    // Journal mode: applies journal entries newer than this copy when the last look at
    // the journal is older than max_staleness_ms (0: always). Snapshot mode: nothing.
    // Throws Unavailable when the journal cannot be read to the end (a hole, a damaged
    // entry) or this copy cannot apply it, StoreError when the store fails.
    void refresh_if_stale();

    // Uploads a snapshot if there is anything to persist. Snapshot mode: throws
    // PersistConflict when the remote moved on. Journal mode (compaction): never
    // conflicts (the journal holds every write); removes journal entries covered by a
    // snapshot older than the retention delay. StoreError when the store fails.
    PersistResult persist_to_s3();

    // Never throws for a copy that is unusable: it reports why (problem).
    ManagerStatus status();
    const HealthBoard& health() const { return health_; }
    std::int64_t pending_writes();
    store::ObjectStore& store() { return *store_; }
    const ManagerOptions& options() const { return options_; }
    std::string remote_url() const { return store_->url_for(options_.key); }
    const std::string& writer_id() const { return options_.writer_id; }

private:
    struct Lease {
        explicit Lease(DatabaseManager& m);
        ~Lease();
        DatabaseManager& manager;
        std::shared_lock<std::shared_mutex> db_lock;
        std::unique_ptr<duck::Connection> conn;
    };
    struct PendingWrite;

    static std::map<std::string, std::string> duckdb_options(const std::filesystem::path& db_path);
    void cold_start();
    std::int64_t read_seq(duck::Connection& conn);
    void close();
    // Opens the local file as the manager's database (and migrates it); sets seq_, schema_.
    void open_local();
    void close_local();

    // A copy that cannot apply what is in the store (manager_heal.cpp). ensure_usable()
    // reloads it (journal mode: from the store; snapshot mode: reopening the local file)
    // or throws Unavailable, at most once a second while it keeps failing.
    void ensure_usable();
    void ensure_usable_locked();  // the caller holds write_mutex_
    Unavailable mark_local_unusable(const std::string& detail);
    void heal_locked();
    // Replaces the local file with the snapshot (a new database when there is none) and
    // opens it. With discard_local the broken local file goes first, freeing its space.
    void reload_locked(bool discard_local);
    // "not enough disk space ..." for an ENOSPC while fetching the snapshot.
    std::string disk_full_message(const std::exception& e);
    const MutationFn& mutation_fn(const std::string& name) const;
    // A consistent copy of the database file (CHECKPOINT first) and what it holds.
    struct SnapshotCopy {
        std::optional<fs::TempFile> file;
        std::int64_t seq = 0;
        int schema = 0;
    };
    SnapshotCopy snapshot_copy();

    // Journal mode (manager_journal.cpp). *_locked: the caller holds write_mutex_.
    nlohmann::json apply_journaled(const Mutation& mutation);
    void commit_batch(std::vector<std::shared_ptr<PendingWrite>>& batch);
    void catch_up_locked();
    void replay_entry_locked(const JournalEntry& entry);
    std::int64_t snapshot_seq_now();
    bool fenced_out(std::int64_t seq);
    // Keeps the health board in step with a refresh or write that failed.
    void note_failure(std::exception_ptr e);
    PersistResult compact();
    int prune_journal(const store::ObjectInfo& snapshot);
    void check_seq_owners(std::int64_t after);

    ManagerOptions options_;
    std::shared_ptr<store::ObjectStore> store_;

    std::mutex open_mutex_;
    std::optional<fs::FileLock> process_lock_;
    std::unique_ptr<duck::Database> db_;
    std::unique_ptr<duck::Connection> conn_;  // writes and get_connection()
    LocalState state_;
    std::atomic<std::int64_t> seq_{0};  // k9_meta.seq, kept in step by apply()
    std::atomic<int> schema_{0};

    std::mutex write_mutex_;    // one writer at a time; held across CHECKPOINT + copy
    std::mutex persist_mutex_;  // one persist at a time
    std::mutex state_mutex_;    // guards state_
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<duck::Connection>> idle_;
    std::shared_mutex db_mutex_;  // readers share it; a reload (file replaced) takes it alone

    // Journal mode.
    std::unique_ptr<Journal> journal_;
    std::mutex queue_mutex_;
    std::vector<std::shared_ptr<PendingWrite>> queue_;
    std::atomic<double> last_refresh_ms_{0};   // monotonic: the journal was last read then
    std::atomic<std::int64_t> last_refresh_at_{0};  // wall clock, for status
    // When this copy last knew the journal had no entry above seq_ (guarded by
    // write_mutex_): the fencing fast path's reference point (see fenced_out).
    Instant last_look_;

    HealthBoard health_;
    std::atomic<bool> unusable_{false};  // the Local slot is set: heal before serving
    Instant last_heal_attempt_;          // guarded by write_mutex_
};

}  // namespace k9::db
