#pragma once
// Builds DatabaseManagers over a file store in a temp folder, each with its own local
// file: several "containers" sharing one store.

#include <memory>
#include <string>

#include "db/journal.hpp"
#include "db/manager.hpp"
#include "db/partition.hpp"
#include "repo/mutations.hpp"
#include "store/file_store.hpp"
#include "support/temp_dir.hpp"

namespace k9::test {

inline constexpr const char* kSnapshotKey = "databases/k9_api_test.db";

inline std::unique_ptr<db::DatabaseManager> make_manager(const std::filesystem::path& db_path,
                                                         std::shared_ptr<store::ObjectStore> store,
                                                         const std::string& key = kSnapshotKey) {
    db::ManagerOptions o;
    o.db_path = db_path;
    o.key = key;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Snapshot;
    return std::make_unique<db::DatabaseManager>(o, std::move(store));
}

// A journal-mode manager ("K9_DURABILITY=journal").
inline std::unique_ptr<db::DatabaseManager> make_journal_manager(
    const std::filesystem::path& db_path, std::shared_ptr<store::ObjectStore> store,
    std::int64_t retention_s = 3600, Clock clock = system_clock()) {
    db::ManagerOptions o;
    o.db_path = db_path;
    o.key = kSnapshotKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Journal;
    o.journal_retention_s = retention_s;
    o.clock = std::move(clock);
    return std::make_unique<db::DatabaseManager>(o, std::move(store));
}

// Every entry of the partitioned journal under `key`, as (partition, seq), in key order;
// entries of the single journal of older k9 are left out.
inline std::vector<db::JournalPosition> journal_entries(store::ObjectStore& store,
                                                        const std::string& key = kSnapshotKey) {
    std::vector<db::JournalPosition> out;
    for (const auto& [partition, seqs] : db::Journal(store, key).list_all()) {
        if (partition < 0) continue;
        for (const auto s : seqs) out.push_back({partition, s});
    }
    return out;
}

// The partition of a user in a journal made with the default partition count.
inline int partition_of(const std::string& owner) {
    return db::partition_of(owner, db::kDefaultPartitions);
}

}  // namespace k9::test
