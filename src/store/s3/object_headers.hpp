#pragma once
// How object facts travel in S3 headers: ETag, size, Last-Modified, version id, user
// metadata (x-amz-meta-*), and k9's checksum (x-amz-meta-k9-xxh128).

#include <string>

#include "common/http_client.hpp"
#include "store/object_store.hpp"

namespace k9::store::s3 {

inline constexpr const char* kChecksumMeta = "k9-xxh128";

// ObjectInfo from a HeadObject / GetObject reply (size from Content-Length).
ObjectInfo object_info(const std::string& key, const http::Response& response);

// x-amz-meta-NAME headers for `metadata`, plus k9's checksum when given.
http::Headers metadata_headers(const Metadata& metadata, const std::string& checksum);

}  // namespace k9::store::s3
