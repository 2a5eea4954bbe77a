// PartitionedJournal: catching a partition up (the entries it lacks, fetched in
// parallel; holes refused) and the freshness probes of reads.
#include <algorithm>
#include <future>
#include <map>
#include <utility>

#include "common/crash_point.hpp"
#include "common/log.hpp"
#include "db/k9_meta.hpp"
#include "db/partition_state.hpp"
#include "db/partitioned_journal.hpp"
#include "db/snapshot.hpp"

namespace k9::db {
using store::ErrorKind;
using store::StoreError;

namespace {
constexpr int kMaxReloads = 3;  // snapshot reloads in one catch-up (compactions racing it)
constexpr std::size_t kFetchConcurrency = 16;
constexpr const char* kCorruptHint =
    "the database's journal is damaged; an operator must repair it";
}  // namespace

// ---- Catching up ------------------------------------------------------------------------

std::int64_t PartitionedJournal::snapshot_seq_now(int partition) {
    const auto snapshot = store_.head_if_exists(key_);
    if (!snapshot) return 0;
    const auto seqs = snapshot_partition_seqs(*snapshot);
    return seqs && partition < static_cast<int>(seqs->size())
               ? (*seqs)[static_cast<std::size_t>(partition)]
               : 0;
}

std::optional<JournalEntry> PartitionedJournal::read_entry(Partition& part, std::int64_t seq) {
    try {
        return journal_.read(part.index, seq);
    } catch (const StoreError& e) {
        if (e.kind() != ErrorKind::Corrupt) throw;
        if (!part.damaged) ++damaged_;
        part.damaged = true;
        throw health_.fail(
            HealthBoard::Slot::Journal,
            {"journal_corrupt", kCorruptHint,
             std::string(e.what()) + ". This copy stays at entry " +
                 std::to_string(db_.partition_seq(part.index)) + " of partition " +
                 std::to_string(part.index) +
                 ". If the bucket keeps versions, make the entry's previous version current again; "
                 "otherwise make a good snapshot current (k9db versions, k9db restore --version-id "
                 "ID)"});
    }
}

void PartitionedJournal::hole(Partition& part, const JournalHole& h, std::int64_t covered) {
    if (!part.damaged) ++damaged_;
    part.damaged = true;
    throw health_.fail(
        HealthBoard::Slot::Journal,
        {"journal_corrupt", kCorruptHint, hole_message(store_.url_for(key_), h, covered)});
}

void PartitionedJournal::mark_sound(Partition& part) {
    if (!part.damaged) return;
    part.damaged = false;
    if (--damaged_ == 0) health_.clear(HealthBoard::Slot::Journal);
}

std::vector<std::optional<JournalEntry>> PartitionedJournal::fetch(
    int partition, const std::vector<std::int64_t>& seqs) {
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

// The last listed entry of each block first: its carried copies hold the block's earlier
// entries (journal.hpp); then whatever no copy held, one GET each.
std::vector<std::optional<JournalEntry>> PartitionedJournal::fetch_run(
    Partition& part, const std::vector<std::int64_t>& seqs, std::optional<JournalEntry> known) {
    std::map<std::int64_t, std::optional<JournalEntry>> got;
    auto take = [&](std::optional<JournalEntry> e, std::int64_t seq) {
        if (e) {
            for (auto& c : e->carried) got.try_emplace(c.seq, std::move(c));
            e->carried.clear();
        }
        got.insert_or_assign(seq, std::move(e));
    };
    if (known) {
        const std::int64_t s = known->seq;
        take(std::move(known), s);
    }
    std::vector<std::int64_t> anchors;  // ascending; the last seq of `seqs` in each block
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        const bool last_of_block =
            i + 1 == seqs.size() || carry_block_start(seqs[i + 1]) != carry_block_start(seqs[i]);
        if (last_of_block && !got.count(seqs[i])) anchors.push_back(seqs[i]);
    }
    auto fetched = fetch(part.index, anchors);
    for (std::size_t i = 0; i < anchors.size(); ++i) take(std::move(fetched[i]), anchors[i]);
    std::vector<std::int64_t> rest;
    for (const auto s : seqs) {
        if (!got.count(s)) rest.push_back(s);
    }
    fetched = fetch(part.index, rest);
    for (std::size_t i = 0; i < rest.size(); ++i) take(std::move(fetched[i]), rest[i]);
    std::vector<std::optional<JournalEntry>> out;
    out.reserve(seqs.size());
    for (const auto s : seqs) out.push_back(std::move(got[s]));
    return out;
}

// Runs of one mutation that has a batch replay (CreateReport: many rows per INSERT) go
// as one batch; the effect is that of each in order.
void PartitionedJournal::replay(duck::Connection& conn,
                                const std::vector<const Mutation*>& mutations) {
    for (std::size_t i = 0; i < mutations.size();) {
        const std::string& name = mutations[i]->name;
        std::size_t end = i + 1;
        while (end < mutations.size() && mutations[end]->name == name) ++end;
        const BatchFn* batch = end - i > 1 ? host_.batch_fn(name) : nullptr;
        if (batch != nullptr) {
            std::vector<const nlohmann::json*> params;
            for (std::size_t k = i; k < end; ++k) params.push_back(&mutations[k]->params);
            (*batch)(conn, params);
        } else {
            const MutationFn& fn = host_.mutation_fn(name);
            for (std::size_t k = i; k < end; ++k) fn(conn, mutations[k]->params);
        }
        i = end;
    }
}

void PartitionedJournal::apply_entries(Partition& part,
                                       const std::vector<const JournalEntry*>& entries) {
    if (entries.empty()) return;
    const std::string which = entries.size() == 1
                                  ? "entry " + std::to_string(entries.front()->seq)
                                  : "entries " + std::to_string(entries.front()->seq) + " to " +
                                        std::to_string(entries.back()->seq);
    try {
        std::shared_lock gate(db_.write_gate());
        LocalDatabase::Lease lease(db_);
        duck::Connection& conn = lease.conn();
        const std::uint64_t epoch = db_.epoch();
        duck::Transaction tx(conn);
        std::vector<const Mutation*> mutations;
        for (const JournalEntry* entry : entries) {
            for (const auto& m : entry->mutations) mutations.push_back(&m);
            crash_point("journal.apply");
        }
        replay(conn, mutations);
        meta::write_partition_seq(conn, part.index, entries.back()->seq);
        tx.commit();
        for (const JournalEntry* entry : entries)
            part.recent.applied(entry->seq, entry->serialize(), epoch);
    } catch (const std::invalid_argument& e) {  // an unknown mutation: a newer k9 wrote it
        throw health_.fail(
            HealthBoard::Slot::Journal,
            {"journal_unreadable", "the database's journal was written by a newer k9; upgrade",
             which + " of partition " + std::to_string(part.index) + " of " + store_.url_for(key_) +
                 " cannot be applied by this k9: " + e.what() + ". Deploy the k9 that wrote it"});
    } catch (const std::exception& e) {
        throw host_.local_failure("replaying " + which + " of partition " +
                                  std::to_string(part.index) + " failed: " + e.what());
    }
    db_.set_partition_seq(part.index, entries.back()->seq);
}

// Entries are missing above this copy for one good reason only: a compaction covered
// and removed them, and then the snapshot holds them (reload it). Anything else is a
// hole: refused, never skipped. `listed`: the partition's entries from a listing made
// before this call (compaction), instead of a probe. `second_read`: what the caller read
// at the seq after `next` (null: it did not read it).
void PartitionedJournal::catch_up_locked(Partition& part, std::optional<JournalEntry> next,
                                         const std::vector<std::int64_t>* listed,
                                         std::optional<JournalEntry>* second_read) {
    for (int round = 0;; ++round) {
        const Instant looked = Instant::now();
        const double looked_ms = monotonic_ms();
        const std::int64_t seq = db_.partition_seq(part.index);
        std::vector<std::int64_t> later;     // known to exist after `next`
        std::optional<JournalEntry> second;  // seq + 2, when the look read it
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
                second = read_entry(part, seq + 2);
                if (second) later = journal_.list(part.index, seq + 1);  // more than one: list
            }
        } else {
            if (round == 0 && second_read != nullptr && next->seq == seq + 1) {
                second = std::move(*second_read);
            } else {
                second = read_entry(part, seq + 2);
            }
            if (second) later = journal_.list(part.index, seq + 1);
        }
        if (!next) {
            if (later.empty()) {
                // Nothing above this copy, unless a compaction removed it while we looked away.
                if (part.fence_holds(settings_.retention_s) ||
                    snapshot_seq_now(part.index) <= seq) {
                    part.looked(looked, looked_ms);
                    mark_sound(part);
                    return;
                }
            }
            const std::int64_t covered = snapshot_seq_now(part.index);
            if (covered <= seq || round >= kMaxReloads) {
                hole(part,
                     JournalHole{part.index, seq + 1, later.empty() ? seq + 1 : later.front() - 1},
                     covered);
            }
            log::info("This copy is behind a compaction; reloading the snapshot",
                      {{"partition", part.index}, {"seq", seq}, {"snapshot_seq", covered}});
            host_.reload();
            next.reset();
            continue;
        }
        // next is seq + 1; `later` the entries after it.
        if (const auto h = first_hole(part.index, seq + 1, later)) {
            const std::int64_t covered = snapshot_seq_now(part.index);
            if (covered <= seq || round >= kMaxReloads) hole(part, *h, covered);
            host_.reload();
            next.reset();
            continue;
        }
        // Taken out of `next`, which is empty from here on.
        std::vector<std::optional<JournalEntry>> entries{std::exchange(next, std::nullopt)};
        for (auto& e : fetch_run(part, later, std::move(second))) entries.push_back(std::move(e));
        bool restart = false;
        std::vector<const JournalEntry*> run;  // consecutive entries to replay together
        for (auto& e : entries) {
            if (!e || e->reset) {
                apply_entries(part, run);
                run.clear();
            }
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
            run.push_back(&*e);
        }
        if (!restart) apply_entries(part, run);
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
    std::optional<JournalEntry> second;
    bool read_both = false;
    if (!part.damaged) {
        bool corrupt = false;
        try {
            if (part.fresh_at_ms < kNeverLooked) {
                read_both = true;
                // The first look since the file was loaded (a cold start): entries are
                // likely, so the one after the next is read beside it (a round trip less
                // before the listing, a GET more when there is none).
                auto both = fetch(part.index, {seq + 1, seq + 2});
                next = std::move(both[0]);
                second = std::move(both[1]);
            } else {
                next = journal_.read(part.index, seq + 1);
            }
        } catch (const StoreError& e) {
            if (e.kind() != ErrorKind::Corrupt) throw;
            corrupt = true;  // read again under the lock, which reports it
            read_both = false;
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
    catch_up_locked(part, std::move(next), nullptr, read_both ? &second : nullptr);
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
                        {"store_unavailable", "the database store is unavailable; retry shortly",
                         s.what()});
        }
    } catch (...) {
    }
}

}  // namespace k9::db
