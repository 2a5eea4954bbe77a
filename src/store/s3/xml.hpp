#pragma once
// The S3 XML documents k9 reads and writes (pugixml). Parsers are strict about what
// they need and ignore the rest; a body that is not the expected document throws
// StoreError(Transient): it is what a proxy that cut the body short produces.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/object_store.hpp"

namespace k9::store::s3 {

struct S3Error {
    std::string code;  // e.g. NoSuchKey, PreconditionFailed, SlowDown
    std::string message;
    std::string request_id;
};

// The <Error> document S3 sends with failures (and inside a 200 response to
// CompleteMultipartUpload); nullopt when the body is not one.
std::optional<S3Error> parse_error(std::string_view body);

struct ListPage {
    std::vector<ObjectInfo> objects;
    bool truncated = false;
    std::string next_continuation_token;
};
ListPage parse_list_objects_v2(std::string_view body);

struct VersionsPage {
    std::vector<VersionInfo> versions;  // versions and delete markers, in document order
    bool truncated = false;
    std::string next_key_marker;
    std::string next_version_id_marker;
};
VersionsPage parse_list_object_versions(std::string_view body);

// UploadId from <InitiateMultipartUploadResult>.
std::string parse_initiate_multipart(std::string_view body);

struct CompletedPart {
    int number = 0;
    std::string etag;
    std::string checksum_crc32c;  // base64, or empty
};
std::string complete_multipart_body(const std::vector<CompletedPart>& parts);

// <CompleteMultipartUploadResult>: the new object's ETag.
std::string parse_complete_multipart(std::string_view body);

// S3 timestamps: 2026-11-25T17:18:52.000Z (XML) or RFC 1123 (Last-Modified header).
std::int64_t parse_s3_time(std::string_view text);

}  // namespace k9::store::s3
