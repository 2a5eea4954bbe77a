#include "support/fake_runtime_api.hpp"

#include <httplib.h>

#include <cstdio>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "common/hash.hpp"
#include "common/time.hpp"

namespace k9::test {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kPrefix = "/2018-06-01/runtime";
constexpr std::size_t kWorkerThreads = 8;  // each waiting GET /next holds one

std::int64_t epoch_ms() {
    return system_now() / 1000;
}

void answer(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
}

void answer_error(httplib::Response& res, int status, const std::string& type,
                  const std::string& message) {
    answer(res, status, json{{"errorMessage", message}, {"errorType", type}});
}

// An X-Ray header of the documented shape: Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=0.
std::string make_trace_id(std::uint64_t n) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "Root=1-%08llx-%024llx;Parent=%016llx;Sampled=0",
                  static_cast<unsigned long long>(epoch_ms() / 1000),
                  static_cast<unsigned long long>(n), static_cast<unsigned long long>(n * 7919));
    return buf;
}

}  // namespace

FakeRuntimeApi::FakeRuntimeApi() : FakeRuntimeApi(Options{}) {}

FakeRuntimeApi::FakeRuntimeApi(Options options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
    server_->new_task_queue = [] { return new httplib::ThreadPool(kWorkerThreads); };
    // An idle keep-alive connection holds a worker, and stop() waits for it.
    server_->set_keep_alive_timeout(1);
    server_->set_keep_alive_max_count(1000);
    // Headers and body go out in separate writes: without this, Nagle and delayed ACKs add
    // ~40 ms to every call, which would drown any latency a test wants to see.
    server_->set_tcp_nodelay(true);
    install_routes();
    port_ = server_->bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("fake Runtime API: cannot bind a port on 127.0.0.1");
    thread_ = std::thread([this] { server_->listen_after_bind(); });
    // stop() before the server runs would be lost and leave the thread listening forever.
    const auto give_up = Clock::now() + std::chrono::seconds(10);
    while (!server_->is_running()) {
        if (Clock::now() > give_up) {
            server_->stop();
            thread_.detach();
            throw std::runtime_error("fake Runtime API: the server did not start");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

FakeRuntimeApi::~FakeRuntimeApi() {
    stop();
}

std::string FakeRuntimeApi::endpoint() const {
    return "127.0.0.1:" + std::to_string(port_);
}

void FakeRuntimeApi::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    server_->stop();
    if (thread_.joinable()) thread_.join();
}

std::string FakeRuntimeApi::push(std::string payload, std::optional<std::string> request_id,
                                 std::optional<std::int64_t> deadline_ms) {
    Event event;
    event.payload = std::move(payload);
    event.request_id = request_id.value_or("");
    event.deadline_ms = deadline_ms.value_or(0);
    return push(std::move(event));
}

std::string FakeRuntimeApi::push(Event event) {
    std::string id;
    {
        std::lock_guard lock(mutex_);
        ++counter_;
        if (event.request_id.empty()) event.request_id = new_uuid_v7(epoch_ms());
        if (event.trace_id.empty()) event.trace_id = make_trace_id(counter_);
        if (event.function_arn.empty()) event.function_arn = options_.function_arn;
        id = event.request_id;
        queue_.push_back(std::move(event));
    }
    changed_.notify_all();
    return id;
}

void FakeRuntimeApi::fail_next_posts(int count, int status) {
    std::lock_guard lock(mutex_);
    failures_left_ = count;
    failure_status_ = status;
}

template <class Pred>
bool FakeRuntimeApi::wait(std::chrono::milliseconds timeout, Pred pred) const {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, pred);
}

bool FakeRuntimeApi::wait_for_results(std::size_t n, std::chrono::milliseconds timeout) const {
    return wait(timeout, [&] { return results_.size() >= n; });
}

bool FakeRuntimeApi::wait_for_init_errors(std::size_t n, std::chrono::milliseconds timeout) const {
    return wait(timeout, [&] { return init_errors_.size() >= n; });
}

bool FakeRuntimeApi::wait_for_next_calls(std::size_t n, std::chrono::milliseconds timeout) const {
    return wait(timeout, [&] { return next_calls_ >= n; });
}

std::vector<FakeRuntimeApi::Result> FakeRuntimeApi::results() const {
    std::lock_guard lock(mutex_);
    return results_;
}

std::vector<FakeRuntimeApi::InitError> FakeRuntimeApi::init_errors() const {
    std::lock_guard lock(mutex_);
    return init_errors_;
}

std::size_t FakeRuntimeApi::next_calls() const {
    std::lock_guard lock(mutex_);
    return next_calls_;
}

std::size_t FakeRuntimeApi::post_attempts() const {
    std::lock_guard lock(mutex_);
    return post_attempts_;
}

std::vector<std::string> FakeRuntimeApi::pending() const {
    std::lock_guard lock(mutex_);
    return {pending_.begin(), pending_.end()};
}

void FakeRuntimeApi::install_routes() {
    const std::string prefix = kPrefix;

    server_->Get(
        prefix + "/invocation/next", [this](const httplib::Request&, httplib::Response& res) {
            std::unique_lock lock(mutex_);
            ++next_calls_;
            changed_.notify_all();
            const bool ready = changed_.wait_for(lock, options_.next_wait,
                                                 [&] { return stopping_ || !queue_.empty(); });
            if (!ready || stopping_) {
                lock.unlock();
                answer_error(res, 500, "InternalServerError",
                             ready ? "the fake Runtime API is stopping"
                                   : "no event was queued within the fake's next_wait");
                return;
            }
            Event event = std::move(queue_.front());
            queue_.pop_front();
            pending_.insert(event.request_id);
            lock.unlock();

            const std::int64_t deadline = event.deadline_ms != 0
                                              ? event.deadline_ms
                                              : epoch_ms() + options_.default_timeout.count();
            res.status = 200;
            res.set_header("Lambda-Runtime-Aws-Request-Id", event.request_id);
            res.set_header("Lambda-Runtime-Deadline-Ms", std::to_string(deadline));
            res.set_header("Lambda-Runtime-Invoked-Function-Arn", event.function_arn);
            res.set_header("Lambda-Runtime-Trace-Id", event.trace_id);
            res.set_content(event.payload, "application/json");
        });

    // httplib matches the percent-decoded path, so (.+) is the request id as handed out.
    server_->Post(prefix + "/invocation/(.+)/(response|error)", [this](const httplib::Request& req,
                                                                       httplib::Response& res) {
        const std::string id = req.matches[1];
        const bool is_error = req.matches[2] == "error";
        std::unique_lock lock(mutex_);
        ++post_attempts_;
        if (failures_left_ > 0) {
            --failures_left_;
            const int status = failure_status_;
            lock.unlock();
            answer_error(res, status, "InjectedFault", "fault injected by the test");
            return;
        }
        if (pending_.count(id) == 0) {
            lock.unlock();
            answer_error(res, 400, "InvalidRequestID", "Invalid request ID");
            return;
        }
        Result result;
        result.request_id = id;
        result.content_type = req.get_header_value("Content-Type");
        if (!is_error && req.body.size() > options_.max_payload) {
            // Lambda answers the caller with this error itself; the invocation is over.
            result.kind = ResultKind::Error;
            result.error_type = "Function.ResponseSizeTooLarge";
            result.body = json{{"errorMessage",
                                "Response payload size exceeded maximum allowed "
                                "payload size (" +
                                    std::to_string(options_.max_payload) + " bytes)."},
                               {"errorType", result.error_type}}
                              .dump();
        } else {
            result.kind = is_error ? ResultKind::Error : ResultKind::Response;
            result.body = req.body;
            if (is_error)
                result.error_type = req.get_header_value("Lambda-Runtime-Function-Error-Type");
        }
        const bool too_large = !is_error && req.body.size() > options_.max_payload;
        pending_.erase(id);
        results_.push_back(std::move(result));
        lock.unlock();
        changed_.notify_all();
        if (too_large) {
            answer_error(res, 413, "RequestEntityTooLarge",
                         "Exceeded maximum allowed payload size (" +
                             std::to_string(options_.max_payload) + " bytes).");
        } else {
            answer(res, 202, json{{"status", "OK"}});
        }
    });

    server_->Post(
        prefix + "/init/error", [this](const httplib::Request& req, httplib::Response& res) {
            {
                std::lock_guard lock(mutex_);
                init_errors_.push_back(InitError{
                    req.body, req.get_header_value("Lambda-Runtime-Function-Error-Type")});
            }
            changed_.notify_all();
            answer(res, 202, json{{"status", "OK"}});
        });
}

}  // namespace k9::test
