#include "runtime/lambda_runtime.hpp"

#include <stdlib.h>

#include <charconv>
#include <chrono>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/time.hpp"

namespace k9::runtime {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kApiVersion = "/2018-06-01";
constexpr const char* kRequestIdHeader = "lambda-runtime-aws-request-id";
constexpr const char* kDeadlineHeader = "lambda-runtime-deadline-ms";
constexpr const char* kTraceIdHeader = "lambda-runtime-trace-id";
constexpr const char* kFunctionArnHeader = "lambda-runtime-invoked-function-arn";
constexpr const char* kErrorTypeHeader = "Lambda-Runtime-Function-Error-Type";
constexpr const char* kTraceEnv = "_X_AMZN_TRACE_ID";
constexpr const char* kUnhandledType = "Runtime.UnhandledException";
constexpr const char* kHandlerErrorType = "Runtime.HandlerError";

// Attempts per call, and the pause before each retry. The Runtime API is on loopback: a
// connection that fails twice in a row will not come back within a cold start's budget.
constexpr int kAttempts = 3;
constexpr std::chrono::milliseconds kBackoff[kAttempts - 1] = {20ms, 100ms};
constexpr std::chrono::milliseconds kConnectTimeout = 1000ms;
// Posts are answered at once; a post hanging this long means the Runtime API is gone.
constexpr std::chrono::milliseconds kPostTimeout = 10'000ms;

std::string url_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                                (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
                                c == '~';
        if (unreserved) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0x0F];
        }
    }
    return out;
}

// "(InvalidRequestID: Invalid request ID)" from the Runtime API's error body, when it has one.
std::string describe_error_body(const std::string& body) {
    try {
        const json j = json::parse(body);
        if (j.is_object() && j.contains("errorType")) {
            return " (" + j.value("errorType", "") + ": " + j.value("errorMessage", "") + ")";
        }
    } catch (const json::exception&) {
    }
    return "";
}

bool is_transient_status(int status) {
    return status == 502 || status == 503 || status == 504;
}

std::string error_body(const std::string& type, const std::string& message) {
    const json body{{"errorMessage", message}, {"errorType", type}, {"stackTrace", json::array()}};
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::int64_t epoch_ms() {
    return system_now() / 1000;
}

void export_trace_id(const std::string& trace_id) {
    // NOLINTBEGIN(concurrency-mt-unsafe): the documented contract of a Lambda runtime, set
    // between invocations; k9 itself never reads _X_AMZN_TRACE_ID from another thread.
    if (trace_id.empty()) {
        ::unsetenv(kTraceEnv);
    } else {
        ::setenv(kTraceEnv, trace_id.c_str(), 1);
    }
    // NOLINTEND(concurrency-mt-unsafe)
}

InvocationResult call_handler(const Handler& handler, const Invocation& invocation) {
    try {
        InvocationResult result = handler(invocation);
        if (!result.ok && result.error_type.empty()) result.error_type = kHandlerErrorType;
        return result;
    } catch (const std::exception& e) {
        return InvocationResult::failure(kUnhandledType, e.what());
    } catch (...) {
        return InvocationResult::failure(kUnhandledType,
                                         "the handler threw a non-standard exception");
    }
}

}  // namespace

InvocationResult InvocationResult::success(std::string payload) {
    InvocationResult r;
    r.ok = true;
    r.payload = std::move(payload);
    return r;
}

InvocationResult InvocationResult::failure(std::string type, std::string message) {
    InvocationResult r;
    r.ok = false;
    r.error_type = std::move(type);
    r.error_message = std::move(message);
    return r;
}

RuntimeClient::RuntimeClient(std::string endpoint) {
    if (endpoint.empty()) {
        throw std::invalid_argument(
            "the Lambda Runtime API endpoint is empty: AWS_LAMBDA_RUNTIME_API must be host:port");
    }
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    const bool has_scheme = endpoint.rfind("http://", 0) == 0 || endpoint.rfind("https://", 0) == 0;
    base_url_ = (has_scheme ? "" : "http://") + endpoint + kApiVersion;
}

Invocation RuntimeClient::next() {
    http::Request request;
    request.url = base_url_ + "/runtime/invocation/next";
    request.connect_timeout = kConnectTimeout;
    request.timeout = 0ms;  // no limit: the process is frozen while no invocation waits

    http::Response response;
    for (int attempt = 1;; ++attempt) {
        try {
            response = http_.send(request);
            break;
        } catch (const http::TransportError& e) {
            if (attempt >= kAttempts) {
                throw RuntimeApiError(
                    "cannot reach the Lambda Runtime API for the next invocation (" +
                        std::to_string(kAttempts) + " attempts): " + e.what(),
                    0);
            }
            log::warning("lambda runtime: retrying GET /next",
                         {{"attempt", attempt}, {"error", e.what()}});
            std::this_thread::sleep_for(kBackoff[attempt - 1]);
        }
    }
    if (response.status != 200) {
        throw RuntimeApiError("GET " + request.url + " answered HTTP " +
                                  std::to_string(response.status) +
                                  describe_error_body(response.body),
                              response.status);
    }

    Invocation invocation;
    const auto request_id = response.header(kRequestIdHeader);
    if (!request_id || request_id->empty()) {
        throw RuntimeApiError(
            "GET " + request.url + " answered without a Lambda-Runtime-Aws-Request-Id header",
            response.status);
    }
    invocation.request_id = *request_id;
    if (const auto deadline = response.header(kDeadlineHeader)) {
        const char* end = deadline->data() + deadline->size();
        const auto [ptr, ec] = std::from_chars(deadline->data(), end, invocation.deadline_ms);
        if (ec != std::errc() || ptr != end) {
            invocation.deadline_ms = 0;
            log::warning("lambda runtime: ignoring a malformed Lambda-Runtime-Deadline-Ms",
                         {{"request_id", invocation.request_id}});
        }
    }
    invocation.trace_id = response.header(kTraceIdHeader).value_or("");
    invocation.function_arn = response.header(kFunctionArnHeader).value_or("");
    invocation.payload = std::move(response.body);
    return invocation;
}

