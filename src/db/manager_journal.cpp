// DatabaseManager in journal mode (K9_DURABILITY=journal): the commit path with group
// commit, catching up with other writers, fencing, resync after a compaction, and
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

std::string new_nonce() {
    const std::string b = random_bytes(8);
    return to_hex(reinterpret_cast<const unsigned char*>(b.data()), b.size());
}

std::int64_t snapshot_seq(const store::ObjectInfo& info) {
    auto it = info.metadata.find(kMetaSeq);
    if (it == info.metadata.end()) return -1;  // not written by k9: unknown
    try {
        return std::stoll(it->second);
    } catch (const std::exception&) {
        return -1;
    }
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
    // max_batch) into one journal entry. A caller finds its write already committed by
    // the previous holder, or commits it with the writes queued behind it.
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
        commit_batch(batch);
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
            resync_locked();
            rerun = true;
            continue;
        }
        conn_->prepared("UPDATE k9_meta SET value = ? WHERE name = 'seq'").bind(1, next).execute();
        tx->commit();
        seq_ = next;
        last_refresh_ms_ = monotonic_ms();
        crash_point("journal.committed");
        obs::metrics().duration_ms(obs::kJournalAppendMs, monotonic_ms() - started);
        for (std::size_t i = 0; i < applied.size(); ++i) applied[i]->succeed(std::move(results[i]));
        return;
    }
}

void DatabaseManager::catch_up_locked() {
    const double looked = monotonic_ms();
    auto seqs = journal_->list_after(seq_);
    last_refresh_ms_ = looked;
    last_refresh_at_ = options_.clock();
    if (seqs.empty()) return;
    if (seqs.front() != seq_ + 1) {
        // The entries after ours were compacted away: the snapshot has them.
        log::warning("This copy is behind the journal's oldest entry; reloading the snapshot",
                     {{"seq", seq_.load()}, {"oldest", seqs.front()}});
        resync_locked();
        seqs = journal_->list_after(seq_);
        if (!seqs.empty() && seqs.front() != seq_ + 1) {
            throw std::runtime_error("the journal of " + remote_url() + " is missing entries " +
                                     std::to_string(seq_ + 1) + " to " + std::to_string(seqs.front() - 1) +
                                     " and no snapshot covers them; restore the snapshot from a version");
        }
    }
    for (const std::int64_t s : seqs) {
        if (s != seq_ + 1) break;  // a hole appeared since the listing: the next look sees it
        JournalEntry entry;
        try {
            entry = journal_->read(s);
        } catch (const StoreError& e) {
            if (!e.is_not_found()) throw;
            break;  // removed by a compaction since the listing
        }
        if (entry.reset) {
            // A restore or upload replaced the snapshot at this seq: load it, once it is there.
            const auto snapshot = store_->head_if_exists(options_.key);
            if (!snapshot || snapshot_seq(*snapshot) < s) {
                log::info("A snapshot replacement is in progress; waiting for it", {{"seq", s}});
                break;
            }
            resync_locked();
            catch_up_locked();
            return;
        }
        duck::Transaction tx(*conn_);
        for (const auto& m : entry.mutations) {
            try {
                mutation_fn(m.name)(*conn_, m.params);
            } catch (const std::exception& e) {
                throw std::runtime_error("replaying journal entry " + std::to_string(s) + " (" + m.name +
                                         ") failed: " + e.what() +
                                         "; this copy no longer matches the writers' state. Remove the local "
                                         "database to load it again from the store");
            }
        }
        conn_->prepared("UPDATE k9_meta SET value = ? WHERE name = 'seq'").bind(1, s).execute();
        crash_point("journal.apply");
        tx.commit();
        seq_ = s;
    }
}

// A writer frozen for a long time may create an entry whose seq a compaction has already
// covered and deleted. Such an entry is never replayed, so the write must not be
// acknowledged. Entries are deleted only once the snapshot covering them is older than
// the retention delay; within half of it since this copy last saw the journal, no
// snapshot can have covered a seq this copy has not seen, and the check is skipped.
bool DatabaseManager::fenced_out(std::int64_t seq) {
    const double recent_ms = static_cast<double>(options_.journal_retention_s) * 1000.0 / 2;
    if (monotonic_ms() - last_refresh_ms_ < recent_ms) return false;
    const auto snapshot = store_->head_if_exists(options_.key);
    if (!snapshot) return false;
    const std::int64_t covered = snapshot_seq(*snapshot);
    if (covered >= seq) {
        log::warning("A journal append landed below the snapshot (this writer was paused for long); "
                     "it is withdrawn and the write applied again on the current state",
                     {{"seq", seq}, {"snapshot_seq", covered}});
        return true;
    }
    return false;
}

void DatabaseManager::resync_locked() {
    const stdfs::path& path = options_.db_path;
    FetchedSnapshot fetched = fetch_snapshot(*store_, options_.key, path.parent_path(), {}, true);
    {
        std::unique_lock db_lock(db_mutex_);  // no reader holds a connection now
        {
            std::lock_guard lock(pool_mutex_);
            idle_.clear();
        }
        conn_.reset();
        db_.reset();
        install_snapshot(fetched, path);
        db_ = std::make_unique<duck::Database>(path, duckdb_options(path));
        conn_ = std::make_unique<duck::Connection>(*db_);
        seq_ = read_seq(*conn_);
        const int base_schema = schema_version(*conn_);
        migrate(*conn_);
        schema_ = schema_version(*conn_);
        std::lock_guard lock(state_mutex_);
        state_.origin = LocalState::Origin::Downloaded;
        state_.base_etag = fetched.info.etag;
        state_.base_seq = seq_;
        state_.base_schema = base_schema;
        state_.last_download = options_.clock();
        state_.save(path);
    }
    log::info("Reloaded the snapshot", {{"remote", remote_url()}, {"seq", seq_.load()}});
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
    if (remote && remote_seq >= 0) prune_journal(*remote);  // covered by both snapshots
    PersistResult result{true, info.etag, copy.seq, info.size, monotonic_ms() - started};
    obs::metrics().duration_ms(obs::kPersistDurationMs, result.duration_ms);
    obs::metrics().gauge(obs::kDatabaseSizeBytes, static_cast<double>(info.size), obs::Unit::Bytes);
    log::info("Uploaded a snapshot", {{"remote", remote_url()}, {"seq", copy.seq}, {"etag", info.etag},
                                      {"bytes", info.size}, {"duration_ms", result.duration_ms}});
    return result;
}

int DatabaseManager::prune_journal(const store::ObjectInfo& snapshot) {
    const std::int64_t covered = snapshot_seq(snapshot);
    const Micros age = options_.clock() - snapshot.last_modified;
    if (covered <= 0 || age < options_.journal_retention_s * 1'000'000) return 0;
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

void DatabaseManager::refresh_if_stale() {
    if (!journal_) return;
    open();
    const double age = monotonic_ms() - last_refresh_ms_;
    if (options_.max_staleness_ms > 0 && age < static_cast<double>(options_.max_staleness_ms)) return;
    std::lock_guard write_lock(write_mutex_);
    catch_up_locked();
}

}  // namespace k9::db
