#include "db/journal_upgrade.hpp"

#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/journal.hpp"
#include "db/k9_meta.hpp"
#include "db/snapshot.hpp"

namespace k9::db {
using store::StoreError;

namespace {
constexpr int kRounds = 20;

// Applies one entry of the single journal and records its seq as the file's position.
void apply_legacy(LocalDatabase& db, const JournalEntry& entry, const UpgradeOptions& options) {
    LocalDatabase::Lease lease(db);
    auto& conn = lease.conn();
    duck::Transaction tx(conn);
    for (const auto& m : entry.mutations) options.mutation_fn(m.name)(conn, m.params);
    meta::write_seq(conn, entry.seq);
    tx.commit();
}

// Replays the single journal after the file's seq up to the upgrade entry, creating
// that entry when nobody has; returns its seq.
std::int64_t close_single_journal(store::ObjectStore& store, const std::string& key,
                                  LocalDatabase& db, const UpgradeOptions& options) {
    Journal journal(store, key);
    std::int64_t seq = db.seq();  // the file's position in the single journal
    for (int round = 0; round < kRounds; ++round) {
        const auto seqs = journal.list(-1, seq);
        if (const auto hole = first_hole(-1, seq, seqs)) {
            throw std::runtime_error(
                "the journal of " + store.url_for(key) + " (older k9) is missing entries " +
                std::to_string(hole->first) + " to " + std::to_string(hole->last) +
                " after the snapshot; a compaction by older k9 may have run meanwhile: retry");
        }
        for (const auto s : seqs) {
            const auto entry = journal.read(-1, s);
            if (!entry)
                throw std::runtime_error("entry " + std::to_string(s) + " of " +
                                         store.url_for(key) +
                                         " vanished during the upgrade: retry");
            if (entry->upgrade) return s;
            if (entry->reset) {
                throw std::runtime_error("a snapshot replacement by older k9 is in progress in " +
                                         store.url_for(key) + ": retry when it is done");
            }
            apply_legacy(db, *entry, options);
            seq = s;
        }
        const JournalEntry marker{.partition = -1,
                                  .seq = seq + 1,
                                  .writer = options.writer_id,
                                  .nonce = to_hex(sha256(random_bytes(16))).substr(0, 16),
                                  .upgrade = true};
        if (journal.append(marker) == Journal::AppendResult::Appended) return marker.seq;
        const auto there = journal.read(-1, marker.seq);
        if (there && there->same_attempt(marker)) return marker.seq;
        // An older k9 wrote there first, or another upgrade did: read it next round.
    }
    throw StoreError(
        store::ErrorKind::Transient,
        "could not close the journal of " + store.url_for(key) + ": writers keep taking its seqs");
}

}  // namespace

UpgradeResult upgrade_to_partitions(store::ObjectStore& store, const std::string& key,
                                    LocalDatabase& db,
                                    const std::optional<store::ObjectInfo>& snapshot,
                                    const UpgradeOptions& options) {
    const std::int64_t end = close_single_journal(store, key, db, options);
    db.init_partitions(PartitionSeqs(static_cast<std::size_t>(options.partitions), 0));
    LocalDatabase::SnapshotCopy copy = db.copy_for_snapshot();
    store::PutOptions put;
    put.precondition = snapshot ? store::Precondition::if_match(snapshot->etag)
                                : store::Precondition::if_none_match_any();
    put.metadata = partitioned_snapshot_metadata(copy.seqs, copy.schema, options.writer_id);
    UpgradeResult result;
    try {
        result.snapshot = store.put_file(copy.file.path(), key, put);
    } catch (const StoreError& e) {
        if (!e.is_precondition_failed()) throw;
        log::info("Another container upgraded the journal first; loading its snapshot",
                  {{"remote", store.url_for(key)}});
        return result;
    }
    result.uploaded = true;
    if (snapshot || end > 1) {
        log::info("Upgraded the journal to partitions", {{"remote", store.url_for(key)},
                                                         {"partitions", options.partitions},
                                                         {"single_journal_end", end}});
    }
    return result;
}

}  // namespace k9::db
