#include "db/local_database.hpp"

#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "db/migrations.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;

LocalDatabase::LocalDatabase(stdfs::path path, DuckDbTuning tuning)
    : path_(std::move(path)), tuning_(tuning) {}

LocalDatabase::~LocalDatabase() {
    close();
}

std::map<std::string, std::string> LocalDatabase::duckdb_options(const stdfs::path& path,
                                                                 DuckDbTuning tuning) {
    const stdfs::path dir = path.parent_path().empty() ? stdfs::path(".") : path.parent_path();
    std::map<std::string, std::string> options{{"home_directory", dir.string()},
                                               {"temp_directory", path.string() + ".tmp"},
                                               {"autoinstall_known_extensions", "false"},
                                               {"autoload_known_extensions", "false"}};
    if (tuning.threads > 0) options["threads"] = std::to_string(tuning.threads);
    if (tuning.memory_limit_mb > 0)
        options["memory_limit"] = std::to_string(tuning.memory_limit_mb) + "MiB";
    return options;
}

void LocalDatabase::open() {
    auto db = std::make_unique<duck::Database>(path_, duckdb_options(path_, tuning_));
    {
        duck::Connection conn(*db);
        migrate(conn);  // SchemaTooNew: the file is left as it is
        schema_ = schema_version(conn);
        load_seqs(conn);
    }
    std::unique_lock file_lock(file_mutex_);
    db_ = std::move(db);
    ++epoch_;
}

void LocalDatabase::close() {
    std::unique_lock file_lock(file_mutex_);  // every lent connection has come back
    std::lock_guard lock(pool_mutex_);
    idle_.clear();
    own_.reset();
    db_.reset();
    ++epoch_;
}

duck::Connection& LocalDatabase::own_connection() {
    std::shared_lock file_lock(file_mutex_);
    if (!db_) throw std::logic_error("the local database " + path_.string() + " is closed");
    std::lock_guard lock(pool_mutex_);
    if (!own_) own_ = std::make_unique<duck::Connection>(*db_);
    return *own_;
}

void LocalDatabase::load_seqs(duck::Connection& conn) {
    auto meta = conn.query("SELECT CAST(value AS BIGINT) FROM k9_meta WHERE name = 'seq'");
    seq_ = meta.rows() == 0 ? 0 : meta.int64(0, 0);
    auto rows = conn.query("SELECT p, seq FROM k9_partitions ORDER BY p");
    const int n = static_cast<int>(rows.rows());
    if (n > kMaxPartitions)
        throw std::runtime_error("k9_partitions has more than " + std::to_string(kMaxPartitions) +
                                 " rows");
    for (int i = 0; i < n; ++i) {
        if (rows.int64(0, static_cast<std::size_t>(i)) != i) {
            throw std::runtime_error("k9_partitions of " + path_.string() +
                                     " is damaged (partition " + std::to_string(i) + " missing)");
        }
        partition_seqs_[static_cast<std::size_t>(i)] = rows.int64(1, static_cast<std::size_t>(i));
    }
    partitions_ = n;
}

PartitionSeqs LocalDatabase::partition_seqs() const {
    PartitionSeqs out(static_cast<std::size_t>(partitions_.load()));
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = partition_seqs_[i];
    return out;
}

std::int64_t LocalDatabase::total_seq() const {
    if (partitions_ == 0) return seq_;
    const auto seqs = partition_seqs();
    return std::accumulate(seqs.begin(), seqs.end(), std::int64_t{0});
}

void LocalDatabase::count_write(duck::Connection& conn) {
    conn.prepared("UPDATE k9_meta SET value = value + 1 WHERE name = 'seq'").execute();
}

void LocalDatabase::write_partition_seq(duck::Connection& conn, int partition, std::int64_t seq) {
    conn.prepared("UPDATE k9_partitions SET seq = ? WHERE p = ?")
        .bind(1, seq)
        .bind(2, partition)
        .execute();
}

void LocalDatabase::init_partitions(const PartitionSeqs& seqs) {
    Lease lease(*this);
    auto& conn = lease.conn();
    duck::Transaction tx(conn);
    conn.execute("DELETE FROM k9_partitions");
    for (std::size_t p = 0; p < seqs.size(); ++p) {
        conn.prepare("INSERT INTO k9_partitions (p, seq) VALUES (?, ?)")
            .bind(1, static_cast<std::int64_t>(p))
            .bind(2, seqs[p])
            .execute();
    }
    tx.commit();
    for (std::size_t p = 0; p < seqs.size(); ++p) partition_seqs_[p] = seqs[p];
    partitions_ = static_cast<int>(seqs.size());
    ++epoch_;
}

namespace {
// CHECKPOINT, waiting out DuckDB's "other write transactions active": a transaction that
// committed while a reader was open can hold DuckDB's checkpoint lock until that reader
// finishes. No k9 write starts meanwhile (the caller holds the write gate), so the wait
// is short; after about two seconds the error goes up and the persist fails (and is
// retried later).
void checkpoint(duck::Connection& conn) {
    constexpr int kAttempts = 12;  // 1 + 2 + 4 + ... + 1024 ms, about 2 s in all
    for (int attempt = 0;; ++attempt) {
        try {
            conn.execute("CHECKPOINT");
            return;
        } catch (const duck::Error& e) {
            if (attempt + 1 >= kAttempts ||
                std::string_view(e.what()).find("other write transactions") ==
                    std::string_view::npos) {
                throw;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1 << attempt));
    }
}
}  // namespace

LocalDatabase::SnapshotCopy LocalDatabase::copy_for_snapshot() {
    std::unique_lock gate(write_gate_);
    Lease lease(*this);
    checkpoint(lease.conn());
    const std::string wal = path_.string() + ".wal";
    if (fs::file_size_or_negative(wal) > 0) {
        throw std::runtime_error("CHECKPOINT left commits in " + wal +
                                 "; refusing to upload a snapshot that would miss them");
    }
    SnapshotCopy copy{fs::TempFile(path_.parent_path(), path_.filename().string() + ".snapshot"),
                      seq_, partition_seqs(), schema_};
    fs::copy_into(path_, copy.file.fd(), copy.file.path());
    return copy;
}

LocalDatabase::Lease::Lease(LocalDatabase& db) : db_(db), file_lock_(db.file_mutex_) {
    if (!db_.db_) throw std::logic_error("the local database " + db_.path_.string() + " is closed");
    std::lock_guard lock(db_.pool_mutex_);
    if (!db_.idle_.empty()) {
        conn_ = std::move(db_.idle_.back());
        db_.idle_.pop_back();
    } else {
        conn_ = std::make_unique<duck::Connection>(*db_.db_);
    }
}

LocalDatabase::Lease::~Lease() {
    std::lock_guard lock(db_.pool_mutex_);
    db_.idle_.push_back(std::move(conn_));
}

}  // namespace k9::db
