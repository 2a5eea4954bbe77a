#pragma once
// Replacing the snapshot from outside the writers' history: `k9db --upload --force` and
// `k9db restore`. The new snapshot is uploaded with If-Match on the ETag the caller saw
// (If-None-Match: * when there was none), so a concurrent change is never clobbered.
//
// In journal mode the journal's entries would otherwise be replayed on top of the new
// file, so the replacement is an event in the history: a "reset" entry is created at
// the next seq of every partition (If-None-Match: *, as any write), the uploaded copy
// records those seqs (k9_partitions, k9-seqs), and writers reaching a reset load the
// new snapshot. A store of older k9 (one journal) has that journal closed instead (an
// upgrade entry: older k9 stops there) and gets a partitioned snapshot. The first
// upload (no snapshot, no journal yet) goes up byte for byte.

#include <filesystem>
#include <optional>
#include <string>

#include "store/object_store.hpp"

namespace k9::db {

struct ReplaceOptions {
    std::optional<std::string> expected_etag;  // the current snapshot's ETag; nullopt: none exists
    store::Metadata metadata;                  // snapshot mode (journal mode writes its own)
    bool journal = false;
    int partitions = 64;  // journal mode, for a store that has no partitioned journal yet
    std::string writer_id = "k9db";
    store::ProgressFn progress;
};

// Throws StoreError; PreconditionFailed when the snapshot changed under us.
store::ObjectInfo replace_snapshot(store::ObjectStore& store, const std::string& key,
                                   const std::filesystem::path& file,
                                   const ReplaceOptions& options);

}  // namespace k9::db
