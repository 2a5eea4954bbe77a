// The local HTTP server (runtime/http_server) against raw sockets, as adversarial clients
// drive it: slow headers and bodies cut off with 408 while other clients are answered,
// bounded connections, strict framing (RFC 9112), pipelining, keep-alive and
// Connection: close, Expect: 100-continue, bodiless POSTs, and a shutdown that answers
// the request in flight.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/errors.hpp"
#include "runtime/http_server.hpp"

namespace k9 {
namespace {

using namespace std::chrono_literals;
using runtime::HttpServer;
using runtime::ServerOptions;

// A client that speaks raw bytes.
class RawClient {
  public:
    explicit RawClient(int port) {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port));
        connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    }
    ~RawClient() {
        if (fd_ >= 0) ::close(fd_);
    }
    RawClient(const RawClient&) = delete;
    RawClient& operator=(const RawClient&) = delete;

    bool connected() const { return connected_; }
    bool send(const std::string& bytes) {
        return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
               static_cast<ssize_t>(bytes.size());
    }
    // What arrives within `wait` (returns early at EOF); `closed` tells whether EOF came.
    std::string read_for(std::chrono::milliseconds wait) {
        std::string got;
        const auto until = std::chrono::steady_clock::now() + wait;
        while (!closed_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left <= 0ms) break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
            char buf[8192];
            const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) {
                closed_ = true;
                break;
            }
            got.append(buf, static_cast<std::size_t>(n));
        }
        return got;
    }
    // Reads until `n` complete responses (status line, headers, Content-Length body).
    std::vector<std::string> read_responses(std::size_t n, std::chrono::milliseconds wait = 5s) {
        std::vector<std::string> out;
        const auto until = std::chrono::steady_clock::now() + wait;
        while (out.size() < n && std::chrono::steady_clock::now() < until) {
            const auto end = pending_.find("\r\n\r\n");
            if (end != std::string::npos) {
                std::size_t length = 0;
                const auto cl = lower(pending_.substr(0, end)).find("content-length:");
                if (cl != std::string::npos) length = std::stoul(pending_.substr(cl + 15));
                if (pending_.size() >= end + 4 + length) {
                    out.push_back(pending_.substr(0, end + 4 + length));
                    pending_.erase(0, end + 4 + length);
                    continue;
                }
            }
            if (closed_) break;
            pending_ += read_for(100ms);
        }
        return out;
    }
    bool closed() const { return closed_; }

  private:
    static std::string lower(std::string s) {
        for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        return s;
    }
    int fd_ = -1;
    bool connected_ = false;
    bool closed_ = false;
    std::string pending_;
};

int status_of(const std::string& response) {
    return response.rfind("HTTP/1.", 0) == 0 && response.size() > 12
               ? std::stoi(response.substr(9, 3))
               : -1;
}

std::string body_of(const std::string& response) {
    const auto end = response.find("\r\n\r\n");
    return end == std::string::npos ? "" : response.substr(end + 4);
}

class HttpServerTest : public ::testing::Test {
  protected:
    void start(ServerOptions options = {}) {
        options.port = 0;
        server_ = std::make_unique<HttpServer>([this](const api::Request& r) { return handle(r); },
                                               options);
        port_ = server_->bind();
        thread_ = std::thread([this] { server_->run(); });
    }
    void TearDown() override {
        {
            std::lock_guard lock(mutex_);
            release_slow_ = true;
        }
        cv_.notify_all();
        if (server_) server_->stop();
        if (thread_.joinable()) thread_.join();
    }

