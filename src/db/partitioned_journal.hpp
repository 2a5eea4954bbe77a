#pragma once
// PartitionedJournal: journal mode's write and freshness paths, per partition.
//
// A write (apply) runs its mutation in a transaction on the local file and creates the
// next entry of its owner's partition with If-None-Match: * - one PUT, no LIST. A 412 is
// what tells the writer it is behind: it applies the entries it lacks (the one that took
// its place is read anyway) and runs the mutation again. Writes queued on one partition
// share an entry (group commit); partitions commit independently of each other.
//
// A read of a user needs that user's partition fresh: refresh() GETs the partition's
// next seq (404: fresh), without any write lock; readers that arrive while a probe runs
// share the next one, which starts after they arrived (reads stay linearizable). Within
// K9_MAX_STALENESS_MS of the last look it calls the store not at all. Only a probe that
// finds new entries takes the partition's lock to apply them.
//
// Entries a partition lacks are fetched in parallel (a LIST, then GETs); a gap that no
// snapshot covers is a hole and is refused (503 for that partition's users, /health
// says journal_corrupt), never skipped.
//
// Fencing: a writer paused for long may create an entry whose seq a compaction has
// already covered and removed; it would never be replayed. After an append, a partition
// whose last look is older than half the retention HEADs the snapshot (see fenced_out).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "db/health.hpp"
#include "db/journal.hpp"
#include "db/local_database.hpp"
#include "db/mutation.hpp"
#include "db/partition.hpp"
#include "store/object_store.hpp"

namespace k9::db {

struct JournalSettings {
    std::int64_t retention_s = 3600;    // K9_JOURNAL_RETENTION
    std::int64_t max_staleness_ms = 0;  // K9_MAX_STALENESS_MS
    std::size_t max_batch = 256;        // mutations per entry
    std::string writer_id;
};

// What the journal needs from the manager that owns it.
class JournalHost {
  public:
    virtual ~JournalHost() = default;
    virtual const MutationFn& mutation_fn(const std::string& name) const = 0;
    // Its batch replay, when it has one (MutationRegistry::find_batch).
    virtual const BatchFn* batch_fn(const std::string& name) const = 0;
    // Replaces the local file with the current snapshot: a compaction or a replacement
    // overtook this copy. The caller holds no lock of the local database.
    virtual void reload() = 0;
    // The local database failed: remember it (the copy reloads before it serves again)
    // and return the exception to throw.
    virtual Unavailable local_failure(const std::string& detail) = 0;
};

class PartitionedJournal {
  public:
    PartitionedJournal(store::ObjectStore& store, const std::string& key, LocalDatabase& db,
                       HealthBoard& health, JournalSettings settings, JournalHost& host);
    ~PartitionedJournal();

    Journal& journal() { return journal_; }

    // The local file was (re)loaded from a snapshot whose fetch began at `fetched_at`:
    // every partition needs a probe before its next read, and none can lose an entry to
    // pruning before fetched_at + retention.
    void loaded(Instant fetched_at);

    // Commits the mutation to its owner's partition: `run` applies it here, `mutation` is
    // its journal form; returns what `run` returned. Throws MutationRejected, Unavailable,
    // StoreError.
    std::any apply(const Mutation& mutation, LocalApply run);

    // Makes the partition fresh for a read (see above). Throws Unavailable, StoreError.
    void refresh(int partition);
    // Applies every entry in the store (one LIST of the whole journal, GETs in
    // parallel): before a compaction. Returns the listing by partition.
    std::map<int, std::vector<std::int64_t>> refresh_all();

    // When a partition was last known fresh (wall clock), the latest of them; 0: never.
    Micros last_refresh() const { return last_refresh_at_; }
    double last_refresh_ms() const { return last_refresh_ms_; }

  private:
    struct Partition;
    struct PendingWrite;

    void commit_batch(Partition& part, std::vector<std::shared_ptr<PendingWrite>>& batch);
    // Brings the partition up to date (the caller holds part.mutex); `next`: the entry
    // after this copy's seq, when it is known already.
    void catch_up_locked(Partition& part, std::optional<JournalEntry> next = std::nullopt,
                         const std::vector<std::int64_t>* listed = nullptr,
                         std::optional<JournalEntry>* second_read = nullptr);
    void probe(Partition& part);
    // Replays consecutive entries of the partition in one local transaction (one commit
    // for a whole catch-up: a cold start's first read of a long tail pays one fsync).
    void apply_entries(Partition& part, const std::vector<const JournalEntry*>& entries);
    // Applies the mutations in order (runs of one batched kind at once).
    void replay(duck::Connection& conn, const std::vector<const Mutation*>& mutations);
    // The entries at `seqs` of the partition, fetched in parallel, in order; nullopt
    // where one is missing.
    std::vector<std::optional<JournalEntry>> fetch(int partition,
                                                   const std::vector<std::int64_t>& seqs);
    // The entries at `seqs` (ascending, consecutive) of the partition, in order, taken
    // from carried copies where an entry holds them; `known`: one of them, read already.
    std::vector<std::optional<JournalEntry>> fetch_run(Partition& part,
                                                       const std::vector<std::int64_t>& seqs,
                                                       std::optional<JournalEntry> known);
    std::optional<JournalEntry> read_entry(Partition& part, std::int64_t seq);
    // The snapshot's seq of the partition (0 when there is no snapshot or it records none).
    std::int64_t snapshot_seq_now(int partition);
    bool fenced_out(Partition& part, std::int64_t seq);
    [[noreturn]] void hole(Partition& part, const JournalHole& hole, std::int64_t covered);
    void mark_sound(Partition& part);
    void note_failure(std::exception_ptr e);

    store::ObjectStore& store_;
    std::string key_;
    Journal journal_;
    LocalDatabase& db_;
    HealthBoard& health_;
    JournalSettings settings_;
    JournalHost& host_;
    std::vector<std::unique_ptr<Partition>> parts_;  // kMaxPartitions, made once
    std::atomic<int> damaged_{0};                    // partitions with a hole or a damaged entry
    std::atomic<Micros> last_refresh_at_{0};
    std::atomic<double> last_refresh_ms_{0};
};

}  // namespace k9::db
