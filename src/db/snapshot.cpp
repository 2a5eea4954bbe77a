#include "db/snapshot.hpp"

#include <charconv>
#include <cstring>

#include "common/fs.hpp"
#include "db/duck.hpp"
#include "db/local_database.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::ErrorKind;
using store::StoreError;

namespace {
constexpr std::size_t kMagicOffset = 8;
constexpr char kMagic[] = "DUCK";

}  // namespace

std::optional<std::int64_t> snapshot_seq(const store::Metadata& metadata) {
    const auto it = metadata.find(kMetaSeq);
    std::int64_t seq = 0;
    if (it == metadata.end() ||
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), seq).ec !=
            std::errc() ||
        seq < 0) {
        return std::nullopt;
    }
    return seq;
}

int snapshot_schema(const store::Metadata& metadata) {
    const auto it = metadata.find(kMetaSchema);
    int schema = 0;
    if (it == metadata.end() ||
        std::from_chars(it->second.data(), it->second.data() + it->second.size(), schema).ec !=
            std::errc()) {
        return 0;
    }
    return schema;
}

std::optional<int> snapshot_partitions(const store::ObjectInfo& info) {
    const auto journal = info.metadata.find(kMetaJournal);
    const auto count = info.metadata.find(kMetaPartitions);
    if (journal == info.metadata.end() || journal->second != kJournalFormat ||
        count == info.metadata.end()) {
        return std::nullopt;
    }
    try {
        const int n = std::stoi(count->second);
        if (n < 1 || n > kMaxPartitions) return std::nullopt;
        return n;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<PartitionSeqs> snapshot_partition_seqs(const store::ObjectInfo& info) {
    const auto n = snapshot_partitions(info);
    const auto seqs = info.metadata.find(kMetaSeqs);
    if (!n || seqs == info.metadata.end()) return std::nullopt;
    return decode_seqs(seqs->second, *n);
}

store::Metadata partitioned_snapshot_metadata(const PartitionSeqs& seqs, int schema,
                                              const std::string& writer) {
    return {{kMetaJournal, kJournalFormat},
            {kMetaPartitions, std::to_string(seqs.size())},
            {kMetaSeqs, encode_seqs(seqs)},
            {kMetaSchema, std::to_string(schema)},
            {"k9-writer", writer}};
}

bool has_duckdb_magic(const stdfs::path& path) {
    try {
        fs::Fd fd = fs::open_read(path);
        char buf[kMagicOffset + 4] = {};
        if (fs::pread_full(fd.get(), buf, sizeof buf, 0, path) != sizeof buf) return false;
        return std::memcmp(buf + kMagicOffset, kMagic, 4) == 0;
    } catch (const fs::IoError&) {
        return false;
    }
}

void verify_snapshot_file(const stdfs::path& file, const store::ObjectInfo& info,
                          const std::string& source_url, bool open_check) {
    const auto size = fs::file_size_if_exists(file);
    if (size != info.size) {
        throw StoreError(ErrorKind::Corrupt, "download of " + source_url + " is incomplete: got " +
                                                 std::to_string(size.value_or(0)) + " of " +
                                                 std::to_string(info.size) + " bytes");
    }
    if (!has_duckdb_magic(file)) {
        throw StoreError(ErrorKind::Corrupt,
                         source_url +
                             " is not a DuckDB database (no 'DUCK' magic at byte 8); "
                             "replace it with k9db --upload --file <db> --force");
    }
    if (!open_check) return;
    try {
        duck::Database db(file, duckdb_options(file, FileAccess::ReadOnly));
        duck::Connection conn(db);
        conn.query("SELECT count(*) FROM duckdb_tables()");
    } catch (const duck::Error& e) {
        throw StoreError(ErrorKind::Corrupt,
                         source_url + " cannot be opened by DuckDB: " + std::string(e.what()));
    }
}

FetchedSnapshot fetch_snapshot(store::ObjectStore& store, const std::string& key,
                               const stdfs::path& dir, const store::ProgressFn& progress,
                               bool open_check) {
    FetchedSnapshot fetched{fs::TempFile(dir.empty() ? stdfs::path(".") : dir, "k9-download"), {}};
    store::GetOptions options;
    options.progress = progress;
    fetched.info = store.get_file(key, fetched.file.path(), options);
    verify_snapshot_file(fetched.file.path(), fetched.info, store.url_for(key), open_check);
    return fetched;
}

void install_snapshot(FetchedSnapshot& fetched, const stdfs::path& target) {
    std::error_code ec;
    stdfs::remove(target.string() + ".wal", ec);
    fetched.file.commit_to(target);
}

store::ObjectInfo download_snapshot(store::ObjectStore& store, const std::string& key,
                                    const stdfs::path& target, const store::ProgressFn& progress) {
    FetchedSnapshot fetched = fetch_snapshot(store, key, target.parent_path(), progress);
    install_snapshot(fetched, target);
    return fetched.info;
}

std::map<std::string, TableSummary> summarize_tables(const stdfs::path& db_file) {
    duck::Database db(db_file, duckdb_options(db_file, FileAccess::ReadOnly));
    duck::Connection conn(db);
    return summarize_tables(conn);
}

std::map<std::string, TableSummary> summarize_tables(duck::Connection& conn) {
    auto tables = conn.query(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND NOT internal "
        "ORDER BY table_name");
    std::map<std::string, TableSummary> out;
    for (std::size_t r = 0; r < tables.rows(); ++r) {
        const std::string name = tables.text(0, r);
        auto sums = conn.query("SELECT count(*), coalesce(sum(hash(t)), 0)::VARCHAR FROM " +
                               duck::quote_identifier(name) + " AS t");
        out[name] = TableSummary{sums.int64(0, 0), sums.text(1, 0)};
    }
    return out;
}

}  // namespace k9::db
