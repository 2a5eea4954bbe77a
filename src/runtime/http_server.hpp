#pragma once
// The local HTTP front door (`k9-api serve`): cpp-httplib with a thread pool, a request
// size limit (413 beyond it), every route handed to the api::Router, and httplib's own
// errors (malformed requests, oversize bodies) answered as JSON errors too.

#include <memory>
#include <string>

#include "api/router.hpp"

namespace httplib {
class Server;
}

namespace k9::runtime {

struct ServerOptions {
    std::string host = "127.0.0.1";
    int port = 3001;  // 0: any free port
    int threads = 8;
    std::size_t max_body_bytes = 1u << 20;
};

class HttpServer {
public:
    HttpServer(api::Router& router, ServerOptions options);
    ~HttpServer();
    // Binds the socket; returns the port. Throws std::runtime_error naming host:port.
    int bind();
    // Serves until stop() (from any thread).
    void run();
    void stop();

private:
    api::Router& router_;
    ServerOptions options_;
    std::unique_ptr<httplib::Server> server_;
};

}  // namespace k9::runtime
