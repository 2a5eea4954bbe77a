#include "api/response_cache.hpp"

namespace k9::api {
namespace {

std::size_t size_of(const std::string& key, const Response& r) {
    std::size_t n = 2 * key.size() + r.body.size() + 128;  // the key twice, bookkeeping
    for (const auto& [k, v] : r.headers) n += k.size() + v.size() + 64;
    return n;
}

}  // namespace

std::optional<Response> ResponseCache::get(const std::string& key, const db::DataVersion& version) {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(key);
    if (it == index_.end()) {
        ++misses_;
        return std::nullopt;
    }
    if (!(it->second->version == version)) {
        erase(it->second);  // the data moved on since
        ++misses_;
        return std::nullopt;
    }
    lru_.splice(lru_.begin(), lru_, it->second);
    ++hits_;
    return lru_.front().response;
}

void ResponseCache::put(const std::string& key, const db::DataVersion& version,
                        const Response& response) {
    const std::size_t bytes = size_of(key, response);
    if (bytes > max_bytes_ / 8) return;  // one answer never takes much of the cache
    std::lock_guard lock(mutex_);
    if (const auto it = index_.find(key); it != index_.end()) erase(it->second);
    lru_.push_front(Entry{key, version, response, bytes});
    index_.emplace(key, lru_.begin());
    bytes_ += bytes;
    while (bytes_ > max_bytes_ && !lru_.empty()) erase(std::prev(lru_.end()));
}

ResponseCache::Stats ResponseCache::stats() const {
    std::lock_guard lock(mutex_);
    return Stats{hits_, misses_, lru_.size(), bytes_};
}

void ResponseCache::erase(std::list<Entry>::iterator it) {
    bytes_ -= it->bytes;
    index_.erase(it->key);
    lru_.erase(it);
}

}  // namespace k9::api
