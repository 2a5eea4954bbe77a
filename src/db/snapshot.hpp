#pragma once
// Snapshots: a whole database file as one object in the store. Downloads land in a
// temp file beside the target and are installed (renamed) only after they are
// verified: the store's checksum (checked by the backend on every whole-object get),
// the right size, DuckDB's magic bytes, and optionally DuckDB itself opening the file.
// On any failure the target and its .wal are untouched.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/fs.hpp"
#include "db/duck.hpp"
#include "db/partition.hpp"
#include "store/object_store.hpp"

namespace k9::db {

// Object metadata k9 writes on snapshots (the checksum is the store's own).
inline constexpr const char* kMetaSeq =
    "k9-seq";  // snapshot mode, and the single journal of older k9
inline constexpr const char* kMetaSchema = "k9-schema";
inline constexpr const char* kMetaJournal = "k9-journal";  // "2": made for the partitioned journal
inline constexpr const char* kMetaPartitions = "k9-partitions";  // the journal's partition count
inline constexpr const char* kMetaSeqs = "k9-seqs";              // every partition's seq: "12,0,5"
inline constexpr const char* kJournalFormat = "2";

// The last seq of the single journal (older k9) or the write count (snapshot mode) a
// snapshot records (k9-seq); nullopt when it records none or an unreadable one.
std::optional<std::int64_t> snapshot_seq(const store::Metadata& metadata);
// The schema version a snapshot records (k9-schema); 0 when none or unreadable.
int snapshot_schema(const store::Metadata& metadata);
// The partition count of a snapshot made for the partitioned journal; nullopt for any
// other (older k9, snapshot mode, not uploaded by k9).
std::optional<int> snapshot_partitions(const store::ObjectInfo& info);
// Every partition's seq a partitioned-journal snapshot records; nullopt for any other.
std::optional<PartitionSeqs> snapshot_partition_seqs(const store::ObjectInfo& info);
// The metadata of a partitioned-journal snapshot.
store::Metadata partitioned_snapshot_metadata(const PartitionSeqs& seqs, int schema,
                                              const std::string& writer);

// True when the file starts like a DuckDB database ("DUCK" at byte 8).
bool has_duckdb_magic(const std::filesystem::path& path);

// Throws StoreError(Corrupt) explaining what is wrong with `file` as a copy of `info`.
// With `open_check`, DuckDB must also open it (about 20 ms: skipped at cold start,
// where the real open right after installing does the same check).
void verify_snapshot_file(const std::filesystem::path& file, const store::ObjectInfo& info,
                          const std::string& source_url, bool open_check = true);

// A verified download waiting in a temp file beside its target.
struct FetchedSnapshot {
    fs::TempFile file;
    store::ObjectInfo info;
};

// Downloads `key` into a temp file in `dir` and verifies it. Throws StoreError
// (NotFound when the object does not exist, Corrupt when verification fails).
FetchedSnapshot fetch_snapshot(store::ObjectStore& store, const std::string& key,
                               const std::filesystem::path& dir,
                               const store::ProgressFn& progress = {}, bool open_check = true);

// Renames a fetched snapshot to `target`, first removing a stale target.wal (a WAL
// left by an earlier database at this path would be replayed onto this one).
void install_snapshot(FetchedSnapshot& fetched, const std::filesystem::path& target);

// fetch_snapshot + install_snapshot.
store::ObjectInfo download_snapshot(store::ObjectStore& store, const std::string& key,
                                    const std::filesystem::path& target,
                                    const store::ProgressFn& progress = {});

// Row count and an order-independent checksum of every user table, for comparing
// replicas and verifying files. Keys are table names.
struct TableSummary {
    std::int64_t rows = 0;
    std::string checksum;
    bool operator==(const TableSummary&) const = default;
};
std::map<std::string, TableSummary> summarize_tables(const std::filesystem::path& db_file);
std::map<std::string, TableSummary> summarize_tables(duck::Connection& conn);

}  // namespace k9::db
