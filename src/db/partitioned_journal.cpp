// PartitionedJournal: the write path (group commit, the append, fencing).
#include "db/partitioned_journal.hpp"

#include <algorithm>

#include "common/crash_point.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/k9_meta.hpp"
#include "db/partition_state.hpp"
#include "db/snapshot.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
using store::ErrorKind;
using store::StoreError;

namespace {
constexpr int kMaxCommitAttempts = 64;  // rounds of losing the seq to other writers

std::string new_nonce() {
    const std::string b = random_bytes(8);
    return to_hex(reinterpret_cast<const unsigned char*>(b.data()), b.size());
}
}  // namespace

struct PartitionedJournal::PendingWrite {
    Mutation mutation;  // the journal's form
    LocalApply run;     // how this copy applies it (again after a lost race)
    std::promise<std::any> promise;
    bool done = false;  // guarded by the partition's mutex

    void succeed(std::any result) {
        done = true;
        promise.set_value(std::move(result));
    }
    void fail(std::exception_ptr e) {
        done = true;
        promise.set_exception(std::move(e));
    }
};

PartitionedJournal::PartitionedJournal(store::ObjectStore& store, const std::string& key,
                                       LocalDatabase& db, HealthBoard& health,
                                       JournalSettings settings, JournalHost& host)
    : store_(store),
      key_(key),
      journal_(store, key),
      db_(db),
      health_(health),
      settings_(std::move(settings)),
      host_(host) {
    if (settings_.max_batch == 0) settings_.max_batch = 1;
    for (int i = 0; i < kMaxPartitions; ++i) parts_.push_back(std::make_unique<Partition>(i));
}

PartitionedJournal::~PartitionedJournal() = default;

void PartitionedJournal::loaded(Instant fetched_at) {
    for (auto& part : parts_) {
        std::lock_guard lock(part->look_mutex);
        part->fence_ref = fetched_at;
        part->fresh_at_ms = kNeverLooked * 10;
    }
}

// ---- Writes -----------------------------------------------------------------------------

std::any PartitionedJournal::apply(const Mutation& mutation, LocalApply run) {
    Partition& part =
        *parts_[static_cast<std::size_t>(partition_of(mutation.owner, db_.partitions()))];
    auto mine = std::make_shared<PendingWrite>();
    mine->mutation = mutation;
    mine->run = std::move(run);
    auto result = mine->promise.get_future();
    {
        std::lock_guard lock(part.queue_mutex);
        part.queue.push_back(mine);
    }
    // Group commit: whoever holds the partition's lock takes every queued write (up to
    // max_batch) into one entry. A caller finds its write already finished by the
    // previous holder, or commits it with the writes queued behind it. Every write taken
    // into a batch is finished (answered or failed) before the lock is released, whatever
    // step fails: no caller waits for an answer nobody will give.
    for (;;) {
        std::lock_guard lock(part.mutex);
        if (mine->done) break;
        std::vector<std::shared_ptr<PendingWrite>> batch;
        {
            std::lock_guard q(part.queue_mutex);
            const std::size_t n = std::min(part.queue.size(), settings_.max_batch);
            batch.assign(part.queue.begin(), part.queue.begin() + static_cast<std::ptrdiff_t>(n));
            part.queue.erase(part.queue.begin(),
                             part.queue.begin() + static_cast<std::ptrdiff_t>(n));
        }
        try {
            // A partition found damaged is read again first: a new entry must never fill a hole.
            if (part.damaged) catch_up_locked(part);
            commit_batch(part, batch);
            health_.clear(HealthBoard::Slot::Store);
        } catch (...) {
            note_failure(std::current_exception());
            for (auto& p : batch) {
                if (!p->done) p->fail(std::current_exception());
            }
        }
        for (auto& p : batch) {
            if (!p->done)
                p->fail(std::make_exception_ptr(
                    std::logic_error("a journal batch ended without an answer")));
        }
    }
    return result.get();
}