    // The application: echoes what it got; /slow waits until released; /throw throws.
    api::Response handle(const api::Request& r) {
        {
            std::lock_guard lock(mutex_);
            seen_.push_back(r);
        }
        if (r.path == "/throw") throw std::runtime_error("boom");
        if (r.path == "/slow") {
            std::unique_lock lock(mutex_);
            slow_started_ = true;
            cv_.notify_all();
            cv_.wait(lock, [this] { return release_slow_; });
        }
        nlohmann::json query = nlohmann::json::object();
        for (const auto& [k, v] : r.query) query[k] = v;
        return api::json_response(
            200,
            nlohmann::json{
                {"method", r.method}, {"path", r.path}, {"body", r.body}, {"query", query}}
                .dump());
    }
    std::size_t handled() {
        std::lock_guard lock(mutex_);
        return seen_.size();
    }
    // A GET answered on a fresh connection.
    int fresh_get(const std::string& path = "/health") {
        RawClient c(port_);
        c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
        const auto r = c.read_responses(1, 10s);
        return r.empty() ? -1 : status_of(r[0]);
    }

    std::unique_ptr<HttpServer> server_;
    std::thread thread_;
    int port_ = 0;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<api::Request> seen_;
    bool slow_started_ = false;
    bool release_slow_ = false;
};

// Clients that trickle their headers (or body) hold a socket, not a worker: a fast
// client is answered while they are still open, and each is cut off with 408 at the
// whole-request deadline although it keeps sending.
TEST_F(HttpServerTest, SlowHeadersAndBodiesAreCutOffWith408WhileOthersAreAnswered) {
    ServerOptions o;
    o.threads = 2;
    o.request_timeout = 1500ms;
    start(o);
    std::vector<std::unique_ptr<RawClient>> slow;
    for (int i = 0; i < 12; ++i) {
        slow.push_back(std::make_unique<RawClient>(port_));
        ASSERT_TRUE(slow.back()->send(i % 2 == 0 ? "GET /health HTTP/1.1\r\nHost: t\r\n"
                                                 : "POST /reports HTTP/1.1\r\nHost: t\r\n"
                                                   "Content-Length: 1000\r\n\r\n{"));
    }
    std::atomic<bool> trickling{true};
    std::thread trickle([&] {
        for (int round = 0; round < 40 && trickling; ++round) {  // 4 s at most
            for (std::size_t i = 0; i < slow.size(); ++i)
                slow[i]->send(i % 2 == 0 ? "X-Slow: 1\r\n" : "a");
            std::this_thread::sleep_for(100ms);
        }
    });
    EXPECT_EQ(fresh_get(), 200);
    std::size_t cut_off_before = 0;
    for (auto& c : slow) cut_off_before += c->read_for(0ms).empty() ? 0 : 1;
    EXPECT_EQ(cut_off_before, 0u) << "the fast client was answered while the slow ones waited";

    for (auto& c : slow) {
        const std::string got = c->read_for(5s);
        EXPECT_EQ(status_of(got), 408) << got;
        EXPECT_EQ(nlohmann::json::parse(body_of(got))["error"]["code"], "request_timeout");
        EXPECT_TRUE(c->closed());
    }
    trickling = false;
    trickle.join();
    EXPECT_EQ(handled(), 1u) << "no slow request reached the application";
}

TEST_F(HttpServerTest, AnIdleConnectionIsClosedQuietly) {
    ServerOptions o;
    o.idle_timeout = 300ms;
    start(o);
    RawClient c(port_);
    ASSERT_TRUE(c.connected());
    EXPECT_EQ(c.read_for(5s), "");
    EXPECT_TRUE(c.closed());
}

TEST_F(HttpServerTest, ConnectionsAreBoundedAndOneMoreIsAnswered503) {
    ServerOptions o;
    o.max_connections = 4;
    start(o);
    std::vector<std::unique_ptr<RawClient>> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(std::make_unique<RawClient>(port_));
        held.back()->send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n");
        ASSERT_EQ(held.back()->read_responses(1).size(), 1u);  // open, kept alive
    }
    RawClient extra(port_);
    const std::string got = extra.read_for(5s);
    EXPECT_EQ(status_of(got), 503) << got;
    EXPECT_NE(got.find("Retry-After: 1"), std::string::npos) << got;
    EXPECT_EQ(nlohmann::json::parse(body_of(got))["error"]["code"], "too_many_connections");
    EXPECT_TRUE(extra.closed());

    held.pop_back();  // a slot frees as soon as the server sees the close
    int status = -1;
    for (int i = 0; i < 50 && status != 200; ++i) {
        status = fresh_get();
        if (status != 200) std::this_thread::sleep_for(20ms);
    }
    EXPECT_EQ(status, 200);
}

