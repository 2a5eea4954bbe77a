#pragma once
// One client connection of the local HTTP server (runtime/http_server.hpp has the rules
// it keeps). Everything here runs on the server's single I/O thread, except the handler,
// which runs on a worker; its response comes back to the I/O thread to be written.
//
// A connection is always in one phase, and the phase decides what its deadline means:
//   Idle      waiting for the first byte of a request: on the deadline, close quietly
//   Reading   a request has begun: on the deadline, answer 408 and close
//   Handling  a worker runs the handler: no deadline (the handler is k9's own)
//   Writing   the response is being sent: on the deadline, close
//   Closing   an error was answered: draining what the client still sends, then close

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <memory>
#include <optional>
#include <unordered_set>

#include "runtime/http_messages.hpp"
#include "runtime/http_server.hpp"

namespace k9::runtime {

class Connection;

// What every connection shares with the server; touched on the I/O thread only.
struct ServerContext {
    const ServerOptions& options;
    const RequestHandler& handler;
    boost::asio::io_context& io;
    boost::asio::thread_pool& workers;
    std::unordered_set<Connection*> open;  // registered for their lifetime
    bool stopping = false;
};

class Connection : public std::enable_shared_from_this<Connection> {
  public:
    Connection(boost::asio::ip::tcp::socket socket, ServerContext& context);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    void start();
    // At shutdown: closes the connection unless a request is being handled or answered.
    void stop_if_idle();

  private:
    enum class Phase { Idle, Reading, Handling, Writing, Closing };

    void wait_for_request();
    void read_header();
    void on_header(boost::beast::error_code ec);
    void read_body();
    void handle();
    void write(BeastResponse response);
    void on_read_error(boost::beast::error_code ec);
    void refuse(int status, const std::string& code, const std::string& message);
    void drain();
    void arm(std::chrono::milliseconds timeout);
    void on_deadline();
    void close();

    boost::asio::ip::tcp::socket socket_;
    ServerContext& context_;
    boost::asio::steady_timer timer_;
    unsigned timer_generation_ = 0;
    Phase phase_ = Phase::Idle;
    bool timed_out_ = false;
    bool keep_alive_ = true;
    std::string remote_ip_;
    boost::beast::flat_buffer buffer_;
    std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
    std::optional<BeastResponse> response_;
    std::array<char, 4096> drain_buffer_{};
    std::size_t drained_ = 0;
};

}  // namespace k9::runtime