void PartitionedJournal::commit_batch(Partition& part,
                                      std::vector<std::shared_ptr<PendingWrite>>& batch) {
    bool rerun = false;    // the batch runs again on state another writer changed
    bool checked = false;  // a rejection is answered only on state known to be fresh
    bool catch_up_first = false;
    for (int attempt = 0;; ++attempt) {
        if (catch_up_first) {
            catch_up_first = false;
            catch_up_locked(part);
        }
        if (attempt >= kMaxCommitAttempts) {
            const auto e = std::make_exception_ptr(
                StoreError(ErrorKind::Transient,
                           "could not append to partition " + std::to_string(part.index) +
                               " of the journal of " + store_.url_for(key_) + " after " +
                               std::to_string(attempt) + " rounds of losing to other writers"));
            for (auto& p : batch) {
                if (!p->done) p->fail(e);
            }
            return;
        }
        std::optional<JournalEntry> theirs;  // the entry that took our place
        bool fenced = false;
        {
            std::shared_lock gate(db_.write_gate());
            LocalDatabase::Lease lease(db_);
            duck::Connection& conn = lease.conn();
            const double started = monotonic_ms();
            const std::int64_t seq = db_.partition_seq(part.index);
            const std::uint64_t epoch = db_.epoch();  // the gate keeps the file as it is
            std::optional<duck::Transaction> tx;
            tx.emplace(conn);
            std::vector<std::shared_ptr<PendingWrite>> applied;
            std::vector<std::any> results;
            bool restart = false;
            for (auto& p : batch) {
                if (p->done) continue;
                try {
                    results.push_back(p->run(conn));
                    applied.push_back(p);
                } catch (const MutationRejected& e) {
                    tx.reset();  // rolls back the others too: they run again below
                    restart = true;
                    if (!checked && !rerun) {
                        // This copy may be behind (a write never looks first): look, then decide.
                        checked = catch_up_first = true;
                        break;
                    }
                    if (rerun) {
                        p->fail(std::make_exception_ptr(
                            MutationRejected(MutationRejected::Reason::Conflict,
                                             std::string("this change conflicts with a concurrent "
                                                         "write by another container: ") +
                                                 e.what())));
                    } else {
                        p->fail(std::current_exception());
                    }
                    break;
                } catch (...) {
                    tx.reset();
                    p->fail(std::current_exception());
                    restart = true;
                    break;
                }
            }
            if (restart) {
                --attempt;
                continue;
            }
            if (applied.empty()) return;

            JournalEntry entry{.partition = part.index,
                               .seq = seq + 1,
                               .writer = settings_.writer_id,
                               .nonce = new_nonce()};
            for (const auto& p : applied) entry.mutations.push_back(p->mutation);
            const std::string own = entry.serialize();
            const Instant sent = Instant::now();
            const double sent_ms = monotonic_ms();
            crash_point("journal.append");
            bool landed = false;
            try {
                landed =
                    journal_.append(entry, JournalEntry::with_copies(
                                               own, part.recent.copies_for(entry.seq, epoch))) ==
                    Journal::AppendResult::Appended;
            } catch (const StoreError&) {
                // The PUT may have landed with its answer lost: only the store can tell.
                std::optional<JournalEntry> there;
                try {
                    there = journal_.read(part.index, entry.seq);
                } catch (const StoreError&) {
                }
                if (!there) {
                    tx.reset();
                    const auto e = std::current_exception();
                    for (auto& p : applied) p->fail(e);
                    return;
                }
                landed = there->same_attempt(entry);
                if (!landed) theirs = std::move(there);
            }
            if (!landed && !theirs) {
                // A 412: someone's entry is there, or our own earlier attempt's.
                theirs = read_entry(part, entry.seq);
                if (theirs && theirs->same_attempt(entry)) {
                    landed = true;
                    theirs.reset();
                }
            }
            crash_point("journal.appended");
            if (landed && fenced_out(part, entry.seq)) {
                tx.reset();
                try {
                    journal_.remove(part.index, entry.seq);  // below the snapshot: nobody reads it
                } catch (const StoreError&) {
                }
                fenced = true;
            } else if (landed) {
                // The entry is in the store: these writes are durable and every copy will
                // apply them, so they are acknowledged whatever happens to the local commit.
                try {
                    meta::write_partition_seq(conn, part.index, entry.seq);
                    tx->commit();
                } catch (const std::exception& e) {
                    tx.reset();
                    host_.local_failure(
                        "committing entry " + std::to_string(entry.seq) + " of partition " +
                        std::to_string(part.index) +
                        " to the local database failed after the entry was stored: " + e.what());
                    for (std::size_t i = 0; i < applied.size(); ++i)
                        applied[i]->succeed(std::move(results[i]));
                    return;
                }
                db_.set_partition_seq(part.index, entry.seq);
                part.recent.applied(entry.seq, own, epoch);
                part.looked(sent, sent_ms);  // nobody can write seq + 2 before our seq + 1 landed
                crash_point("journal.committed");
                obs::metrics().duration_ms(obs::kJournalAppendMs, monotonic_ms() - started);
                for (std::size_t i = 0; i < applied.size(); ++i)
                    applied[i]->succeed(std::move(results[i]));
                return;
            }
        }  // the transaction is rolled back, the gate released
        rerun = true;
        if (fenced) {
            host_.reload();
            continue;
        }
        // Another writer has this seq: take in what we lack and run ours again after it.
        catch_up_locked(part, std::move(theirs));
    }
}

// A writer frozen for a long time may create an entry whose seq a compaction has already
// covered and deleted. Such an entry is never replayed, so the write must not be
// acknowledged: after such an append, the snapshot's seq of the partition tells (a HEAD).
//
// The fast path skips that HEAD. Let L be the moment this copy last knew that the
// partition had no entry above its seq (a probe's GET, a listing, the send of its own
// last append, or the fetch of the snapshot it loaded). An entry above that seq is
// created after L; a snapshot covering it is taken after that, so its Last-Modified is
// after L; and the compactor removes entries only once the store's clock shows that
// snapshot older than the retention. So no entry above this copy's seq can be gone
// until the retention has passed since L. This copy measures the time since L on its
// own clocks (boot and wall clock: the larger difference) and skips the HEAD within half
// the retention, leaving the other half for the store's 1-second date resolution and for
// clock rates: the minimum retention (60 s) keeps that margin wide. It assumes the
// store's Date and Last-Modified come from one clock running at the rate of ours.
bool PartitionedJournal::fenced_out(Partition& part, std::int64_t seq) {
    if (part.fence_holds(settings_.retention_s)) return false;
    const std::int64_t covered = snapshot_seq_now(part.index);
    if (covered < seq) return false;
    log::warning(
        "A journal append landed below the snapshot (this writer was paused for long); "
        "it is withdrawn and the write applied again on the current state",
        {{"partition", part.index}, {"seq", seq}, {"snapshot_seq", covered}});
    return true;
}

}  // namespace k9::db
