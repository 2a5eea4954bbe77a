#pragma once
// How object facts travel in S3 headers: ETag, size, Last-Modified, version id, user
// metadata (x-amz-meta-*), k9's checksum (x-amz-meta-k9-xxh128), and the store's
// clock (Date).

#include <cstdint>
#include <optional>
#include <string>

#include "common/http_client.hpp"
#include "store/object_store.hpp"

namespace k9::store::s3 {

inline constexpr const char* kChecksumMeta = "k9-xxh128";

// ObjectInfo from a HeadObject / GetObject reply (size from Content-Length).
ObjectInfo object_info(const std::string& key, const http::Response& response);

// The server's clock when it answered: the reply's Date header (RFC 1123, 1 s
// resolution), µs since the epoch; 0 when it has none or it cannot be read.
std::int64_t server_time(const http::Response& response);

// A Content-Range header, "bytes FIRST-LAST/TOTAL"; nullopt when absent or malformed
// (FIRST > LAST, LAST >= TOTAL).
struct ContentRange {
    std::uint64_t first = 0, last = 0, total = 0;
    bool operator==(const ContentRange&) const = default;
};
std::optional<ContentRange> content_range(const http::Response& response);

// x-amz-meta-NAME headers for `metadata`, plus k9's checksum when given.
http::Headers metadata_headers(const Metadata& metadata, const std::string& checksum);

}  // namespace k9::store::s3
