#pragma once
// ResponseCache: the answers of a user's reads (GET /user/profile, GET /reports, ...),
// kept with the version of the data they were read from (DatabaseManager::data_version:
// the local file's epoch and the user's partition seq). A read that finds its key at the
// version the data has now returns the kept answer without running DuckDB; any other
// version is a miss, and the entry is dropped.
//
// Correct because of an order the Router keeps: the partition is made fresh first (the
// freshness rules: K9_MAX_STALENESS_MS), then the version is taken, then the read runs;
// and the manager moves the version after a commit and before the write is acknowledged.
// So an entry can only be older than its version says when the read that made it ran
// concurrently with a write, and its version then differs from every version after it.
//
// Bounded: at most `max_bytes` of keys and answers; the least recently used go first.
// Thread-safe (one mutex, held for a lookup or an insert only).

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "api/http_types.hpp"
#include "db/manager.hpp"

namespace k9::api {

class ResponseCache {
  public:
    explicit ResponseCache(std::size_t max_bytes) : max_bytes_(max_bytes) {}

    std::optional<Response> get(const std::string& key, const db::DataVersion& version);
    void put(const std::string& key, const db::DataVersion& version, const Response& response);

    struct Stats {
        std::uint64_t hits = 0;
        std::uint64_t misses = 0;
        std::size_t entries = 0;
        std::size_t bytes = 0;
    };
    Stats stats() const;

  private:
    struct Entry {
        std::string key;
        db::DataVersion version;
        Response response;
        std::size_t bytes = 0;
    };
    void erase(std::list<Entry>::iterator it);

    const std::size_t max_bytes_;
    mutable std::mutex mutex_;
    std::list<Entry> lru_;  // most recently used first
    std::unordered_map<std::string, std::list<Entry>::iterator> index_;
    std::size_t bytes_ = 0;
    std::uint64_t hits_ = 0;
    std::uint64_t misses_ = 0;
};

}  // namespace k9::api
