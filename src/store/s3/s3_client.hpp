#pragma once
// S3Client: one signed S3 request, with retries, mapped to StoreError. It knows
// addressing (path-style for custom endpoints, virtual-hosted for AWS), signing
// (SigV4 by k9, time from the injected clock), the retry rules (standard mode), and
// how S3's status codes and error documents translate into the store's error kinds
// with messages that say what to check. The ObjectStore operations live in S3Store.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/env.hpp"
#include "common/http_client.hpp"
#include "common/time.hpp"
#include "store/location.hpp"
#include "store/s3/credentials.hpp"
#include "store/s3/retry.hpp"
#include "store/s3/s3_settings.hpp"
#include "store/s3/xml.hpp"

namespace k9::store::s3 {

using Query = std::vector<std::pair<std::string, std::string>>;

struct S3Call {
    S3Call(std::string op_name, std::string http_method, std::string object_key, Query params = {},
           http::Headers extra_headers = {}, std::string small_body = {})
        : op(std::move(op_name)),
          method(std::move(http_method)),
          key(std::move(object_key)),
          query(std::move(params)),
          headers(std::move(extra_headers)),
          body(std::move(small_body)) {}

    std::string op;      // S3 operation name for messages: "GetObject", ...
    std::string method;  // GET, PUT, POST, HEAD, DELETE
    std::string key;     // object key relative to the store (the prefix is added); "" = bucket
    Query query;         // decoded
    http::Headers headers;
    std::string body;                         // small bodies (XML)
    std::optional<http::FileSpan> body_file;  // large bodies, sent with UNSIGNED-PAYLOAD
    // Streaming response body (GetObject). On a retry, before_attempt runs first so the
    // sink can rewind (or resume: attempt_headers may then ask for the rest with Range).
    // If on_body returns false the transfer ends and send() rethrows the TransportError
    // (stopped_by_receiver) at once, without retrying.
    std::function<bool(const char*, std::size_t)> on_body;
    std::function<void()> before_attempt;
    std::function<http::Headers()> attempt_headers;
    std::function<void(int, const http::Headers&)> on_headers;
    std::function<void(std::uint64_t)> on_progress;
    // Check a 2xx reply; throw StoreError to fail it or return false to retry it
    // (e.g. a 200 CompleteMultipartUpload carrying an error, a short ranged body).
    std::function<bool(const http::Response&)> validate;
};

// Where a request goes: path-style for custom endpoints and dotted bucket names,
// virtual-hosted (bucket.s3.region.amazonaws.com) for AWS otherwise.
struct Address {
    std::string url;            // scheme://host[:port]/path?query
    std::string host;           // the Host header
    std::string canonical_uri;  // the path as signed
};
Address s3_address(const store::StoreLocation& location, const store::S3Settings& settings,
                   const std::string& key, const Query& query);

struct Counters {
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
};

class S3Client {
  public:
    S3Client(store::StoreLocation location, store::S3Settings settings,
             std::shared_ptr<CredentialsProvider> credentials, Clock clock = system_clock());

    // Sends `call` until it succeeds or the retry budget is spent. Returns 2xx replies
    // and those whose status is in `accept`; throws StoreError otherwise.
    http::Response send(const S3Call& call, std::initializer_list<int> accept = {});

    // s3://bucket/prefix/key
    std::string url_for(const std::string& key) const;
    std::string full_key(const std::string& key) const;
    const store::S3Settings& settings() const { return settings_; }
    RetryPolicy& retry_policy() { return retry_; }
    Counters counters() const;

  private:
    http::Request build(const S3Call& call, const Credentials& creds) const;
    StoreError map_error(const S3Call& call, int status, const std::optional<S3Error>& err) const;

    store::StoreLocation location_;
    store::S3Settings settings_;
    std::shared_ptr<CredentialsProvider> credentials_;
    Clock clock_;
    RetryPolicy retry_;
    RetryQuota quota_;
    mutable http::Client http_;
    mutable std::mutex counters_mutex_;
    Counters counters_;
};

// An HttpFetch (for the credential providers) on a k9 HTTP client.
HttpFetch http_fetch(const std::shared_ptr<http::Client>& client);

}  // namespace k9::store::s3
