#include "db/compactor.hpp"

#include "common/crash_point.hpp"
#include "common/log.hpp"
#include "db/snapshot.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
using store::StoreError;

Compactor::Compactor(store::ObjectStore& store, std::string key, LocalDatabase& db,
                     PartitionedJournal& journal, HealthBoard& health, CompactorSettings settings,
                     std::function<void()> reload)
    : store_(store),
      key_(std::move(key)),
      db_(db),
      journal_(journal),
      health_(health),
      settings_(std::move(settings)),
      reload_(std::move(reload)) {}

Compaction Compactor::compact() {
    const auto remote = store_.head_if_exists(key_);
    const int partitions = db_.partitions();
    PartitionSeqs remote_seqs(static_cast<std::size_t>(partitions), 0);
    if (remote) {
        if (auto s = snapshot_partition_seqs(*remote);
            s && static_cast<int>(s->size()) == partitions)
            remote_seqs = *s;
    }
    // A snapshot never goes back in any partition: one that holds more than this copy
    // is loaded first (the entries it covers may be gone from the journal).
    for (int p = 0; p < partitions; ++p) {
        if (db_.partition_seq(p) < remote_seqs[static_cast<std::size_t>(p)]) {
            log::info("The snapshot holds more than this copy; reloading it before compacting",
                      {{"partition", p}});
            reload_();
            break;
        }
    }
    const auto listing = journal_.refresh_all();

    Compaction result;
    if (remote && db_.partition_seqs() == remote_seqs) {
        // The snapshot already holds every write this copy has.
        result.snapshot = *remote;
        result.seqs = remote_seqs;
        result.schema = db_.schema();
        result.pruned = prune(*remote, listing);
        return result;
    }
    LocalDatabase::SnapshotCopy copy = db_.copy_for_snapshot();
    for (int p = 0; p < partitions; ++p) {
        if (copy.seqs[static_cast<std::size_t>(p)] < remote_seqs[static_cast<std::size_t>(p)]) {
            log::info("A newer snapshot appeared during the compaction; keeping it",
                      {{"partition", p}});
            return result;
        }
    }
    store::PutOptions put;
    put.precondition = remote ? store::Precondition::if_match(remote->etag)
                              : store::Precondition::if_none_match_any();
    put.metadata = partitioned_snapshot_metadata(copy.seqs, copy.schema, settings_.writer_id);
    put.progress = settings_.upload_progress;
    crash_point("snapshot.upload");
    try {
        result.snapshot = store_.put_file(copy.file.path(), key_, put);
    } catch (const StoreError& e) {
        if (!e.is_precondition_failed()) {
            obs::metrics().count(obs::kDatabaseUploadFailures);
            throw;
        }
        // Another container compacted at the same time: its snapshot serves as well.
        log::info("Another writer uploaded a snapshot first; keeping theirs",
                  {{"remote", store_.url_for(key_)}});
        return result;
    }
    crash_point("snapshot.uploaded");
    result.uploaded = true;
    result.seqs = copy.seqs;
    result.schema = copy.schema;
    check_owners();
    if (remote) result.pruned = prune(*remote, listing);  // entries covered by both snapshots
    return result;
}

// The snapshot's age is measured on the store's clock alone (the Date of the response
// that described it, minus its Last-Modified): a local clock that is hours off must not
// make a young snapshot look old (see PartitionedJournal::fenced_out for why its age
// matters). Entries of the single journal of older k9 go once a partitioned snapshot is
// that old: it holds all of them.
int Compactor::prune(const store::ObjectInfo& snapshot,
                     const std::map<int, std::vector<std::int64_t>>& listing) {
    const auto covered = snapshot_partition_seqs(snapshot);
    if (!covered) return 0;
    if (snapshot.server_time == 0) {
        log::warning(
            "The store gives no time with its answers (no Date header): journal entries are kept",
            {{"remote", store_.url_for(key_)}});
        return 0;
    }
    if (snapshot.server_time - snapshot.last_modified < settings_.retention_s * 1'000'000) return 0;
    crash_point("compaction.delete");
    Journal journal(store_, key_);
    int removed = 0;
    try {
        for (const auto& [partition, seqs] : listing) {
            for (const auto s : seqs) {
                const bool old =
                    partition < 0 || (partition < static_cast<int>(covered->size()) &&
                                      s <= (*covered)[static_cast<std::size_t>(partition)]);
                if (!old) break;
                journal.remove(partition, s);
                ++removed;
            }
        }
    } catch (const StoreError& e) {
        // Housekeeping: the snapshot holds these entries. Left in place, they are removed
        // by the next compaction.
        log::warning(
            "Could not remove journal entries a snapshot covers; the next compaction retries",
            {{"error", e.what()}});
    }
    if (removed > 0) log::info("Removed journal entries a snapshot covers", {{"entries", removed}});
    return removed;
}

// Positions with two owners mean the store let a create-only PUT replace an object, and
// the writes of the overwritten entry are gone from the journal (they live only in the
// copy that wrote them). It can only be seen on a store that keeps versions; k9 says so.
void Compactor::check_owners() {
    std::vector<JournalPosition> doubled;
    try {
        doubled = Journal(store_, key_).doubly_owned();
    } catch (const StoreError& e) {
        log::warning("Could not list the journal's versions to check that each seq has one owner",
                     {{"error", e.what()}});
        return;
    }
    if (doubled.empty()) return;
    std::string list;
    for (const auto& d : doubled) {
        list +=
            (list.empty() ? "" : ", ") + std::to_string(d.partition) + "/" + std::to_string(d.seq);
    }
    const std::string detail = "journal entries (partition/seq) " + list + " of " +
                               store_.url_for(key_) +
                               " were created by two writers: the store did not hold "
                               "If-None-Match: * (the older version of each "
                               "was overwritten, and the writes in it are missing from the "
                               "journal). Compare the versions of those "
                               "keys and re-apply what is missing; then move this database to a "
                               "store that honours conditional "
                               "writes atomically";
    log::error("A journal seq has two owners",
               {{"entries", list}, {"remote", store_.url_for(key_)}});
    obs::metrics().count(obs::kJournalSeqConflicts);
    health_.warn({"journal_seq_conflict",
                  "writes may have been lost by the store; an operator must check", detail});
}

}  // namespace k9::db
