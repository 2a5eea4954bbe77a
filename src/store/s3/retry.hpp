#pragma once
// AWS "standard" retry behaviour: a bounded number of attempts, exponential backoff
// with full jitter (rand() * min(base * 2^n, 20 s)), and a retry quota shared by all
// requests of a client so a struggling service is not hammered (500 tokens; a retry
// costs 5, one after a timeout 10; a success after retrying gives its cost back, a success
// at the first attempt gives 1, so the quota refills while the service is healthy).

#include <chrono>
#include <functional>
#include <mutex>

namespace k9::store::s3 {

struct RetryPolicy {
    int max_attempts = 3;
    std::chrono::milliseconds base{1000};
    std::chrono::milliseconds max_backoff{20000};
    std::function<double()> random;  // uniform [0, 1); default: a thread-local engine
    std::function<void(std::chrono::milliseconds)> sleep;  // default: this_thread::sleep_for

    // The wait before retry number `retry` (1 for the first retry).
    std::chrono::milliseconds backoff(int retry) const;
    void wait(int retry) const;
};

class RetryQuota {
  public:
    static constexpr int kCapacity = 500;
    static constexpr int kRetryCost = 5;
    static constexpr int kTimeoutCost = 10;
    static constexpr int kNoRetryIncrement = 1;

    // Takes `cost` tokens; false (and nothing taken) when too few are left.
    bool acquire(int cost);
    void release(int cost);

  private:
    std::mutex mutex_;
    int tokens_ = kCapacity;
};

}  // namespace k9::store::s3
