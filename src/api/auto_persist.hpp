#pragma once
// The persistence policy of the service (the seed's optional persist, made a rule):
// persist after K9_PERSIST_WRITES writes, after K9_PERSIST_INTERVAL seconds with
// writes pending, when one journal partition has K9_PERSIST_TAIL entries beyond the
// snapshot, at shutdown, and on POST /admin/persist. In journal mode (the default) a
// persist is a compaction: every write is already in the store, and a failed compaction
// only leaves the journal longer. In snapshot mode a persist uploads the file, and the
// writes stay pending in the local database until one succeeds. Failures (and snapshot
// mode's conflicts) are logged, counted and reported by /health.
//
// The server runs it on a background thread (start()); the Lambda bootstrap calls
// maybe_persist() after each response, before asking for the next invocation.

#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "db/manager.hpp"

namespace k9::api {

struct PersistPolicy {
    int writes = 10;       // 0: not by count
    int interval_s = 300;  // 0: not by time
    int tail = 0;  // journal: when one partition has this many entries beyond the snapshot (0: not)
};

class AutoPersist {
  public:
    AutoPersist(db::DatabaseManager& manager, PersistPolicy policy, Clock clock = system_clock());
    ~AutoPersist();

    // Tells the policy a write happened (wakes the background thread).
    void note_write();
    // Persists when a rule says so. Never throws: failures are recorded.
    void maybe_persist();
    // Persists now (admin, shutdown). Throws PersistConflict / StoreError after recording them.
    db::PersistResult persist_now(const std::string& reason);

    // A background thread checking the rules after writes and once a second.
    void start();
    void stop();

    nlohmann::json status() const;

  private:
    bool due();
    void record_failure(const std::string& kind, const std::string& message);
    void loop();

    db::DatabaseManager& manager_;
    PersistPolicy policy_;
    Clock clock_;

    mutable std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
    std::mutex persist_mutex_;
    Micros pending_since_ = 0;  // when the oldest unpersisted write was noticed (0: none)
    std::int64_t persists_ = 0;
    std::int64_t conflicts_ = 0;
    std::int64_t failures_ = 0;
    std::optional<std::string> last_error_;
    std::optional<Micros> last_error_at_;
    Micros retry_after_ = 0;  // after a failure, automatic attempts wait (no log storm)
};

}  // namespace k9::api
