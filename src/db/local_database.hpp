#pragma once
// LocalDatabase: a manager's DuckDB file. It opens (and migrates) the file, lends
// connections, keeps the seqs the file holds (the write counter of snapshot mode; every
// journal partition's seq in journal mode, table k9_partitions), and keeps whole-file
// work (CHECKPOINT + copy, closing or replacing the file) apart from transactions.
//
// Locks of the database layer, always taken in this order (a thread never takes an
// earlier one while it holds a later one):
//   1. DatabaseManager's persist mutex: one persist (compaction) at a time;
//   2. a journal partition's mutex (PartitionedJournal): one commit or catch-up of that
//      partition at a time (a thread holds at most one);
//   3. DatabaseManager's heal mutex: one reload of the file at a time;
//   4. write_gate(): shared by each write transaction, exclusive for CHECKPOINT + copy
//      and for replacing the file (no transaction is open then);
//   5. the file lock: shared by every lent connection, exclusive to close the file;
//   6. the pool mutex.
// Small leaf mutexes (a partition's queue, probe and look mutexes, the manager's state
// mutex, the health board's) are held only briefly and take nothing else.

#include <array>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/fs.hpp"
#include "db/duck.hpp"
#include "db/migrations.hpp"
#include "db/partition.hpp"

namespace k9::db {

// DuckDB's resources for the local file; 0 leaves DuckDB's default.
struct DuckDbTuning {
    int threads = 0;
    std::int64_t memory_limit_mb = 0;
};

enum class FileAccess { ReadWrite, ReadOnly };

// DuckDB's options for a k9 database file, chosen here only (the managed file, snapshot
// checks and k9db's file tools all open files with them): DuckDB writes beside the file
// (on Lambda HOME is unset; spills go to <file>.tmp), never installs or loads extensions
// on its own, and uses `tuning`.
std::map<std::string, std::string> duckdb_options(const std::filesystem::path& file,
                                                  FileAccess access = FileAccess::ReadWrite,
                                                  DuckDbTuning tuning = {});

class LocalDatabase {
  public:
    // schema: the application's tables (ManagerOptions::schema); null: k9's own only.
    explicit LocalDatabase(std::filesystem::path path, DuckDbTuning tuning = {},
                           const std::vector<Migration>* schema = nullptr);
    ~LocalDatabase();
    LocalDatabase(const LocalDatabase&) = delete;
    LocalDatabase& operator=(const LocalDatabase&) = delete;

    const std::filesystem::path& path() const { return path_; }
    bool is_open() const { return db_ != nullptr; }

    // Opens the file (creating it when absent), migrates it (the application's schema,
    // then k9's tables where missing), and loads its seqs. Throws
    // duck::Error or SchemaTooNew. The caller holds the write gate exclusively or has
    // no other user yet.
    void open();
    // Closes the file; waits for lent connections to come back.
    void close();

    // A connection of its own for as long as the Lease lives, on the open file.
    // Throws std::logic_error when the file is closed.
    class Lease {
      public:
        explicit Lease(LocalDatabase& db);
        ~Lease();
        Lease(const Lease&) = delete;
        Lease& operator=(const Lease&) = delete;
        duck::Connection& conn() { return *conn_; }

      private:
        LocalDatabase& db_;
        std::shared_lock<std::shared_mutex> file_lock_;
        std::unique_ptr<duck::Connection> conn_;
    };

    std::shared_mutex& write_gate() { return write_gate_; }

    // A connection kept by the database for single-threaded callers (the CLI): valid
    // until the file is closed or replaced.
    duck::Connection& own_connection();

    // Snapshot mode: the write counter (k9_meta 'seq').
    std::int64_t seq() const { return seq_; }
    // After meta::count_write() in a write's transaction has committed.
    void note_write() { ++seq_; }

    // Moves whenever the file's content may change other than by a commit that moves a seq:
    // opening, closing, new partition seqs, a failed commit (note_epoch()).
    std::uint64_t epoch() const { return epoch_.load(); }
    void note_epoch() { ++epoch_; }

    // Journal mode: the partitions (0 until init_partitions or a file that has them).
    int partitions() const { return partitions_; }
    std::int64_t partition_seq(int partition) const {
        return partition_seqs_[static_cast<std::size_t>(partition)];
    }
    PartitionSeqs partition_seqs() const;
    std::int64_t total_seq() const;  // the counter, or the sum of the partitions' seqs
    // After meta::write_partition_seq() in the caller's transaction has committed.
    void set_partition_seq(int partition, std::int64_t seq) {
        partition_seqs_[static_cast<std::size_t>(partition)] = seq;
    }
    // Makes the file hold `seqs` for `seqs.size()` partitions (a new journal layout, or
    // the seqs a replacement snapshot records). Caller holds the write gate exclusively.
    void init_partitions(const PartitionSeqs& seqs);
    int schema() const { return schema_; }

    // A consistent copy of the file for a snapshot, and the seqs it holds: CHECKPOINT
    // (DuckDB keeps recent commits in <db>.wal: the file alone would miss them), then a
    // copy, with no write transaction open (the write gate, exclusively).
    struct SnapshotCopy {
        fs::TempFile file;
        std::int64_t seq = 0;  // snapshot mode's counter
        PartitionSeqs seqs;    // journal mode
        int schema = 0;
    };
    SnapshotCopy copy_for_snapshot();

  private:
    void load_seqs(duck::Connection& conn);

    std::filesystem::path path_;
    DuckDbTuning tuning_;
    const std::vector<Migration>* schema_migrations_;
    std::unique_ptr<duck::Database> db_;
    std::shared_mutex write_gate_;
    std::shared_mutex file_mutex_;
    std::mutex pool_mutex_;
    std::vector<std::unique_ptr<duck::Connection>> idle_;
    std::unique_ptr<duck::Connection> own_;

    std::atomic<std::int64_t> seq_{0};
    std::atomic<std::uint64_t> epoch_{0};
    std::atomic<int> schema_{0};
    std::atomic<int> partitions_{0};  // changes only under the write gate, exclusively
    std::array<std::atomic<std::int64_t>, kMaxPartitions> partition_seqs_{};
};

}  // namespace k9::db
