#pragma once
// Upgrading a database of older k9 (one journal: `<key>.journal/<seq>`, a snapshot that
// records its seq in k9-seq) to the partitioned journal, during a cold start, without
// losing an acknowledged write even while containers of the older k9 still run:
//  1. the single journal's entries after the snapshot are replayed on it;
//  2. an "upgrade" entry is created at the single journal's next seq (If-None-Match: *):
//     older k9 cannot read it, so it stops there (it answers 503) and never writes past
//     it, and nothing it acknowledged is after it;
//  3. the result is uploaded as the first snapshot of the partitioned journal, with
//     If-Match on the snapshot it replaces: every container reads the partitioned
//     journal from then on (older k9 refuses its schema).
// Two containers upgrading at once replay the same entries; one upload wins and the
// other loads it. A brand-new database, and a snapshot uploaded by hand, go the same way
// (with no entries to replay).

#include <functional>
#include <optional>
#include <string>

#include "db/local_database.hpp"
#include "db/mutation.hpp"
#include "store/object_store.hpp"

namespace k9::db {

struct UpgradeOptions {
    int partitions = 0;  // the count the new journal gets
    std::string writer_id;
    std::function<const MutationFn&(const std::string&)> mutation_fn;
};

struct UpgradeResult {
    bool uploaded = false;       // false: another container's upload won; load its snapshot
    store::ObjectInfo snapshot;  // what was uploaded
};

// `db` is open on the downloaded snapshot (`snapshot`; nullopt: none, a new database),
// migrated, without partitions. Throws StoreError, or std::runtime_error when the single
// journal is damaged or a replacement by older k9 is half done (retry later).
UpgradeResult upgrade_to_partitions(store::ObjectStore& store, const std::string& key,
                                    LocalDatabase& db,
                                    const std::optional<store::ObjectInfo>& snapshot,
                                    const UpgradeOptions& options);

}  // namespace k9::db
