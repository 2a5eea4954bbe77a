#pragma once
// What PartitionedJournal keeps per partition (its .cpp files share it; nothing else
// includes this).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <string>
#include <vector>

#include "common/time.hpp"
#include "db/partitioned_journal.hpp"

namespace k9::db {

// Partition::fresh_at_ms below this: not looked at since the file was loaded.
inline constexpr double kNeverLooked = -1e17;

// The entries of one partition this copy applied last, consecutive and ending at its seq
// of the partition, as the copies its next entry carries (journal.hpp): at most the
// block's entries before that next seq, within kMaxCarriedBytes. Guarded by the
// partition's mutex.
class RecentEntries {
  public:
    // `text`: the entry's serialize(), applied by this copy as `seq` of the partition
    // while the local file was loaded as `generation`.
    void applied(std::int64_t seq, std::string text, std::uint64_t generation) {
        if (generation != generation_ || (!items_.empty() && items_.back().seq + 1 != seq)) {
            items_.clear();
            bytes_ = 0;
        }
        generation_ = generation;
        bytes_ += text.size();
        items_.push_back({seq, std::move(text)});
        const std::int64_t keep_from = carry_block_start(seq + 1);
        while (!items_.empty() && (items_.front().seq < keep_from || bytes_ > kMaxCarriedBytes)) {
            bytes_ -= items_.front().text.size();
            items_.pop_front();
        }
    }
    // The copies an entry at `seq` carries: none unless this copy holds the entries right
    // before it, from the same load of the file.
    std::vector<std::string> copies_for(std::int64_t seq, std::uint64_t generation) const {
        std::vector<std::string> out;
        if (generation != generation_ || items_.empty() || items_.back().seq + 1 != seq) return out;
        for (const auto& item : items_) {
            if (item.seq >= carry_block_start(seq)) out.push_back(item.text);
        }
        return out;
    }

  private:
    struct Item {
        std::int64_t seq;
        std::string text;
    };
    std::deque<Item> items_;
    std::size_t bytes_ = 0;
    std::uint64_t generation_ = 0;
};

struct PartitionedJournal::Partition {
    explicit Partition(int i) : index(i) {}
    const int index;
    std::mutex mutex;  // one commit or catch-up at a time (lock order: see local_database.hpp)
    std::atomic<bool> damaged{false};  // set and cleared under mutex; read by probes without it
    RecentEntries recent;              // guarded by mutex

    std::mutex queue_mutex;
    std::vector<std::shared_ptr<PendingWrite>> queue;

    // When this copy last knew the partition had no entry above its seq: the reference of
    // the fencing fast path, and of K9_MAX_STALENESS_MS.
    std::mutex look_mutex;
    Instant fence_ref;                                   // guarded by look_mutex
    std::atomic<double> fresh_at_ms{kNeverLooked * 10};  // monotonic; far past: never looked

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
