#pragma once
// What PartitionedJournal keeps per partition (its .cpp files share it; nothing else
// includes this).

#include <atomic>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <vector>

#include "common/time.hpp"
#include "db/partitioned_journal.hpp"

namespace k9::db {

struct PartitionedJournal::Partition {
    explicit Partition(int i) : index(i) {}
    const int index;
    std::mutex mutex;  // one commit or catch-up at a time (lock order: see local_database.hpp)
    std::atomic<bool> damaged{false};  // set and cleared under mutex; read by probes without it

    std::mutex queue_mutex;
    std::vector<std::shared_ptr<PendingWrite>> queue;

    // When this copy last knew the partition had no entry above its seq: the reference of
    // the fencing fast path, and of K9_MAX_STALENESS_MS.
    std::mutex look_mutex;
    Instant fence_ref;                       // guarded by look_mutex
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
        return fence_ref.is_set() &&
               fence_ref.elapsed_ms() < static_cast<double>(retention_s) * 1000.0 / 2;
    }
};

}  // namespace k9::db