struct Framing {
    const char* name;
    const char* request;
    int status;
};

class HttpFramingTest : public HttpServerTest, public ::testing::WithParamInterface<Framing> {};

// Messages whose length is ambiguous are refused and the connection closed, so nothing
// that follows them can be read as another request (RFC 9112 6.3, 5.1).
TEST_P(HttpFramingTest, AmbiguousMessagesAreRefusedAndTheConnectionClosed) {
    start();
    RawClient c(port_);
    const std::string smuggled = "GET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n";
    ASSERT_TRUE(c.send(std::string(GetParam().request) + smuggled));
    const auto responses = c.read_responses(2, 3s);
    ASSERT_GE(responses.size(), 1u);
    EXPECT_EQ(status_of(responses[0]), GetParam().status) << responses[0];
    EXPECT_NO_THROW(nlohmann::json::parse(body_of(responses[0]))["error"]["code"]);
    EXPECT_EQ(responses.size(), 1u) << "nothing after it was answered";
    c.read_for(3s);
    EXPECT_TRUE(c.closed());
    EXPECT_EQ(handled(), 0u);
    EXPECT_EQ(fresh_get(), 200) << "the server goes on";
}

INSTANTIATE_TEST_SUITE_P(
    Rfc9112, HttpFramingTest,
    ::testing::Values(
        Framing{
            "TwoDifferentContentLengths",
            "POST /r HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde",
            400},
        Framing{"ContentLengthWithChunked",
                "POST /r HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: "
                "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                400},
        Framing{"BadChunkSize",
                "POST /r HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: "
                "chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
                400},
        Framing{"TransferEncodingNotEndingInChunked",
                "POST /r HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nabc", 400},
        Framing{"AnUnsupportedTransferCoding",
                "POST /r HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, "
                "chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                501},
        Framing{"SpaceBeforeTheColon", "GET /r HTTP/1.1\r\nHost: t\r\nX-A : b\r\n\r\n", 400},
        Framing{"NotHttp", "NOT HTTP AT ALL\r\n\r\n", 400}),
    [](const auto& framing) { return std::string(framing.param.name); });

TEST_F(HttpServerTest, HeadersOverTheLimitAre431) {
    ServerOptions o;
    o.max_header_bytes = 1024;
    start(o);
    RawClient c(port_);
    c.send("GET /r HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(2048, 'x') + "\r\n\r\n");
    const auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 431);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
    start();
    RawClient c(port_);
    c.send(
        "GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
        "POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi"
        "GET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = c.read_responses(3);
    ASSERT_EQ(r.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(status_of(r[i]), 200);
        EXPECT_EQ(nlohmann::json::parse(body_of(r[i]))["path"], "/" + std::to_string(i + 1));
    }
    EXPECT_EQ(nlohmann::json::parse(body_of(r[1]))["body"], "hi");
    EXPECT_FALSE(c.closed()) << "kept alive";
}

// RFC 9112 6.3: a request with neither Content-Length nor Transfer-Encoding has no body.
TEST_F(HttpServerTest, APostWithoutContentLengthHasAnEmptyBody) {
    start();
    RawClient c(port_);
    c.send("POST /admin/persist HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 200) << r[0];
    const auto echoed = nlohmann::json::parse(body_of(r[0]));
    EXPECT_EQ(echoed["method"], "POST");
    EXPECT_EQ(echoed["body"], "");
}

TEST_F(HttpServerTest, ConnectionCloseAndHttp10CloseAfterTheResponse) {
    start();
    for (const std::string request :
         {"GET /a HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", "GET /a HTTP/1.0\r\n\r\n"}) {
        RawClient c(port_);
        c.send(request);
        const std::string got = c.read_for(5s);
        EXPECT_EQ(status_of(got), 200) << got;
        EXPECT_TRUE(c.closed()) << request;
    }
    RawClient kept(port_);  // HTTP/1.0 that asks for keep-alive gets it
    kept.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(kept.read_responses(1).size(), 1u);
    kept.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(kept.read_responses(1).size(), 1u);
}

TEST_F(HttpServerTest, ChunkedBodiesAndDecodedTargets) {
    start();
    RawClient c(port_);
    c.send(
        "POST /a%20b?x=1&y=a+b&y=%2F HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
    const auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    const auto echoed = nlohmann::json::parse(body_of(r[0]));
    EXPECT_EQ(echoed["path"], "/a b");
    EXPECT_EQ(echoed["body"], "abcde");
    EXPECT_EQ(echoed["query"]["x"], "1");
    std::lock_guard lock(mutex_);
    ASSERT_EQ(seen_.size(), 1u);
    EXPECT_EQ(seen_[0].query.count("y"), 2u);
}

TEST_F(HttpServerTest, Expect100ContinueIsAnsweredBeforeTheBody) {
    ServerOptions o;
    o.max_body_bytes = 100;
    start(o);
    RawClient c(port_);
    c.send("POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    EXPECT_EQ(c.read_for(500ms).rfind("HTTP/1.1 100 Continue\r\n\r\n", 0), 0u);
    c.send("hello");
    const auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(nlohmann::json::parse(body_of(r[0]))["body"], "hello");

    RawClient big(port_);  // over the limit: 413 at once, no 100 Continue, nothing read
    big.send("POST /e HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
    const std::string got = big.read_for(3s);
    EXPECT_EQ(status_of(got), 413) << got;
    EXPECT_EQ(nlohmann::json::parse(body_of(got))["error"]["code"], "payload_too_large");
}

TEST_F(HttpServerTest, AHandlerThatThrowsIsA500JsonError) {
    start();
    RawClient c(port_);
    c.send("GET /throw HTTP/1.1\r\nHost: t\r\n\r\n");
    const auto r = c.read_responses(1);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(status_of(r[0]), 500);
    EXPECT_EQ(nlohmann::json::parse(body_of(r[0]))["error"]["code"], "internal_error");
    EXPECT_EQ(fresh_get(), 200);
}

// stop() closes idle connections at once, answers the request being handled (with
// Connection: close), and run() returns after it.
TEST_F(HttpServerTest, StopAnswersTheRequestInFlightThenReturns) {
    start();
    RawClient idle(port_);
    idle.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_EQ(idle.read_responses(1).size(), 1u);
    RawClient busy(port_);
    busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n");
    {
        std::unique_lock lock(mutex_);
        ASSERT_TRUE(cv_.wait_for(lock, 5s, [this] { return slow_started_; }));
    }
    server_->stop();
    idle.read_for(3s);
    EXPECT_TRUE(idle.closed());
    {
        std::lock_guard lock(mutex_);
        release_slow_ = true;
    }
    cv_.notify_all();
    const std::string got = busy.read_for(5s);
    EXPECT_EQ(status_of(got), 200) << got;
    EXPECT_NE(got.find("Connection: close"), std::string::npos) << got;
    thread_.join();  // run() returned
    EXPECT_NE(fresh_get(), 200) << "nothing listens any more";
}

TEST(HttpServerBind, APortInUseIsAClearError) {
    ServerOptions o;
    o.port = 0;
    HttpServer a([](const api::Request&) { return api::Response{}; }, o);
    o.port = a.bind();
    HttpServer b([](const api::Request&) { return api::Response{}; }, o);
    try {
        b.bind();
        FAIL() << "bound twice";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(
            std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(o.port)),
            std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace k9
