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
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/time.hpp"
#include "db/duck.hpp"
#include "db/local_state.hpp"
#include "db/mutation.hpp"
#include "store/object_store.hpp"

namespace k9::db {

struct ManagerOptions {
    std::filesystem::path db_path = "/tmp/k9_api.db";  // K9_DB_PATH
    std::string key;                                   // the snapshot's object key
    const MutationRegistry* mutations = nullptr;       // besides the built-in "sql"
    Clock clock = system_clock();
    store::ProgressFn download_progress;
    store::ProgressFn upload_progress;
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
    // (nothing written) or duck::Error.
    nlohmann::json apply(const Mutation& mutation);

    // Runs `fn(duck::Connection&)` on a connection of its own.
    template <typename F>
    auto read(F&& fn) {
        Lease lease(*this);
        return fn(*lease.conn);
    }

    // Uploads a snapshot if there is anything to persist. Throws PersistConflict, or
    // StoreError when the store fails (the local database is unchanged either way).
    PersistResult persist_to_s3();

    ManagerStatus status();
    std::int64_t pending_writes();
    store::ObjectStore& store() { return *store_; }
    const ManagerOptions& options() const { return options_; }
    std::string remote_url() const { return store_->url_for(options_.key); }

private:
    struct Lease {
        explicit Lease(DatabaseManager& m);
        ~Lease();
        DatabaseManager& manager;
        std::unique_ptr<duck::Connection> conn;
    };

    void cold_start();
    std::int64_t read_seq(duck::Connection& conn);
    void close();

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
};

}  // namespace k9::db
