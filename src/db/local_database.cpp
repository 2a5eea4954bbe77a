#include "db/local_database.hpp"

#include <chrono>
#include <numeric>
#include <stdexcept>
#include <thread>

#include "db/k9_meta.hpp"
#include "db/migrations.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;

LocalDatabase::LocalDatabase(stdfs::path path, DuckDbTuning tuning,
                             const std::vector<Migration>* schema)
    : path_(std::move(path)), tuning_(tuning), schema_migrations_(schema) {}

LocalDatabase::~LocalDatabase() {
    close();
}

std::map<std::string, std::string> duckdb_options(const stdfs::path& file, FileAccess access,
                                                  DuckDbTuning tuning) {
    const stdfs::path dir = file.parent_path().empty() ? stdfs::path(".") : file.parent_path();
    std::map<std::string, std::string> options{{"home_directory", dir.string()},
                                               {"temp_directory", file.string() + ".tmp"},
                                               {"autoinstall_known_extensions", "false"},
                                               {"autoload_known_extensions", "false"}};
    if (access == FileAccess::ReadOnly) options["access_mode"] = "READ_ONLY";
    if (tuning.threads > 0) options["threads"] = std::to_string(tuning.threads);
    if (tuning.memory_limit_mb > 0)
        options["memory_limit"] = std::to_string(tuning.memory_limit_mb) + "MiB";
    return options;
}

void LocalDatabase::open() {
    auto db = std::make_unique<duck::Database>(
        path_, duckdb_options(path_, FileAccess::ReadWrite, tuning_));
    {
        duck::Connection conn(*db);
        static const std::vector<Migration> kNone;
        // SchemaTooNew: the file is left as it is (thrown before anything is written).
        migrate(conn, schema_migrations_ != nullptr ? *schema_migrations_ : kNone);
        meta::create_tables(conn);
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
    seq_ = meta::read_seq(conn).value_or(0);
    std::vector<std::int64_t> seqs;
    try {
        seqs = meta::read_partition_seqs(conn);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(path_.string() + ": " + e.what());
    }
    if (seqs.size() > static_cast<std::size_t>(kMaxPartitions))
        throw std::runtime_error("k9_partitions of " + path_.string() + " has more than " +
                                 std::to_string(kMaxPartitions) + " rows");
    std::copy(seqs.begin(), seqs.end(), partition_seqs_.begin());
    partitions_ = static_cast<int>(seqs.size());
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

void LocalDatabase::init_partitions(const PartitionSeqs& seqs) {
    Lease lease(*this);
    auto& conn = lease.conn();
    duck::Transaction tx(conn);
    meta::write_partition_seqs(conn, seqs);
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
    if (fs::file_size_if_exists(wal).value_or(0) > 0) {
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
