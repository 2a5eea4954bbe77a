#include "store/s3/s3_client.hpp"

#include <algorithm>

#include "common/hash.hpp"
#include "common/log.hpp"
#include "store/s3/sigv4.hpp"

namespace k9::store::s3 {
namespace {

bool retryable(int status, const std::string& code) {
    if (status == 500 || status == 502 || status == 503 || status == 504 || status == 429)
        return true;
    return code == "SlowDown" || code == "RequestTimeout" || code == "InternalError" ||
           code == "ServiceUnavailable" || code == "ConditionalRequestConflict" ||
           code == "OperationAborted" || code == "RequestTimeTooSkewed";
}

bool expired_credentials(const std::string& code) {
    return code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "InvalidToken";
}

std::string iam_action(const std::string& op) {
    if (op == "GetObject" || op == "HeadObject") return "s3:GetObject";
    if (op == "GetObjectVersion") return "s3:GetObjectVersion";
    if (op == "ListObjectsV2") return "s3:ListBucket";
    if (op == "ListObjectVersions") return "s3:ListBucketVersions";
    if (op == "DeleteObject") return "s3:DeleteObject";
    if (op == "AbortMultipartUpload") return "s3:AbortMultipartUpload";
    return "s3:PutObject";
}

// As sent: a parameter without a value is a bare name ("?uploads"), as the SDKs send
// it (the signature's canonical form is "uploads=" either way).
std::string query_string(const std::vector<std::pair<std::string, std::string>>& query) {
    std::vector<std::string> parts;
    for (const auto& [k, v] : query) {
        std::string part = uri_encode(k, true);
        if (!v.empty()) {
            part += '=';
            part += uri_encode(v, true);
        }
        parts.push_back(std::move(part));
    }
    std::sort(parts.begin(), parts.end());
    std::string out;
    for (const auto& p : parts) {
        if (!out.empty()) out += '&';
        out += p;
    }
    return out;
}

}  // namespace

S3Client::S3Client(store::StoreLocation location, store::S3Settings settings,
                   std::shared_ptr<CredentialsProvider> credentials, Clock clock)
    : location_(std::move(location)),
      settings_(std::move(settings)),
      credentials_(std::move(credentials)),
      clock_(std::move(clock)) {
    retry_.max_attempts = settings_.max_attempts;
    retry_.base = std::chrono::milliseconds(settings_.retry_base_ms);
}

std::string S3Client::full_key(const std::string& key) const {
    if (location_.prefix.empty()) return key;
    return location_.prefix + "/" + key;
}

std::string S3Client::url_for(const std::string& key) const {
    return "s3://" + location_.bucket + "/" + full_key(key);
}

Counters S3Client::counters() const {
    std::lock_guard lock(counters_mutex_);
    return counters_;
}

Address s3_address(const store::StoreLocation& location, const store::S3Settings& settings,
                   const std::string& key, const Query& query) {
    const std::string& bucket = location.bucket;
    const std::string full = location.prefix.empty() ? key : location.prefix + "/" + key;
    const std::string object =
        key.empty() && location.prefix.empty() ? std::string() : uri_encode(full, false);
    Address a;
    std::string base;
    if (settings.endpoint || bucket.find('.') != std::string::npos) {
        // Path-style: custom endpoints, and dotted bucket names (TLS wildcards).
        base = settings.endpoint.value_or("https://s3." + settings.region + ".amazonaws.com");
        a.canonical_uri = "/" + bucket + (key.empty() ? "" : "/" + object);
    } else {
        base = "https://" + bucket + ".s3." + settings.region + ".amazonaws.com";
        a.canonical_uri = "/" + (key.empty() ? "" : object);
    }
    a.host = base.substr(base.find("://") + 3);
    const std::string qs = query_string(query);
    a.url = base + a.canonical_uri + (qs.empty() ? "" : "?" + qs);
    return a;
}

http::Request S3Client::build(const S3Call& call, const Credentials& creds) const {
    const Address t = s3_address(location_, settings_, call.key, call.query);
    http::Request req;
    req.method = call.method;
    req.url = t.url;
    req.body = call.body;
    req.body_file = call.body_file;
    req.on_body = call.on_body;
    req.on_progress = call.on_progress;
    req.connect_timeout = std::chrono::milliseconds(3000);
    req.low_speed_window = std::chrono::seconds(settings_.stall_timeout_s);
    req.low_speed_bytes = 1024;

    req.on_headers = call.on_headers;
    http::Headers headers = call.headers;
    if (call.attempt_headers) {
        for (auto& h : call.attempt_headers()) headers.push_back(std::move(h));
    }
    headers.emplace_back("host", t.host);
    const std::string payload_hash = call.body_file ? "UNSIGNED-PAYLOAD" : sha256_hex(call.body);
    headers.emplace_back("x-amz-content-sha256", payload_hash);
    if (!creds.session_token.empty())
        headers.emplace_back("x-amz-security-token", creds.session_token);
    SigningInput in{call.method, t.canonical_uri, call.query, headers, payload_hash};
    const Signature sig = sign_v4(in, creds, settings_.region, "s3", clock_());
    headers.emplace_back("x-amz-date", sig.amz_date);
    headers.emplace_back("authorization", sig.authorization);
    req.headers = std::move(headers);
    return req;
}

StoreError S3Client::map_error(const S3Call& call, int status,
                               const std::optional<S3Error>& err) const {
    const std::string where = call.key.empty() ? "s3://" + location_.bucket : url_for(call.key);
    const std::string code = err ? err->code : "";
    std::string detail = "HTTP " + std::to_string(status);
    if (err) {
        detail += " " + err->code + (err->message.empty() ? "" : ": " + err->message);
        if (!err->request_id.empty()) detail += " (request id " + err->request_id + ")";
    }
    const std::string what = call.op + " " + where + " failed: " + detail;
    if (status == 404 && code == "NoSuchBucket") {
        return StoreError(ErrorKind::InvalidArgument,
                          what +
                              "; the bucket does not exist: check DATABASE_S3_BUCKET / "
                              "K9_STORE_URL and AWS_REGION");
    }
    if (status == 404)
        return StoreError(ErrorKind::NotFound, "no object at " + where + " (" + detail + ")");
    if (status == 412 || code == "ConditionalRequestConflict")
        return StoreError(ErrorKind::PreconditionFailed, what);
    if (status == 403 || code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" ||
        expired_credentials(code)) {
        return StoreError(ErrorKind::AccessDenied,
                          what + "; check the credentials, that the role has " +
                              iam_action(call.op) + " on " + where +
                              ", and that the bucket name and region are right");
    }
    if (status == 501) {
        return StoreError(
            ErrorKind::InvalidArgument,
            what + "; this store does not implement what k9 needs (conditional writes?)");
    }
    if (status >= 500) return StoreError(ErrorKind::Transient, what);
    return StoreError(ErrorKind::InvalidArgument, what);
}

http::Response S3Client::send(const S3Call& call, std::initializer_list<int> accept) {
    bool retried = false;
    bool refreshed_credentials = false;
    int last_cost = 0;
    int last_status = 0;
    std::string last_problem;
    for (int attempt = 1;; ++attempt) {
        if (call.before_attempt) call.before_attempt();
        const Credentials creds = credentials_->get();
        int cost = RetryQuota::kRetryCost;
        try {
            {
                std::lock_guard lock(counters_mutex_);
                ++counters_.requests;
            }
            http::Response resp = http_.send(build(call, creds));
            last_status = resp.status;
            const bool ok = (resp.status >= 200 && resp.status < 300) ||
                            std::find(accept.begin(), accept.end(), resp.status) != accept.end();
            if (ok) {
                if (!call.validate || call.validate(resp)) {
                    quota_.release(retried ? last_cost : RetryQuota::kNoRetryIncrement);
                    return resp;
                }
                last_problem = "the reply failed validation";
            } else {
                const auto err = parse_error(resp.body);
                const std::string code = err ? err->code : "";
                if (expired_credentials(code) && !refreshed_credentials) {
                    credentials_->invalidate();
                    refreshed_credentials = true;
                    --attempt;  // a fresh token is not a retry
                    continue;
                }
                if (!retryable(resp.status, code)) throw map_error(call, resp.status, err);
                last_problem =
                    "HTTP " + std::to_string(resp.status) + (code.empty() ? "" : " " + code);
                if (code == "ConditionalRequestConflict") last_status = 409;
            }
        } catch (const http::TransportError& e) {
            if (e.stopped_by_receiver) throw;
            cost = e.timed_out ? RetryQuota::kTimeoutCost : RetryQuota::kRetryCost;
            last_status = 0;
            last_problem = e.what();
        }
        const bool may_retry = attempt < retry_.max_attempts;
        if (!may_retry || !quota_.acquire(cost)) {
            const std::string where =
                call.key.empty() ? "s3://" + location_.bucket : url_for(call.key);
            if (last_status == 409) {
                throw StoreError(ErrorKind::PreconditionFailed,
                                 call.op + " " + where + " conflicted with a concurrent write " +
                                     "(409 ConditionalRequestConflict) " + std::to_string(attempt) +
                                     " times");
            }
            throw StoreError(
                ErrorKind::Transient,
                call.op + " " + where + " failed after " + std::to_string(attempt) +
                    " attempt(s): " + last_problem +
                    (may_retry ? " (not retried: the retry quota is spent by recent failures)"
                               : "") +
                    "; check the network path to S3 and the S3 service health, then retry");
        }
        retried = true;
        last_cost = cost;
        {
            std::lock_guard lock(counters_mutex_);
            ++counters_.retries;
        }
        log::warning("Retrying S3 request", {{"operation", call.op},
                                             {"object", url_for(call.key)},
                                             {"attempt", attempt},
                                             {"problem", last_problem}});
        retry_.wait(attempt);
    }
}

HttpFetch http_fetch(const std::shared_ptr<http::Client>& client) {
    return [client](const std::string& method, const std::string& url,
                    const std::vector<std::pair<std::string, std::string>>& headers,
                    std::chrono::milliseconds timeout) {
        HttpReply reply;
        try {
            http::Request req;
            req.method = method;
            req.url = url;
            req.headers = headers;
            req.connect_timeout = timeout;
            req.timeout = timeout;
            auto resp = client->send(req);
            reply.status = resp.status;
            reply.body = std::move(resp.body);
        } catch (const http::TransportError& e) {
            reply.error = e.what();
        }
        return reply;
    };
}

}  // namespace k9::store::s3
