#pragma once
// Builds DatabaseManagers over a file store in a temp folder, each with its own local
// file: several "containers" sharing one store.

#include <memory>
#include <string>

#include "db/manager.hpp"
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
    return std::make_unique<db::DatabaseManager>(o, std::move(store));
}

// A journal-mode manager ("K9_DURABILITY=journal").
inline std::unique_ptr<db::DatabaseManager> make_journal_manager(const std::filesystem::path& db_path,
                                                                 std::shared_ptr<store::ObjectStore> store,
                                                                 std::int64_t retention_s = 3600,
                                                                 Clock clock = system_clock()) {
    db::ManagerOptions o;
    o.db_path = db_path;
    o.key = kSnapshotKey;
    o.mutations = &repo::k9_mutations();
    o.durability = db::Durability::Journal;
    o.journal_retention_s = retention_s;
    o.clock = std::move(clock);
    return std::make_unique<db::DatabaseManager>(o, std::move(store));
}

}  // namespace k9::test
