#include "store/s3/retry.hpp"

#include <algorithm>
#include <random>
#include <thread>

#include "common/hash.hpp"

namespace k9::store::s3 {

std::chrono::milliseconds RetryPolicy::backoff(int retry) const {
    double r;
    if (random) {
        r = random();
    } else {
        // Seeded from OpenSSL, not std::random_device (which needs a newer glibc than Lambda's).
        thread_local std::mt19937_64 engine{[] {
            const std::string seed = random_bytes(8);
            std::uint64_t v = 0;
            for (unsigned char c : seed) v = (v << 8) | c;
            return v;
        }()};
        r = std::uniform_real_distribution<double>(0.0, 1.0)(engine);
    }
    const double exp =
        static_cast<double>(base.count()) * static_cast<double>(1LL << std::min(retry - 1, 30));
    const double cap = std::min(exp, static_cast<double>(max_backoff.count()));
    return std::chrono::milliseconds(static_cast<long long>(r * cap));
}

void RetryPolicy::wait(int retry) const {
    const auto d = backoff(retry);
    if (sleep) {
        sleep(d);
    } else {
        std::this_thread::sleep_for(d);
    }
}

bool RetryQuota::acquire(int cost) {
    std::lock_guard lock(mutex_);
    if (tokens_ < cost) return false;
    tokens_ -= cost;
    return true;
}

void RetryQuota::release(int cost) {
    std::lock_guard lock(mutex_);
    tokens_ = std::min(kCapacity, tokens_ + cost);
}

}  // namespace k9::store::s3
