#pragma once
// DatabaseManager: the local DuckDB file and its snapshot in the object store; the one
// door for reads, writes and persistence.
//
//  - Cold start (open / get_connection): a valid local file is used as it is;
//    otherwise the snapshot is downloaded to a temp file, verified and renamed into
//    place. A missing snapshot creates a new database; any other failure creates
//    nothing and throws ColdStartError (an empty database persisted later would
//    destroy the real one). Migrations run after opening. In journal mode a cold start
//    reads the snapshot and nothing else: each journal partition catches up when it is
//    first used.
//  - Writes: apply() is the one door, for a typed mutation (its result as it is) or for
//    one in its journal form (k9db sql). Journal mode (PartitionedJournal): the write is
//    in the store before it is acknowledged. Snapshot mode: each write's
//    transaction also advances k9_meta.seq, so "pending writes" is exact and crash-safe.
//  - Reads: refresh(owner) makes the owner's data fresh (journal mode), read() lends a
//    connection of its own.
//  - Persist: snapshot mode uploads the file with If-Match on the ETag it came from (a
//    changed remote throws PersistConflict and overwrites nothing); journal mode
//    compacts (Compactor).
//  - A copy that cannot apply what is in the store (a failed local commit, a full
//    disk) answers Unavailable and reloads itself (see ensure_usable).
//
// The parts: LocalDatabase (the file, its connections and seqs; its header has the lock
// order), PartitionedJournal (journal writes, freshness), Compactor (journal persist),
// upgrade_to_partitions (a store of older k9). One manager per local file: a lock file
// (<db>.lock) keeps other processes out. Thread-safe, but get_connection() is for
// single-threaded callers (the CLI).

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/time.hpp"
#include "db/compactor.hpp"
#include "db/duck.hpp"
#include "db/health.hpp"
#include "db/local_database.hpp"
#include "db/local_state.hpp"
#include "db/migrations.hpp"
#include "db/mutation.hpp"
#include "db/partitioned_journal.hpp"
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
    // The application's tables, as migrations (the K9 API's: repo::k9_schema()); null:
    // none, only k9's own bookkeeping (db/k9_meta.hpp).
    const std::vector<Migration>* schema = nullptr;
    Clock clock = system_clock();
    store::ProgressFn download_progress;
    store::ProgressFn upload_progress;
    Durability durability = Durability::Journal;  // K9_DURABILITY, the product's default
    std::int64_t journal_retention_s = 3600;      // K9_JOURNAL_RETENTION
    std::int64_t max_staleness_ms = 0;            // K9_MAX_STALENESS_MS
    std::size_t max_batch = 256;          // mutations per journal entry (1: no group commit)
    int partitions = kDefaultPartitions;  // K9_JOURNAL_PARTITIONS: for a journal made here
    std::string writer_id;                // unique per process; generated when empty
    DuckDbTuning duckdb;                  // K9_DUCKDB_THREADS, K9_DUCKDB_MEMORY_LIMIT
};

// DatabaseManager::data_version().
struct DataVersion {
    std::uint64_t epoch = 0;
    std::int64_t seq = 0;
    bool operator==(const DataVersion&) const = default;
};

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
    int partitions = 0;         // journal mode
    std::int64_t seq = 0;       // writes this copy holds (journal: the partitions' sum)
    std::int64_t base_seq = 0;  // ... and the snapshot it is based on
    std::int64_t pending_writes = 0;
    std::int64_t longest_tail = 0;  // journal: most entries one partition has beyond the snapshot
    std::optional<std::int64_t> last_persist;
    std::optional<std::int64_t> last_download;
    std::optional<std::int64_t> last_refresh;  // journal: when a partition was last known fresh
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

class DatabaseManager : private JournalHost {
  public:
    DatabaseManager(ManagerOptions options, std::shared_ptr<store::ObjectStore> store);
    ~DatabaseManager() override;
    DatabaseManager(const DatabaseManager&) = delete;
    DatabaseManager& operator=(const DatabaseManager&) = delete;

    // Cold start if not done yet. Throws ColdStartError, SchemaTooNew, or UnsafeStore
    // (journal mode on a store that ignores conditional writes).
    void open();
    bool is_open() const;
    // For single-threaded callers (the CLI): valid until the next write or persist.
    duck::Connection& get_connection();

    // Applies a typed mutation; returns its result. Journal mode: the mutation must name
    // its owner (invalid_argument otherwise). Throws MutationRejected (nothing written),
    // Unavailable (this copy cannot serve now: see health()), StoreError or duck::Error.
    template <TypedMutation M>
    typename M::Result apply(const M& mutation) {
        return std::any_cast<typename M::Result>(apply_erased(
            journal_form(mutation),
            [mutation](duck::Connection& conn) { return std::any(mutation.apply(conn)); }));
    }
    // The same for a mutation in its journal form (k9db sql, "sql"; a registered name):
    // its result as JSON.
    nlohmann::json apply(const Mutation& mutation);

