#include "db/partitioned_journal.hpp"

#include <algorithm>

#include "common/crash_point.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/snapshot.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
using store::ErrorKind;
using store::StoreError;

namespace {
constexpr int kMaxCommitAttempts = 64;  // rounds of losing the seq to other writers
constexpr int kMaxReloads = 3;          // snapshot reloads in one catch-up (compactions racing it)
constexpr std::size_t kFetchConcurrency = 16;
constexpr const char* kCorruptHint = "the database's journal is damaged; an operator must repair it";

std::string new_nonce() {
    const std::string b = random_bytes(8);
    return to_hex(reinterpret_cast<const unsigned char*>(b.data()), b.size());
}
}  // namespace

struct PartitionedJournal::PendingWrite {
    Mutation mutation;
    std::promise<nlohmann::json> promise;
    bool done = false;  // guarded by the partition's mutex

    void succeed(nlohmann::json result) {
        done = true;
        promise.set_value(std::move(result));
    }
    void fail(std::exception_ptr e) {
        done = true;
        promise.set_exception(std::move(e));
    }
};

struct PartitionedJournal::Partition {
    explicit Partition(int i) : index(i) {}
    const int index;
    std::mutex mutex;  // one commit or catch-up at a time (lock order: see local_database.hpp)
    bool damaged = false;  // guarded by mutex

    std::mutex queue_mutex;
    std::vector<std::shared_ptr<PendingWrite>> queue;

    // When this copy last knew the partition had no entry above its seq: the reference of
    // the fencing fast path, and of K9_MAX_STALENESS_MS.
    std::mutex look_mutex;
    Instant fence_ref;             // guarded by look_mutex
    std::atomic<double> fresh_at_ms{-1e18};  // monotonic; far past: never fresh

    // Shared probes: readers wait for a probe that started after they arrived.
    std::mutex probe_mutex;
    std::condition_variable probe_done;
    bool probing = false;
    std::uint64_t probes_started = 0, probes_finished = 0;
    std::exception_ptr probe_error;

    void looked(Instant at, double at_ms) {
        std::lock_guard lock(look_mutex);
        fence_ref = at;
        fresh_at_ms = at_ms;
    }
    // Within half the retention since the last look: no entry above this copy's seq can
    // have been pruned (see fenced_out).
    bool fence_holds(std::int64_t retention_s) {
        std::lock_guard lock(look_mutex);
        return fence_ref.is_set() && fence_ref.elapsed_ms() < static_cast<double>(retention_s) * 1000.0 / 2;
    }
};

PartitionedJournal::PartitionedJournal(store::ObjectStore& store, const std::string& key, LocalDatabase& db,
                                       HealthBoard& health, JournalSettings settings, JournalHost& host)
    : store_(store), key_(key), journal_(store, key), db_(db), health_(health), settings_(std::move(settings)),
      host_(host) {
    if (settings_.max_batch == 0) settings_.max_batch = 1;
    for (int i = 0; i < kMaxPartitions; ++i) parts_.push_back(std::make_unique<Partition>(i));
}

PartitionedJournal::~PartitionedJournal() = default;

void PartitionedJournal::loaded(Instant fetched_at) {
    for (auto& part : parts_) {
        std::lock_guard lock(part->look_mutex);
        part->fence_ref = fetched_at;
        part->fresh_at_ms = -1e18;
    }
}

// ---- Writes -----------------------------------------------------------------------------

nlohmann::json PartitionedJournal::apply(const Mutation& mutation) {
    Partition& part = *parts_[static_cast<std::size_t>(partition_of(mutation.owner, db_.partitions()))];
    auto mine = std::make_shared<PendingWrite>();
    mine->mutation = mutation;
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
            part.queue.erase(part.queue.begin(), part.queue.begin() + static_cast<std::ptrdiff_t>(n));
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
            if (!p->done) p->fail(std::make_exception_ptr(std::logic_error("a journal batch ended without an answer")));
        }
    }
    return result.get();
}

