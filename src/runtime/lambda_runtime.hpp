#pragma once
// The Lambda custom-runtime side: a client of the Runtime API (version 2018-06-01) and the
// loop that feeds invocations to a handler. The endpoint is injected (the value of
// AWS_LAMBDA_RUNTIME_API), so tests run the loop against a fake Runtime API on loopback.
// Logs are JSON lines through k9::log; payloads are never logged.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/http_client.hpp"

namespace k9::runtime {

struct Invocation {
    std::string request_id;        // Lambda-Runtime-Aws-Request-Id
    std::int64_t deadline_ms = 0;  // Lambda-Runtime-Deadline-Ms (epoch ms; 0 when absent)
    std::string trace_id;          // Lambda-Runtime-Trace-Id (also exported as _X_AMZN_TRACE_ID)
    std::string function_arn;      // Lambda-Runtime-Invoked-Function-Arn
    std::string payload;           // the event JSON
};

struct InvocationResult {
    bool ok = true;
    std::string payload;     // the response JSON when ok
    std::string error_type;  // e.g. "Runtime.HandlerError" when !ok
    std::string error_message;
    static InvocationResult success(std::string payload);
    static InvocationResult failure(std::string type, std::string message);
};

using Handler = std::function<InvocationResult(const Invocation&)>;

// The Runtime API did not accept a call. `status` is the HTTP status it answered, or 0 when
// it could not be reached (after the retries the call allows).
class RuntimeApiError : public std::runtime_error {
  public:
    RuntimeApiError(const std::string& message, int http_status)
        : std::runtime_error(message), status(http_status) {}
    int status;
    // 400/403/404/413: this call was refused, but the Runtime API is alive.
    bool refused() const { return status >= 400 && status < 500; }
};

// Speaks the Lambda Runtime API at `endpoint` ("host:port", the value of
// AWS_LAMBDA_RUNTIME_API; an "http://" prefix is accepted), version 2018-06-01:
// GET /runtime/invocation/next, POST /runtime/invocation/{id}/response,
// POST /runtime/invocation/{id}/error, POST /runtime/init/error. Error bodies are
// {"errorMessage":..,"errorType":..,"stackTrace":[]} with header
// Lambda-Runtime-Function-Error-Type. Request ids are percent-encoded into the path.
// One connection is kept open and reused. Not thread-safe: one loop owns a client.
class RuntimeClient {
  public:
    explicit RuntimeClient(std::string endpoint);

    // Waits for the next invocation, with no timeout: Lambda freezes the process between
    // invocations, and a frozen wait must not count as a slow server. Connection failures
    // are retried briefly. Throws RuntimeApiError (a std::runtime_error) when the Runtime
    // API is unreachable or answers badly (non-200, no request id).
    Invocation next();

    // Each posts once and retries connection failures and 502/503/504 a couple of times;
    // a 400 on a retry (the earlier attempt arrived after all) counts as delivered.
    // Throws RuntimeApiError when the post is refused or cannot be delivered.
    void respond(const std::string& request_id, const std::string& payload);
    void fail(const std::string& request_id, const std::string& error_type,
              const std::string& message);
    void init_error(const std::string& error_type, const std::string& message);

    const std::string& base_url() const { return base_url_; }

  private:
    void post(const std::string& what, const std::string& url, const std::string& body,
              const std::string& error_type);

    std::string base_url_;  // http://host:port/2018-06-01
    http::Client http_;
};

// Exit codes of run_loop.
inline constexpr int kLoopDone = 0;        // max_invocations reached
inline constexpr int kLoopNextFailed = 1;  // /next unreachable or answered badly
inline constexpr int kLoopPostFailed = 2;  // a /response or /error could not be delivered

// The loop: next -> handler -> respond (ok) or fail (!ok). A handler exception becomes an
// /error post of type "Runtime.UnhandledException" and the loop goes on; so does a post the
// Runtime API refuses (4xx: that invocation is lost, the next one is not). Sets
// _X_AMZN_TRACE_ID for each invocation (unset when it carries none). Returns kLoopDone after
// `max_invocations` (tests), or kLoopNextFailed / kLoopPostFailed when the Runtime API
// stops answering: the process should then exit so Lambda can replace it.
// `after_response` runs once the result is posted and before the next /next: work that
// must not delay the answer (the process is not frozen until it asks for the next one).
int run_loop(RuntimeClient& client, const Handler& handler,
             std::optional<int> max_invocations = std::nullopt,
             const std::function<void()>& after_response = {});

}  // namespace k9::runtime
