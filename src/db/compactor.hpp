#pragma once
// Compactor: journal mode's persist. It brings every partition up to date (one LIST of
// the whole journal, GETs in parallel, holes refused), uploads a snapshot of the local
// file that records every partition's seq, with If-Match on the snapshot it replaces,
// never lower in any partition than that one; then removes the entries the replaced
// snapshot covers once it is older than the retention on the store's clock, and checks
// that no journal position has two owners (a store that keeps versions shows it).
// A compaction never conflicts with writers: the journal holds every write.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "db/health.hpp"
#include "db/local_database.hpp"
#include "db/partitioned_journal.hpp"
#include "store/object_store.hpp"

namespace k9::db {

struct CompactorSettings {
    std::int64_t retention_s = 3600;
    std::string writer_id;
    store::ProgressFn upload_progress;
};

struct Compaction {
    bool uploaded = false;       // false: the snapshot already held everything, or another won
    store::ObjectInfo snapshot;  // the snapshot in force afterwards (when known)
    PartitionSeqs seqs;          // what it holds
    int schema = 0;
    int pruned = 0;  // journal entries removed
};

class Compactor {
  public:
    // `reload` replaces the local file with the snapshot in the store.
    Compactor(store::ObjectStore& store, std::string key, LocalDatabase& db,
              PartitionedJournal& journal, HealthBoard& health, CompactorSettings settings,
              std::function<void()> reload);

    // Throws StoreError when the store fails, Unavailable for a damaged journal.
    Compaction compact();

  private:
    int prune(const store::ObjectInfo& snapshot,
              const std::map<int, std::vector<std::int64_t>>& listing);
    void check_owners();

    store::ObjectStore& store_;
    std::string key_;
    LocalDatabase& db_;
    PartitionedJournal& journal_;
    HealthBoard& health_;
    CompactorSettings settings_;
    std::function<void()> reload_;
};

}  // namespace k9::db
