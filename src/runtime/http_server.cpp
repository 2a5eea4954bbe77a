#include "runtime/http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>
#include <stdexcept>
#include <vector>

#include "common/log.hpp"
#include "runtime/http_connection.hpp"

namespace k9::runtime {
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

class HttpServer::Impl {
  public:
    Impl(RequestHandler handler, ServerOptions options)
        : options_(std::move(options)),
          handler_(std::move(handler)),
          context_{options_, handler_, io_, workers_, {}, false},
          workers_(static_cast<std::size_t>(std::max(1, options_.threads))) {}

    ~Impl() {
        workers_.join();  // handlers still running post their answers to io_, alive till then
    }

    int bind() {
        error_code ec;
        tcp::resolver resolver(io_);
        const auto endpoints = resolver.resolve(options_.host, std::to_string(options_.port),
                                                tcp::resolver::passive, ec);
        if (!ec && !endpoints.empty()) {
            const tcp::endpoint endpoint = *endpoints.begin();
            acceptor_.open(endpoint.protocol(), ec);
            if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
            if (!ec) acceptor_.bind(endpoint, ec);
            if (!ec) acceptor_.listen(tcp::socket::max_listen_connections, ec);
        }
        if (ec || !acceptor_.is_open()) {
            error_code ignored;
            acceptor_.close(ignored);
            throw std::runtime_error(
                "cannot listen on " + options_.host + ":" + std::to_string(options_.port) + " (" +
                (ec ? ec.message() : "no such address") + "); choose another with --host/--port");
        }
        return acceptor_.local_endpoint().port();
    }

    void run() {
        asio::post(io_, [this] { accept(); });
        io_.run();
    }

    void stop() {
        asio::post(io_, [this] {
            context_.stopping = true;
            error_code ignored;
            acceptor_.close(ignored);
            accept_retry_.cancel();
            const std::vector<Connection*> open(context_.open.begin(), context_.open.end());
            for (Connection* c : open) c->stop_if_idle();
        });
    }

  private:
    void accept() {
        if (context_.stopping) return;
        acceptor_.async_accept([this](error_code ec, tcp::socket socket) {
            if (ec == asio::error::operation_aborted || context_.stopping) return;
            if (ec) {
                // Out of file descriptors, most likely: the client waits in the backlog.
                log::warning("HTTP accept failed; trying again", {{"error", ec.message()}});
                accept_retry_.expires_after(std::chrono::milliseconds(100));
                accept_retry_.async_wait([this](error_code wec) {
                    if (!wec) accept();
                });
                return;
            }
            if (context_.open.size() >= options_.max_connections) {
                refuse_connection(std::move(socket));
            } else {
                std::make_shared<Connection>(std::move(socket), context_)->start();
            }
            accept();
        });
    }

    // One connection over max_connections: a 503 and the end.
    void refuse_connection(tcp::socket socket) {
        struct Refused {
            tcp::socket socket;
            BeastResponse response;
        };
        auto r = std::make_shared<Refused>(Refused{
            std::move(socket),
            error_beast_response(503, "too_many_connections",
                                 "the server has " + std::to_string(options_.max_connections) +
                                     " connections open; try again shortly")});
        r->response.set(boost::beast::http::field::retry_after, "1");
        boost::beast::http::async_write(r->socket, r->response, [r](error_code, std::size_t) {
            error_code ignored;
            r->socket.shutdown(tcp::socket::shutdown_both, ignored);
            r->socket.close(ignored);
        });
    }

    // Destroyed in the reverse order: the acceptor, the workers (joined in ~Impl), the I/O
    // context (whose pending handlers end the last connections, which unregister from
    // context_), and context_ last.
    ServerOptions options_;
    RequestHandler handler_;
    ServerContext context_;
    asio::io_context io_;
    asio::thread_pool workers_;
    tcp::acceptor acceptor_{io_};
    asio::steady_timer accept_retry_{io_};
};

HttpServer::HttpServer(RequestHandler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
    return impl_->bind();
}

void HttpServer::run() {
    impl_->run();
}

void HttpServer::stop() {
    impl_->stop();
}

}  // namespace k9::runtime
