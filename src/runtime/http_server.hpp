#pragma once
// The local HTTP front door (`k9-api serve`): HTTP/1.1 on Boost.Beast and Asio.
//
// One I/O thread owns every connection: sockets, parsing, deadlines. Handlers, which may
// wait on DuckDB or the store, run on a pool of worker threads. A slow client therefore
// costs a socket and a timer, never a thread, and cannot keep other clients waiting.
//
// What a client gets (docs/operations.md, "The local server"):
// - A request must arrive whole (headers and body) within `request_timeout` of its first
//   byte, or it is answered 408 and the connection closed. An idle keep-alive connection
//   is closed after `idle_timeout` without a word. A response the client does not read
//   within `request_timeout` is abandoned with its connection.
// - At most `max_connections` connections are open; one more is answered 503
//   `too_many_connections` (Retry-After: 1) and closed.
// - Parsing is strict (RFC 9112): conflicting Content-Length headers, Content-Length with
//   Transfer-Encoding, a Transfer-Encoding that does not end in chunked, bad chunk sizes
//   and malformed header lines are 400 and the connection is closed; a body over
//   `max_body_bytes` is 413 (before it is read), headers over `max_header_bytes` 431.
// - A request without Content-Length or Transfer-Encoding has an empty body. Pipelined
//   requests are answered in order, one at a time. Keep-alive is the HTTP/1.1 default;
//   `Connection: close` (and HTTP/1.0 without keep-alive) closes after the response.
//   `Expect: 100-continue` is answered before the body is read.
// - Every error the server answers itself is the API's JSON error body.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/http_types.hpp"

namespace k9::runtime {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 3001;   // 0: any free port
    int threads = 16;  // workers running handlers (mostly waiting: fsyncs, the store)
    std::size_t max_body_bytes = 1u << 20;
    std::size_t max_header_bytes = 16u << 10;  // request line and header fields
    std::size_t max_connections = 512;
    std::chrono::milliseconds request_timeout{10'000};  // first byte to last, per request
    std::chrono::milliseconds idle_timeout{5'000};      // keep-alive wait for a next request
};

// Turns a request into a response; called on a worker thread, never throws (a throw is
// answered 500).
using RequestHandler = std::function<api::Response(const api::Request&)>;

class HttpServer {
  public:
    HttpServer(RequestHandler handler, ServerOptions options);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Binds the socket; returns the port. Throws std::runtime_error naming host:port.
    int bind();
    // Serves until stop(); then answers the requests already being handled and returns.
    void run();
    // From any thread: stop accepting, close idle and half-read connections.
    void stop();

    class Impl;

  private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace k9::runtime
