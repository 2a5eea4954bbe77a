#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace k9::store {

// How k9 talks to S3 (used when the store is s3://).
//   AWS_ENDPOINT_URL_S3 > AWS_ENDPOINT_URL   custom endpoint (path-style addressing)
//   AWS_REGION > AWS_DEFAULT_REGION          region (default us-east-1)
//   AWS_MAX_ATTEMPTS                         attempts per request (default 3)
//   K9_S3_PART_SIZE_MB (8), K9_S3_MULTIPART_THRESHOLD_MB (16), K9_S3_CONCURRENCY (8)
//   K9_S3_SSE = AES256 | aws:kms | none (default AES256), K9_S3_SSE_KMS_KEY_ID
//   K9_S3_RETRY_BASE_MS (1000)               backoff base: rand() * min(base * 2^n, 20 s)
//   K9_S3_STALL_TIMEOUT_S (30)               abort a transfer with no progress for this long
//   K9_S3_PARALLEL_BELOW_MBPS (400)          add parallel ranged GETs to a download whose
//                                            single stream is slower than this (0: never)
struct S3Settings {
    std::optional<std::string> endpoint;  // scheme://host[:port], no trailing slash
    std::string region = "us-east-1";
    int max_attempts = 3;
    std::uint64_t part_size = 8ull << 20;
    std::uint64_t multipart_threshold = 16ull << 20;
    int concurrency = 8;
    std::string sse = "AES256";  // "" when none
    std::string sse_kms_key_id;
    int retry_base_ms = 1000;
    int stall_timeout_s = 30;
    // Downloads add parallel ranged GETs when one stream runs slower than this (0: never).
    int parallel_below_mbps = 400;
    int download_probe_ms = 100;
};

}  // namespace k9::store
