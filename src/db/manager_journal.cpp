// DatabaseManager in journal mode (K9_DURABILITY=journal): the commit path with group
// commit, catching up with other writers (holes refused), fencing, and
// compaction itself. See journal.hpp for the layout in the store.
#include <future>

#include "common/crash_point.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/manager.hpp"
#include "db/migrations.hpp"
#include "db/snapshot.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::StoreError;

namespace {
constexpr int kMaxCommitAttempts = 64;  // rounds of losing the seq to other writers
constexpr int kMaxReloads = 3;          // snapshot reloads in one catch-up (compactions racing it)

std::string new_nonce() {
    const std::string b = random_bytes(8);
    return to_hex(reinterpret_cast<const unsigned char*>(b.data()), b.size());
}
}  // namespace

struct DatabaseManager::PendingWrite {
    Mutation mutation;
    std::promise<nlohmann::json> promise;
    bool done = false;  // guarded by write_mutex_

    void succeed(nlohmann::json result) {
        done = true;
        promise.set_value(std::move(result));
    }
    void fail(std::exception_ptr e) {
        done = true;
        promise.set_exception(std::move(e));
    }
};

nlohmann::json DatabaseManager::apply_journaled(const Mutation& mutation) {
    auto mine = std::make_shared<PendingWrite>();
    mine->mutation = mutation;
    auto result = mine->promise.get_future();
    {
        std::lock_guard lock(queue_mutex_);
        queue_.push_back(mine);
    }
    // Group commit: whoever holds the write lock takes every queued write (up to
    // max_batch) into one journal entry. A caller finds its write already finished by
    // the previous holder, or commits it with the writes queued behind it. Every write
    // taken into a batch is finished (answered or failed) before the lock is released,
    // whatever step fails: no caller waits for an answer that nobody will give.
    for (;;) {
        std::lock_guard write_lock(write_mutex_);
        if (mine->done) break;
        std::vector<std::shared_ptr<PendingWrite>> batch;
        {
            std::lock_guard lock(queue_mutex_);
            const std::size_t n = std::min(queue_.size(), options_.max_batch);
            batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
            queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
        }
        try {
            ensure_usable_locked();
            // A copy that found the journal damaged reads it again before writing: a new
            // entry must never fill a hole.
            if (health_.get(HealthBoard::Slot::Journal)) catch_up_locked();
            commit_batch(batch);
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

void DatabaseManager::commit_batch(std::vector<std::shared_ptr<PendingWrite>>& batch) {
    bool rerun = false;  // the batch is applied again on state another writer changed
    for (int attempt = 0;; ++attempt) {
        if (attempt >= kMaxCommitAttempts) {
            const auto e = std::make_exception_ptr(StoreError(
                store::ErrorKind::Transient, "could not append to the journal of " + remote_url() + " after " +
                                                 std::to_string(attempt) + " rounds of losing to other writers"));
            for (auto& p : batch) {
                if (!p->done) p->fail(e);
            }
            return;
        }
        const double started = monotonic_ms();
        std::optional<duck::Transaction> tx;
        tx.emplace(*conn_);
        std::vector<std::shared_ptr<PendingWrite>> applied;
        std::vector<nlohmann::json> results;
        bool restart = false;
        for (auto& p : batch) {
            if (p->done) continue;
            try {
                results.push_back(mutation_fn(p->mutation.name)(*conn_, p->mutation.params));
                applied.push_back(p);
            } catch (const MutationRejected& e) {
                tx.reset();  // rolls back the others too: they are applied again below
                if (rerun) {
                    p->fail(std::make_exception_ptr(MutationRejected(
                        MutationRejected::Reason::Conflict,
                        std::string("this change conflicts with a concurrent write by another container: ") + e.what())));
                } else {
                    p->fail(std::current_exception());
                }
                restart = true;
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

        const std::int64_t next = seq_ + 1;
        JournalEntry entry{next, options_.writer_id, new_nonce(), {}};
        for (const auto& p : applied) entry.mutations.push_back(p->mutation);
        const Instant sent = Instant::now();
        const double sent_ms = monotonic_ms();
        crash_point("journal.append");
        Journal::AppendResult appended;
        try {
            appended = journal_->append(entry);
        } catch (const StoreError&) {
            // The PUT may have landed with its answer lost: only the store can tell.
            bool landed = false;
            try {
                landed = journal_->is_ours(next, entry.writer, entry.nonce);
            } catch (const StoreError&) {
            }
            if (!landed) {
                tx.reset();
                const auto e = std::current_exception();
                for (auto& p : applied) p->fail(e);
                return;
            }
            appended = Journal::AppendResult::Appended;
        }
        crash_point("journal.appended");
        if (appended == Journal::AppendResult::Taken && !journal_->is_ours(next, entry.writer, entry.nonce)) {
            // Another writer has this seq: take in what we lack and apply ours again after it.
            tx.reset();
            rerun = true;
            catch_up_locked();
            continue;
        }
        if (fenced_out(next)) {
            tx.reset();
            try {
                store_->remove(journal_->key(next));  // below the snapshot: nobody reads it
            } catch (const StoreError&) {
            }
            reload_locked(false);
            rerun = true;
            continue;
        }
        // The entry is in the store: these writes are durable and every copy will apply
        // them, so they are acknowledged whatever happens to the local commit below.
        try {
            conn_->prepared("UPDATE k9_meta SET value = ? WHERE name = 'seq'").bind(1, next).execute();
            tx->commit();
        } catch (const std::exception& e) {
            tx.reset();
            mark_local_unusable("committing journal entry " + std::to_string(next) +
                                " to the local database failed after the entry was stored: " + e.what());
            for (std::size_t i = 0; i < applied.size(); ++i) applied[i]->succeed(std::move(results[i]));
            return;
        }
        seq_ = next;
        last_look_ = sent;  // nobody can have written next + 1 before our entry at next landed
        last_refresh_ms_ = sent_ms;
        crash_point("journal.committed");
        obs::metrics().duration_ms(obs::kJournalAppendMs, monotonic_ms() - started);
        for (std::size_t i = 0; i < applied.size(); ++i) applied[i]->succeed(std::move(results[i]));
        return;
    }
}

std::int64_t DatabaseManager::snapshot_seq_now() {
    const auto snapshot = store_->head_if_exists(options_.key);
    return snapshot ? snapshot_seq(*snapshot) : 0;
}

// Reads the journal after seq_ and applies it. Entries are missing above this copy for
// one good reason only: a compaction covered and removed them, and then the snapshot
// holds them (reload it). Anything else is a hole: refused, never skipped.
void DatabaseManager::catch_up_locked() {
    for (int round = 0;; ++round) {
        const Instant looked = Instant::now();
        const double looked_ms = monotonic_ms();
        const auto seqs = journal_->list_after(seq_);
        std::optional<JournalHole> hole = first_hole(seq_, seqs);
        bool restart = false, waiting = false;
        for (const std::int64_t s : seqs) {
            if (hole && s > hole->first) break;
            JournalEntry entry;
            try {
                entry = journal_->read(s);
            } catch (const StoreError& e) {
                if (e.is_not_found()) {  // removed since the listing
                    hole = JournalHole{s, s};
                    break;
                }
                if (e.kind() != store::ErrorKind::Corrupt) throw;
                throw health_.fail(
                    HealthBoard::Slot::Journal,
                    {"journal_corrupt", "the database's journal is damaged; an operator must repair it",
                     std::string(e.what()) + ". This copy stays at entry " + std::to_string(seq_.load()) +
                         ". If the bucket keeps versions, make the entry's previous version current again; "
                         "otherwise make a good snapshot current (k9db versions, k9db restore --version-id ID)"});
            }
            if (entry.reset) {
                // A restore or upload replaced the snapshot at this seq: load it, once it is there.
                if (snapshot_seq_now() < s) {
                    log::info("A snapshot replacement is in progress; waiting for it", {{"seq", s}});
                    waiting = true;
                    break;
                }
                reload_locked(false);
                restart = true;
                break;
            }
            replay_entry_locked(entry);
        }
        if (!restart && !waiting && hole) {
            const std::int64_t covered = snapshot_seq_now();
            if (covered <= seq_ || round >= kMaxReloads) {
                throw health_.fail(HealthBoard::Slot::Journal,
                                   {"journal_corrupt", "the database's journal is damaged; an operator must repair it",
                                    hole_message(remote_url(), *hole, covered)});
            }
            // The entries after ours were compacted away: the snapshot has them.
            log::info("This copy is behind a compaction; reloading the snapshot",
                      {{"seq", seq_.load()}, {"snapshot_seq", covered}});
            reload_locked(false);
            restart = true;
        }
        if (restart) continue;
        last_look_ = looked;
        last_refresh_ms_ = looked_ms;
        last_refresh_at_ = options_.clock();
        health_.clear(HealthBoard::Slot::Journal);
        return;
    }
}

void DatabaseManager::replay_entry_locked(const JournalEntry& entry) {
    try {
        duck::Transaction tx(*conn_);
        for (const auto& m : entry.mutations) mutation_fn(m.name)(*conn_, m.params);
        conn_->prepared("UPDATE k9_meta SET value = ? WHERE name = 'seq'").bind(1, entry.seq).execute();
        crash_point("journal.apply");
        tx.commit();
    } catch (const std::invalid_argument& e) {  // an unknown mutation: a newer k9 wrote it
        throw health_.fail(HealthBoard::Slot::Journal,
                           {"journal_unreadable", "the database's journal was written by a newer k9; upgrade",
                            "journal entry " + std::to_string(entry.seq) + " of " + remote_url() +
                                " cannot be applied by this k9: " + e.what() + ". Deploy the k9 that wrote it"});
    } catch (const std::exception& e) {
        throw mark_local_unusable("replaying journal entry " + std::to_string(entry.seq) + " failed: " + e.what());
    }
    seq_ = entry.seq;
}

// A writer frozen for a long time may create an entry whose seq a compaction has already
// covered and deleted. Such an entry is never replayed, so the write must not be
// acknowledged: after such an append, the snapshot's seq tells (one HEAD).
//
// The fast path skips that HEAD. Let L be the moment this copy last knew that no entry
// existed above seq_ (last_look_: a listing, or the send of its own last append). An
// entry above seq_ is created after L; a snapshot covering it is taken after that, so
// its Last-Modified is after L; and prune_journal removes entries only once the
// store's clock shows that snapshot older than the retention. So no entry above seq_
// can be gone until the retention has passed since L. This copy measures the time
// since L on its own clocks (boot and wall clock: the larger difference) and skips the
// HEAD within half the retention, leaving the other half for the store's 1-second date
// resolution and for clock rates: the minimum retention (60 s) keeps that margin wide.
// It assumes the store's Date and Last-Modified come from one clock, running at the
// rate of ours, which HTTP dates give.
bool DatabaseManager::fenced_out(std::int64_t seq) {
    const double recent_ms = static_cast<double>(options_.journal_retention_s) * 1000.0 / 2;
    if (last_look_.is_set() && last_look_.elapsed_ms() < recent_ms) return false;
    const std::int64_t covered = snapshot_seq_now();
    if (covered >= seq) {
        log::warning("A journal append landed below the snapshot (this writer was paused for long); "
                     "it is withdrawn and the write applied again on the current state",
                     {{"seq", seq}, {"snapshot_seq", covered}});
        return true;
    }
    return false;
}

void DatabaseManager::note_failure(std::exception_ptr e) {
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

PersistResult DatabaseManager::compact() {
    const double started = monotonic_ms();
    const auto remote = store_->head_if_exists(options_.key);
    const std::int64_t remote_seq = remote ? snapshot_seq(*remote) : -1;
    auto remember = [&](const std::string& etag, std::int64_t seq, int schema, bool persisted) {
        std::lock_guard lock(state_mutex_);
        state_.base_etag = etag;
        state_.base_seq = seq;
        state_.base_schema = schema;
        if (persisted) state_.last_persist = options_.clock();
        state_.save(options_.db_path);
    };
    if (remote && remote_seq >= seq_) {
        // The snapshot already holds every write this copy has.
        remember(remote->etag, remote_seq, schema_, false);
        prune_journal(*remote);
        return PersistResult{false, remote->etag, remote_seq, 0, monotonic_ms() - started};
    }
    SnapshotCopy copy = snapshot_copy();
    store::PutOptions put;
    put.precondition = remote ? store::Precondition::if_match(remote->etag) : store::Precondition::if_none_match_any();
    put.metadata = {{kMetaSeq, std::to_string(copy.seq)},
                    {kMetaSchema, std::to_string(copy.schema)},
                    {kMetaWriter, options_.writer_id}};
    put.progress = options_.upload_progress;
    crash_point("snapshot.upload");
    store::ObjectInfo info;
    try {
        info = store_->put_file(copy.file->path(), options_.key, put);
    } catch (const StoreError& e) {
        if (!e.is_precondition_failed()) {
            obs::metrics().count(obs::kDatabaseUploadFailures);
            throw;
        }
        // Another container compacted at the same time: its snapshot serves as well.
        log::info("Another writer uploaded a snapshot first; keeping theirs", {{"remote", remote_url()}});
        return PersistResult{false, "", seq_, 0, monotonic_ms() - started};
    }
    crash_point("snapshot.uploaded");
    remember(info.etag, copy.seq, copy.schema, true);
    check_seq_owners(remote_seq);
    if (remote && remote_seq >= 0) prune_journal(*remote);  // covered by both snapshots
    PersistResult result{true, info.etag, copy.seq, info.size, monotonic_ms() - started};
    obs::metrics().duration_ms(obs::kPersistDurationMs, result.duration_ms);
    obs::metrics().gauge(obs::kDatabaseSizeBytes, static_cast<double>(info.size), obs::Unit::Bytes);
    log::info("Uploaded a snapshot", {{"remote", remote_url()}, {"seq", copy.seq}, {"etag", info.etag},
                                      {"bytes", info.size}, {"duration_ms", result.duration_ms}});
    return result;
}

// The snapshot's age is measured on the store's clock alone (the Date of the response
// that described it, minus its Last-Modified): a local clock that is hours off must not
// make a young snapshot look old (see fenced_out for why its age matters).
int DatabaseManager::prune_journal(const store::ObjectInfo& snapshot) {
    const std::int64_t covered = snapshot_seq(snapshot);
    if (covered <= 0) return 0;
    if (snapshot.server_time == 0) {
        log::warning("The store gives no time with its answers (no Date header): journal entries are kept",
                     {{"remote", remote_url()}});
        return 0;
    }
    const Micros age = snapshot.server_time - snapshot.last_modified;
    if (age < options_.journal_retention_s * 1'000'000) return 0;
    crash_point("compaction.delete");
    int removed = 0;
    try {
        removed = journal_->remove_upto(covered);
    } catch (const StoreError& e) {
        // Housekeeping: the snapshot holds these entries, and a cold start skips them. Left
        // in place, they are removed by the next compaction.
        log::warning("Could not remove journal entries a snapshot covers; the next compaction retries",
                     {{"upto_seq", covered}, {"error", e.what()}});
        return 0;
    }
    if (removed > 0) {
        log::info("Removed journal entries a snapshot covers", {{"upto_seq", covered}, {"entries", removed}});
    }
    return removed;
}

// Seqs with two owners mean the store let a create-only PUT replace an object, and the
// writes of the overwritten entry are gone from the journal (they live only in the copy
// that wrote them). It can only be seen on a store that keeps versions; k9 says so loudly.
void DatabaseManager::check_seq_owners(std::int64_t after) {
    std::vector<std::int64_t> seqs;
    try {
        seqs = journal_->doubly_owned(std::max<std::int64_t>(after, 0));
    } catch (const StoreError& e) {
        log::warning("Could not list the journal's versions to check that each seq has one owner",
                     {{"error", e.what()}});
        return;
    }
    if (seqs.empty()) return;
    std::string list;
    for (const auto s : seqs) list += (list.empty() ? "" : ", ") + std::to_string(s);
    const std::string detail =
        "journal seq(s) " + list + " of " + remote_url() +
        " were created by two writers: the store did not hold If-None-Match: * (the older version of each "
        "was overwritten, and the writes in it are missing from the journal). Compare the versions of those "
        "keys (k9db versions) and re-apply what is missing; then move this database to a store that honours "
        "conditional writes atomically";
    log::error("A journal seq has two owners", {{"seqs", list}, {"remote", remote_url()}});
    obs::metrics().count(obs::kJournalSeqConflicts);
    health_.warn({"journal_seq_conflict", "writes may have been lost by the store; an operator must check", detail});
}

void DatabaseManager::refresh_if_stale() {
    if (!journal_) return;
    open();
    ensure_usable();
    const double age = monotonic_ms() - last_refresh_ms_;
    if (options_.max_staleness_ms > 0 && age < static_cast<double>(options_.max_staleness_ms)) return;
    std::lock_guard write_lock(write_mutex_);
    try {
        ensure_usable_locked();
        catch_up_locked();
        health_.clear(HealthBoard::Slot::Store);
    } catch (...) {
        note_failure(std::current_exception());
        throw;
    }
}

}  // namespace k9::db