void PartitionedJournal::commit_batch(Partition& part, std::vector<std::shared_ptr<PendingWrite>>& batch) {
    bool rerun = false;       // the batch runs again on state another writer changed
    bool checked = false;     // a rejection is answered only on state known to be fresh
    bool catch_up_first = false;
    for (int attempt = 0;; ++attempt) {
        if (catch_up_first) {
            catch_up_first = false;
            catch_up_locked(part);
        }
        if (attempt >= kMaxCommitAttempts) {
            const auto e = std::make_exception_ptr(StoreError(
                ErrorKind::Transient, "could not append to partition " + std::to_string(part.index) + " of the journal of " +
                                          store_.url_for(key_) + " after " + std::to_string(attempt) +
                                          " rounds of losing to other writers"));
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
            std::optional<duck::Transaction> tx;
            tx.emplace(conn);
            std::vector<std::shared_ptr<PendingWrite>> applied;
            std::vector<nlohmann::json> results;
            bool restart = false;
            for (auto& p : batch) {
                if (p->done) continue;
                try {
                    results.push_back(host_.mutation_fn(p->mutation.name)(conn, p->mutation.params));
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
                        p->fail(std::make_exception_ptr(MutationRejected(
                            MutationRejected::Reason::Conflict,
                            std::string("this change conflicts with a concurrent write by another container: ") + e.what())));
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

            JournalEntry entry{part.index, seq + 1, settings_.writer_id, new_nonce(), {}};
            for (const auto& p : applied) entry.mutations.push_back(p->mutation);
            const Instant sent = Instant::now();
            const double sent_ms = monotonic_ms();
            crash_point("journal.append");
            bool landed = false;
            try {
                landed = journal_.append(entry) == Journal::AppendResult::Appended;
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
                    LocalDatabase::write_partition_seq(conn, part.index, entry.seq);
                    tx->commit();
                } catch (const std::exception& e) {
                    tx.reset();
                    host_.local_failure("committing entry " + std::to_string(entry.seq) + " of partition " +
                                        std::to_string(part.index) +
                                        " to the local database failed after the entry was stored: " + e.what());
                    for (std::size_t i = 0; i < applied.size(); ++i) applied[i]->succeed(std::move(results[i]));
                    return;
                }
                db_.set_partition_seq(part.index, entry.seq);
                part.looked(sent, sent_ms);  // nobody can write seq + 2 before our seq + 1 landed
                crash_point("journal.committed");
                obs::metrics().duration_ms(obs::kJournalAppendMs, monotonic_ms() - started);
                for (std::size_t i = 0; i < applied.size(); ++i) applied[i]->succeed(std::move(results[i]));
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
    log::warning("A journal append landed below the snapshot (this writer was paused for long); "
                 "it is withdrawn and the write applied again on the current state",
                 {{"partition", part.index}, {"seq", seq}, {"snapshot_seq", covered}});
    return true;
}

// ---- Catching up ------------------------------------------------------------------------

std::int64_t PartitionedJournal::snapshot_seq_now(int partition) {
    const auto snapshot = store_.head_if_exists(key_);
    if (!snapshot) return 0;
    const auto seqs = snapshot_partition_seqs(*snapshot);
    return seqs && partition < static_cast<int>(seqs->size()) ? (*seqs)[static_cast<std::size_t>(partition)] : 0;
}

std::optional<JournalEntry> PartitionedJournal::read_entry(Partition& part, std::int64_t seq) {
    try {
        return journal_.read(part.index, seq);
    } catch (const StoreError& e) {
        if (e.kind() != ErrorKind::Corrupt) throw;
        if (!part.damaged) ++damaged_;
        part.damaged = true;
        throw health_.fail(HealthBoard::Slot::Journal,
                           {"journal_corrupt", kCorruptHint,
                            std::string(e.what()) + ". This copy stays at entry " +
                                std::to_string(db_.partition_seq(part.index)) + " of partition " +
                                std::to_string(part.index) +
                                ". If the bucket keeps versions, make the entry's previous version current again; "
                                "otherwise make a good snapshot current (k9db versions, k9db restore --version-id ID)"});
    }
}

void PartitionedJournal::hole(Partition& part, const JournalHole& h, std::int64_t covered) {
    if (!part.damaged) ++damaged_;
    part.damaged = true;
    throw health_.fail(HealthBoard::Slot::Journal,
                       {"journal_corrupt", kCorruptHint, hole_message(store_.url_for(key_), h, covered)});
}

void PartitionedJournal::mark_sound(Partition& part) {
    if (!part.damaged) return;
    part.damaged = false;
    if (--damaged_ == 0) health_.clear(HealthBoard::Slot::Journal);
}

std::vector<std::optional<JournalEntry>> PartitionedJournal::fetch(int partition, const std::vector<std::int64_t>& seqs) {
    std::vector<std::optional<JournalEntry>> out(seqs.size());
    std::atomic<std::size_t> next{0};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&] {
        for (std::size_t i = next++; i < seqs.size(); i = next++) {
            try {
                out[i] = journal_.read(partition, seqs[i]);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                next = seqs.size();
            }
        }
    };
    const std::size_t n = std::min(kFetchConcurrency, seqs.size());
    std::vector<std::future<void>> workers;
    for (std::size_t i = 1; i < n; ++i) workers.push_back(std::async(std::launch::async, worker));
    worker();
    for (auto& w : workers) w.get();
    if (error) std::rethrow_exception(error);
    return out;
}

void PartitionedJournal::apply_entry(Partition& part, const JournalEntry& entry) {
    try {
        std::shared_lock gate(db_.write_gate());
        LocalDatabase::Lease lease(db_);
        duck::Connection& conn = lease.conn();
        duck::Transaction tx(conn);
        for (const auto& m : entry.mutations) host_.mutation_fn(m.name)(conn, m.params);
        LocalDatabase::write_partition_seq(conn, part.index, entry.seq);
        crash_point("journal.apply");
        tx.commit();
    } catch (const std::invalid_argument& e) {  // an unknown mutation: a newer k9 wrote it
        throw health_.fail(HealthBoard::Slot::Journal,
                           {"journal_unreadable", "the database's journal was written by a newer k9; upgrade",
                            "entry " + std::to_string(entry.seq) + " of partition " + std::to_string(part.index) +
                                " of " + store_.url_for(key_) + " cannot be applied by this k9: " + e.what() +
                                ". Deploy the k9 that wrote it"});
    } catch (const std::exception& e) {
        throw host_.local_failure("replaying entry " + std::to_string(entry.seq) + " of partition " +
                                  std::to_string(part.index) + " failed: " + e.what());
    }
    db_.set_partition_seq(part.index, entry.seq);
}

// Entries are missing above this copy for one good reason only: a compaction covered
// and removed them, and then the snapshot holds them (reload it). Anything else is a
// hole: refused, never skipped. `listed`: the partition's entries from a listing made
// before this call (compaction), instead of a probe.
void PartitionedJournal::catch_up_locked(Partition& part, std::optional<JournalEntry> next,
                                         const std::vector<std::int64_t>* listed) {
    for (int round = 0;; ++round) {
        const Instant looked = Instant::now();
        const double looked_ms = monotonic_ms();
        const std::int64_t seq = db_.partition_seq(part.index);
        std::vector<std::int64_t> later;  // known to exist after `next`
        if (listed != nullptr && round == 0) {
            for (const auto s : *listed) {
                if (s > seq) later.push_back(s);
            }
            if (!later.empty() && later.front() == seq + 1) {
                later.erase(later.begin());
                next = read_entry(part, seq + 1);
            } else if (!later.empty()) {
                next.reset();
            }
        } else if (!next || next->seq != seq + 1) {
            next = read_entry(part, seq + 1);  // the probe
            if (next) {
                if (auto after = read_entry(part, seq + 2)) {  // more than one: list the rest
                    later = journal_.list(part.index, seq + 1);
                } 
            }
        } else if (auto after = read_entry(part, seq + 2)) {
            later = journal_.list(part.index, seq + 1);
        }
        if (!next) {
            if (later.empty()) {
                // Nothing above this copy, unless a compaction removed it while we looked away.
                if (part.fence_holds(settings_.retention_s) || snapshot_seq_now(part.index) <= seq) {
                    part.looked(looked, looked_ms);
                    mark_sound(part);
                    return;
                }
            }
            const std::int64_t covered = snapshot_seq_now(part.index);
            if (covered <= seq || round >= kMaxReloads) {
                hole(part, JournalHole{part.index, seq + 1, later.empty() ? seq + 1 : later.front() - 1}, covered);
            }
            log::info("This copy is behind a compaction; reloading the snapshot",
                      {{"partition", part.index}, {"seq", seq}, {"snapshot_seq", covered}});
            host_.reload();
            next.reset();
            continue;
        }
        // next is seq + 1; `later` the entries after it.
        std::vector<std::optional<JournalEntry>> entries{std::move(next)};
        if (const auto h = first_hole(part.index, seq + 1, later)) {
            const std::int64_t covered = snapshot_seq_now(part.index);
            if (covered <= seq || round >= kMaxReloads) hole(part, *h, covered);
            host_.reload();
            next.reset();
            continue;
        }
        for (auto& e : fetch(part.index, later)) entries.push_back(std::move(e));
        bool restart = false;
        for (auto& e : entries) {
            if (!e) {  // removed since the listing: only a compaction does that
                restart = true;
                break;
            }
            if (e->reset) {
                // A restore or upload replaced the snapshot at this seq: load it, once it is there.
                if (snapshot_seq_now(part.index) < e->seq) {
                    log::info("A snapshot replacement is in progress; waiting for it",
                              {{"partition", part.index}, {"seq", e->seq}});
                    return;
                }
                host_.reload();
                restart = true;
                break;
            }
            apply_entry(part, *e);
        }
        next.reset();
        if (restart) continue;
        part.looked(looked, looked_ms);
        last_refresh_at_ = system_now();
        last_refresh_ms_ = looked_ms;
        mark_sound(part);
        return;
    }
}

// ---- Reads ------------------------------------------------------------------------------

void PartitionedJournal::refresh(int partition) {
    Partition& part = *parts_[static_cast<std::size_t>(partition)];
    if (settings_.max_staleness_ms > 0 &&
        monotonic_ms() - part.fresh_at_ms < static_cast<double>(settings_.max_staleness_ms)) {
        return;
    }
    std::unique_lock lock(part.probe_mutex);
    const std::uint64_t target = part.probes_started + 1;  // a probe that starts after now
    while (part.probes_finished < target) {
        if (part.probing) {
            part.probe_done.wait(lock);
            continue;
        }
        part.probing = true;
        const std::uint64_t mine = ++part.probes_started;
        lock.unlock();
        std::exception_ptr error;
        try {
            probe(part);
            health_.clear(HealthBoard::Slot::Store);
        } catch (...) {
            error = std::current_exception();
            note_failure(error);
        }
        lock.lock();
        part.probing = false;
        part.probes_finished = mine;
        part.probe_error = error;
        part.probe_done.notify_all();
    }
    if (part.probe_error) std::rethrow_exception(part.probe_error);
}

void PartitionedJournal::probe(Partition& part) {
    const Instant looked = Instant::now();
    const double looked_ms = monotonic_ms();
    const std::int64_t seq = db_.partition_seq(part.index);
    std::optional<JournalEntry> next;
    if (!part.damaged) {
        bool corrupt = false;
        try {
            next = journal_.read(part.index, seq + 1);
        } catch (const StoreError& e) {
            if (e.kind() != ErrorKind::Corrupt) throw;
            corrupt = true;  // read again under the lock, which reports it
        }
        if (!next && !corrupt && part.fence_holds(settings_.retention_s)) {
            part.looked(looked, looked_ms);
            last_refresh_at_ = system_now();
            last_refresh_ms_ = looked_ms;
            return;
        }
    }
    // New entries (another container wrote), damage, or a long pause: under the lock.
    std::lock_guard lock(part.mutex);
    catch_up_locked(part, std::move(next));
}

std::map<int, std::vector<std::int64_t>> PartitionedJournal::refresh_all() {
    auto listing = journal_.list_all();
    for (int p = 0; p < db_.partitions(); ++p) {
        Partition& part = *parts_[static_cast<std::size_t>(p)];
        const auto it = listing.find(p);
        static const std::vector<std::int64_t> none;
        const auto& seqs = it == listing.end() ? none : it->second;
        const bool behind = !seqs.empty() && seqs.back() > db_.partition_seq(p);
        if (!behind && !part.damaged) continue;
        std::lock_guard lock(part.mutex);
        catch_up_locked(part, std::nullopt, &seqs);
    }
    return listing;
}

void PartitionedJournal::note_failure(std::exception_ptr e) {
    try {
        std::rethrow_exception(std::move(e));
    } catch (const Unavailable&) {
        // Already on the board.
    } catch (const StoreError& s) {
        if (!s.is_precondition_failed() && !s.is_not_found()) {
            health_.set(HealthBoard::Slot::Store,
                        {"store_unavailable", "the database store is unavailable; retry shortly", s.what()});
        }
    } catch (...) {
    }
}

}  // namespace k9::db
