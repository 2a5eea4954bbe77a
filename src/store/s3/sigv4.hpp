#pragma once
// AWS Signature Version 4 (AWS4-HMAC-SHA256) for k9's own S3 client: a pure function of the
// request, the credentials and the time, so it is golden-tested against AWS's published
// examples (tests/sigv4_test.cpp). We sign ourselves because Debian 12's curl 7.88 has known
// CURLOPT_AWS_SIGV4 bugs with S3.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/s3/aws_credentials.hpp"

namespace k9::store::s3 {

// RFC 3986 / SigV4 percent-encoding: A-Z a-z 0-9 - _ . ~ are kept; every other byte
// (UTF-8 bytes of non-ASCII) becomes %XX with upper-case hex; '/' is kept when
// encode_slash is false (object key paths) and encoded when true (query strings).
// A space is always %20, never '+'.
std::string uri_encode(std::string_view text, bool encode_slash);

// The time as SigV4 writes it, "YYYYMMDDTHHMMSSZ" (UTC, sub-second part dropped).
std::string amz_date(std::int64_t now_micros);

struct SigningInput {
    std::string method;  // "GET", "PUT", ...
    // The path exactly as sent on the wire, already encoded, e.g. "/bucket/my%20key". S3 does
    // not normalise paths, so neither does the signer. Must start with '/'.
    std::string canonical_uri;
    // Decoded names and values; the signer encodes and sorts them.
    std::vector<std::pair<std::string, std::string>> query;
    // As sent, any case; must contain "host". For S3, include x-amz-content-sha256 (S3
    // requires it and it should be signed).
    std::vector<std::pair<std::string, std::string>> headers;
    std::string payload_hash;  // lowercase hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct Signature {
    std::string authorization;      // the Authorization header value
    std::string amz_date;           // e.g. "20130524T000000Z": the caller sends it as x-amz-date
    std::string canonical_request;  // for debugging and tests
    std::string string_to_sign;
    std::string signed_headers;  // e.g. "host;range;x-amz-content-sha256;x-amz-date"
};

// AWS Signature Version 4 (AWS4-HMAC-SHA256). Pure: `now_micros` is the time
// (microseconds since the Unix epoch, UTC). Signs every header in `headers`
// (lower-cased names, values trimmed with inner runs of spaces collapsed, sorted;
// repeated names joined with ','), plus x-amz-date (added if absent) and, when
// creds.session_token is non-empty, x-amz-security-token (added if absent). The
// caller must send x-amz-date = amz_date and the session token header too.
// Throws std::invalid_argument when there is no host header, when canonical_uri does not
// start with '/', or when a given x-amz-date or x-amz-security-token disagrees with
// `now_micros` or `creds` (the request would be refused by S3 as SignatureDoesNotMatch).
Signature sign_v4(const SigningInput& in, const Credentials& creds, const std::string& region,
                  const std::string& service, std::int64_t now_micros);

}  // namespace k9::store::s3