void RuntimeClient::respond(const std::string& request_id, const std::string& payload) {
    post("the response to invocation " + request_id,
         base_url_ + "/runtime/invocation/" + url_encode(request_id) + "/response", payload, "");
}

void RuntimeClient::fail(const std::string& request_id, const std::string& error_type,
                         const std::string& message) {
    post("the error of invocation " + request_id,
         base_url_ + "/runtime/invocation/" + url_encode(request_id) + "/error",
         error_body(error_type, message), error_type);
}

void RuntimeClient::init_error(const std::string& error_type, const std::string& message) {
    post("the initialization error", base_url_ + "/runtime/init/error",
         error_body(error_type, message), error_type);
}

void RuntimeClient::post(const std::string& what, const std::string& url, const std::string& body,
                         const std::string& error_type) {
    http::Request request;
    request.method = "POST";
    request.url = url;
    request.body = body;
    request.headers.emplace_back("Content-Type", "application/json");
    if (!error_type.empty()) request.headers.emplace_back(kErrorTypeHeader, error_type);
    request.connect_timeout = kConnectTimeout;
    request.timeout = kPostTimeout;

    bool maybe_delivered = false;  // an earlier attempt may have arrived before it failed
    for (int attempt = 1;; ++attempt) {
        std::string problem;
        int status = 0;
        try {
            const http::Response response = http_.send(request);
            status = response.status;
            if (status >= 200 && status < 300) return;
            if (status == 400 && maybe_delivered) {
                log::warning(
                    "lambda runtime: a retried post was refused as already answered; "
                    "counting the earlier attempt as delivered",
                    {{"what", what}});
                return;
            }
            problem = "HTTP " + std::to_string(status) + describe_error_body(response.body);
            if (!is_transient_status(status)) {
                throw RuntimeApiError(
                    "the Lambda Runtime API did not accept " + what + ": " + problem, status);
            }
        } catch (const http::TransportError& e) {
            maybe_delivered = true;
            problem = e.what();
        }
        if (attempt >= kAttempts) {
            throw RuntimeApiError("could not deliver " + what + " to the Lambda Runtime API (" +
                                      std::to_string(kAttempts) + " attempts): " + problem,
                                  status);
        }
        log::warning("lambda runtime: retrying a post",
                     {{"what", what}, {"attempt", attempt}, {"error", problem}});
        std::this_thread::sleep_for(kBackoff[attempt - 1]);
    }
}

int run_loop(RuntimeClient& client, const Handler& handler, std::optional<int> max_invocations,
             const std::function<void()>& after_response) {
    log::debug("lambda runtime: loop started", {{"endpoint", client.base_url()}});
    for (int done = 0; !max_invocations || done < *max_invocations; ++done) {
        Invocation invocation;
        try {
            invocation = client.next();
        } catch (const std::exception& e) {
            log::error("lambda runtime: cannot get the next invocation; exiting",
                       {{"error", e.what()}});
            return kLoopNextFailed;
        }
        export_trace_id(invocation.trace_id);
        const double started = monotonic_ms();
        log::debug("lambda runtime: invocation received",
                   {{"request_id", invocation.request_id},
                    {"remaining_ms",
                     invocation.deadline_ms > 0 ? invocation.deadline_ms - epoch_ms() : 0}});

        const InvocationResult result = call_handler(handler, invocation);
        if (!result.ok) {
            log::warning("lambda runtime: invocation failed",
                         {{"request_id", invocation.request_id},
                          {"error_type", result.error_type},
                          {"error", result.error_message}});
        }
        try {
            if (result.ok) {
                client.respond(invocation.request_id, result.payload);
            } else {
                client.fail(invocation.request_id, result.error_type, result.error_message);
            }
        } catch (const RuntimeApiError& e) {
            if (!e.refused()) {
                log::error("lambda runtime: the Runtime API stopped answering; exiting",
                           {{"error", e.what()}});
                return kLoopPostFailed;
            }
            log::error(
                "lambda runtime: the Runtime API refused an invocation's result",
                {{"request_id", invocation.request_id}, {"status", e.status}, {"error", e.what()}});
        } catch (const std::exception& e) {
            log::error("lambda runtime: cannot post an invocation's result; exiting",
                       {{"error", e.what()}});
            return kLoopPostFailed;
        }
        if (after_response) {
            try {
                after_response();
            } catch (const std::exception& e) {
                log::error("lambda runtime: post-response work failed", {{"error", e.what()}});
            }
        }
        log::debug("lambda runtime: invocation done", {{"request_id", invocation.request_id},
                                                       {"ok", result.ok},
                                                       {"duration_ms", monotonic_ms() - started}});
    }
    return kLoopDone;
}

}  // namespace k9::runtime