    // Runs `fn(duck::Connection&)` on a connection of its own, on committed state.
    template <typename F>
    auto read(F&& fn) {
        open();
        ensure_usable();
        LocalDatabase::Lease lease(db_);
        return fn(lease.conn());
    }

    // What a read of `owner` sees, as a version that moves with every change to it: the
    // file's epoch (opened, closed, reloaded, failed) and the owner's partition seq
    // (journal mode) or the write counter (snapshot mode). It moves after a write's
    // commit and before the write is acknowledged. Take it after refresh() and before
    // reading; nullopt while this copy cannot serve reads.
    std::optional<DataVersion> data_version(const std::string& owner);

    // Journal mode: makes the owner's partition fresh (one GET when nothing is new; none
    // within K9_MAX_STALENESS_MS of the last look). Snapshot mode: nothing. Throws
    // Unavailable (a damaged partition, an unusable copy), StoreError.
    void refresh(const std::string& owner);
    // Journal mode: every partition (a LIST of the whole journal).
    void refresh_all();

    // Writes a snapshot to the store (file:// or s3://) if there is anything to persist.
    // Journal mode: a compaction (the snapshot records every partition's seq; the entries
    // it covers are removed later); never conflicts, the journal holds every write.
    // Snapshot mode (the seed's design): uploads the local file, and throws PersistConflict
    // when the remote moved on. StoreError when the store fails.
    PersistResult persist();
    // The seed's name for persist(), kept for the K9 API's code that calls it.
    PersistResult persist_to_s3() { return persist(); }

    // Never throws for a copy that is unusable: it reports why (problem).
    ManagerStatus status();
    std::int64_t pending_writes();
    // Journal mode: the most entries one partition holds beyond the snapshot this copy
    // knows (a compaction bounds it); 0 in snapshot mode.
    std::int64_t longest_tail();
    const HealthBoard& health() const { return health_; }
    store::ObjectStore& store() { return *store_; }
    const ManagerOptions& options() const { return options_; }
    std::string remote_url() const { return store_->url_for(options_.key); }
    // The journal partition of an owner (journal mode, once open).
    int partition_of(const std::string& owner) const;

  private:
    // JournalHost
    const MutationFn& mutation_fn(const std::string& name) const override;
    const BatchFn* batch_fn(const std::string& name) const override;
    void reload() override;
    Unavailable local_failure(const std::string& detail) override;

    std::any apply_erased(const Mutation& mutation, const LocalApply& run);
    void cold_start();
    // Journal mode, after a downloaded or new file is open: its partitions, from the
    // snapshot or by upgrading the store (then `snapshot` becomes the one uploaded);
    // false when another container's upgrade won (start again).
    bool settle_partitions(std::optional<store::ObjectInfo>& snapshot);
    std::any apply_snapshot_mode(const LocalApply& run);
    PersistResult persist_snapshot_mode();
    PersistResult compact();
    void remember_snapshot(const store::ObjectInfo& info, std::int64_t seq,
                           const PartitionSeqs& seqs, int schema, bool persisted);

    // A copy that cannot apply what is in the store. ensure_usable() reloads it
    // (journal mode: from the store; snapshot mode: reopening the local file) or
    // throws Unavailable, at most once a second while that keeps failing.
    void ensure_usable();
    // Replaces the local file with the snapshot (a new database when there is none) and
    // opens it. With discard_local the broken local file goes first, freeing its space.
    void reload_file(bool discard_local);
    std::string disk_full_message(const std::exception& e);

    ManagerOptions options_;
    std::shared_ptr<store::ObjectStore> store_;
    LocalDatabase db_;
    HealthBoard health_;
    std::unique_ptr<PartitionedJournal> journal_;  // journal mode
    std::unique_ptr<Compactor> compactor_;         // journal mode

    std::mutex open_mutex_;
    std::optional<fs::FileLock> process_lock_;
    std::mutex snapshot_write_mutex_;  // snapshot mode: one write at a time
    std::mutex persist_mutex_;         // one persist at a time
    std::mutex state_mutex_;           // guards state_
    LocalState state_;

    std::atomic<bool> unusable_{false};  // the Local slot is set: heal before serving
    std::mutex heal_mutex_;              // one reload at a time; guards last_heal_attempt_
    Instant last_heal_attempt_;
};

}  // namespace k9::db
