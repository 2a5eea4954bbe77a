#pragma once
// A fake Lambda Runtime API (version 2018-06-01) on 127.0.0.1, for tests of the runtime loop
// and of the real `bootstrap` binary (point AWS_LAMBDA_RUNTIME_API at endpoint()).
//
// It speaks the documented protocol:
//   GET  /2018-06-01/runtime/invocation/next        200, the event as body, with headers
//        Lambda-Runtime-Aws-Request-Id, -Deadline-Ms, -Invoked-Function-Arn, -Trace-Id.
//        Blocks until an event is queued; answers 500 (as the service does when the
//        environment is going away) on stop() or after Options::next_wait.
//   POST /2018-06-01/runtime/invocation/{id}/response  202 {"status":"OK"}
//   POST /2018-06-01/runtime/invocation/{id}/error     202, recording the body and the
//        Lambda-Runtime-Function-Error-Type header
//   POST /2018-06-01/runtime/init/error                202, recorded likewise
// An id that was never handed out, or was already answered, gets 400
// {"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}; a response above
// Options::max_payload gets 413; any other path 404.
//
// Thread-safe; the server runs on its own threads from construction to stop() or
// destruction.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace httplib {
class Server;
}

namespace k9::test {

class FakeRuntimeApi {
  public:
    struct Options {
        // How long one GET /next waits for an event before answering 500, so a test that
        // forgot to push cannot hang.
        std::chrono::milliseconds next_wait{10'000};
        // Lambda's limit on a synchronous response (6 MB).
        std::size_t max_payload = 6 * 1024 * 1024;
        // Given to events pushed without one.
        std::chrono::milliseconds default_timeout{3'000};
        std::string function_arn = "arn:aws:lambda:us-east-1:123456789012:function:k9-test";
    };

    struct Event {
        std::string payload;
        std::string request_id;        // generated when empty
        std::int64_t deadline_ms = 0;  // epoch ms; now + default_timeout at delivery when 0
        std::string trace_id;          // generated when empty
        std::string function_arn;      // Options::function_arn when empty
    };

    enum class ResultKind { Response, Error };

    struct Result {
        ResultKind kind = ResultKind::Response;
        std::string request_id;
        std::string body;        // the response payload, or the error JSON
        std::string error_type;  // Lambda-Runtime-Function-Error-Type (errors only)
        std::string content_type;
        bool ok() const { return kind == ResultKind::Response; }
    };

    struct InitError {
        std::string body;
        std::string error_type;
    };

    FakeRuntimeApi();
    explicit FakeRuntimeApi(Options options);
    ~FakeRuntimeApi();
    FakeRuntimeApi(const FakeRuntimeApi&) = delete;
    FakeRuntimeApi& operator=(const FakeRuntimeApi&) = delete;

    // "127.0.0.1:PORT", the value for AWS_LAMBDA_RUNTIME_API.
    std::string endpoint() const;
    int port() const { return port_; }

    // Queues an invocation; returns its request id.
    std::string push(std::string payload, std::optional<std::string> request_id = std::nullopt,
                     std::optional<std::int64_t> deadline_ms = std::nullopt);
    std::string push(Event event);

    // The next `count` posts to /response or /error answer `status` without being recorded
    // (502/503 for transient faults, 500 for a dying environment).
    void fail_next_posts(int count, int status);

    // Waits until at least n results (responses + errors), init errors, or GET /next calls
    // were seen; false on timeout.
    bool wait_for_results(std::size_t n, std::chrono::milliseconds timeout) const;
    bool wait_for_init_errors(std::size_t n, std::chrono::milliseconds timeout) const;
    bool wait_for_next_calls(std::size_t n, std::chrono::milliseconds timeout) const;

    std::vector<Result> results() const;  // in arrival order
    std::vector<InitError> init_errors() const;
    std::size_t next_calls() const;
    std::size_t post_attempts() const;         // every POST to /response or /error
    std::vector<std::string> pending() const;  // handed out, not yet answered

    // Ends the server; waiting GET /next calls answer 500. Idempotent.
    void stop();

  private:
    void install_routes();
    template <class Pred>
    bool wait(std::chrono::milliseconds timeout, Pred pred) const;

    Options options_;
    std::unique_ptr<httplib::Server> server_;
    std::thread thread_;
    int port_ = 0;

    mutable std::mutex mutex_;
    mutable std::condition_variable changed_;
    bool stopping_ = false;
    std::deque<Event> queue_;
    std::set<std::string> pending_;
    std::vector<Result> results_;
    std::vector<InitError> init_errors_;
    std::size_t next_calls_ = 0;
    std::size_t post_attempts_ = 0;
    int failures_left_ = 0;
    int failure_status_ = 0;
    std::uint64_t counter_ = 0;
};

}  // namespace k9::test
