#include "api/auto_persist.hpp"

#include "common/log.hpp"
#include "store/error.hpp"

namespace k9::api {

AutoPersist::AutoPersist(db::DatabaseManager& manager, PersistPolicy policy, Clock clock)
    : manager_(manager), policy_(policy), clock_(std::move(clock)) {
    // Writes left pending by an earlier process count from now.
    if (manager_.pending_writes() > 0) pending_since_ = clock_();
}

AutoPersist::~AutoPersist() {
    stop();
}

void AutoPersist::note_write() {
    {
        std::lock_guard lock(mutex_);
        if (pending_since_ == 0) pending_since_ = clock_();
    }
    wake_.notify_all();
}

bool AutoPersist::due() {
    if (policy_.writes <= 0 && policy_.interval_s <= 0) return false;
    const std::int64_t pending = manager_.pending_writes();
    std::lock_guard lock(mutex_);
    if (pending <= 0) {
        pending_since_ = 0;
        return false;
    }
    if (pending_since_ == 0) pending_since_ = clock_();
    if (clock_() < retry_after_) return false;
    const bool by_count = (policy_.writes > 0 && pending >= policy_.writes) ||
                          (policy_.tail > 0 && manager_.longest_tail() >= policy_.tail);
    const bool by_time =
        policy_.interval_s > 0 &&
        clock_() - pending_since_ >= static_cast<Micros>(policy_.interval_s) * 1'000'000;
    return by_count || by_time;
}

void AutoPersist::record_failure(const std::string& kind, const std::string& message) {
    constexpr Micros kConflictBackoff = 60LL * 1'000'000, kFailureBackoff = 10LL * 1'000'000;
    std::lock_guard lock(mutex_);
    if (kind == "conflict")
        ++conflicts_;
    else
        ++failures_;
    last_error_ = message;
    last_error_at_ = clock_();
    retry_after_ = clock_() + (kind == "conflict" ? kConflictBackoff : kFailureBackoff);
}

db::PersistResult AutoPersist::persist_now(const std::string& reason) {
    std::lock_guard one_at_a_time(persist_mutex_);
    try {
        auto result = manager_.persist();
        std::lock_guard lock(mutex_);
        ++persists_;
        if (manager_.pending_writes() == 0) pending_since_ = 0;
        return result;
    } catch (const db::PersistConflict& e) {
        record_failure("conflict", e.what());
        log::error("Automatic persist hit a conflict; the writes stay pending locally",
                   {{"reason", reason}, {"error", e.what()}});
        throw;
    } catch (const std::exception& e) {
        record_failure("failure", e.what());
        log::error("Persist failed; the writes stay pending locally",
                   {{"reason", reason}, {"error", e.what()}});
        throw;
    }
}

void AutoPersist::maybe_persist() {
    try {
        if (due()) persist_now("policy");
    } catch (const std::exception&) {
        // Recorded (and logged) by persist_now; the next check tries again.
    }
}

void AutoPersist::start() {
    std::lock_guard lock(mutex_);
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { loop(); });
}

void AutoPersist::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void AutoPersist::loop() {
    std::unique_lock lock(mutex_);
    while (!stopping_) {
        wake_.wait_for(lock, std::chrono::seconds(1));
        if (stopping_) break;
        lock.unlock();
        maybe_persist();
        lock.lock();
    }
}

nlohmann::json AutoPersist::status() const {
    std::lock_guard lock(mutex_);
    return {{"persists", persists_},
            {"conflicts", conflicts_},
            {"failures", failures_},
            {"last_error", last_error_ ? nlohmann::json(*last_error_) : nlohmann::json(nullptr)},
            {"last_error_at", last_error_at_ ? nlohmann::json(format_iso8601(*last_error_at_))
                                             : nlohmann::json(nullptr)},
            {"policy", {{"writes", policy_.writes}, {"interval_s", policy_.interval_s}}}};
}

}  // namespace k9::api
