#include "runtime/http_connection.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/rfc7230.hpp>
#include <boost/beast/http/write.hpp>

#include "api/errors.hpp"
#include "common/log.hpp"

namespace k9::runtime {
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using boost::beast::error_code;

namespace {

// What a client may still send after an error answer is read and thrown away (so that
// closing does not reset the connection before the client has read the answer), up to
// this much and this long.
constexpr std::size_t kMaxDrainBytes = 1u << 20;
constexpr std::chrono::milliseconds kMaxDrainTime{2000};

std::string seconds(std::chrono::milliseconds d) {
    const auto ms = d.count();
    return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

bool is_token(std::string_view value, std::string_view token) {
    return boost::beast::iequals(value, token);
}

}  // namespace

Connection::Connection(asio::ip::tcp::socket socket, ServerContext& context)
    : socket_(std::move(socket)), context_(context), timer_(context.io) {
    context_.open.insert(this);
    error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
    const auto remote = socket_.remote_endpoint(ec);
    if (!ec) remote_ip_ = remote.address().to_string();
}

Connection::~Connection() {
    context_.open.erase(this);
}

void Connection::start() {
    wait_for_request();
}

void Connection::stop_if_idle() {
    if (phase_ == Phase::Idle || phase_ == Phase::Reading) close();
}

// --- Reading a request --------------------------------------------------------------------

void Connection::wait_for_request() {
    if (context_.stopping) return close();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(context_.options.max_header_bytes));
    parser_->body_limit(context_.options.max_body_bytes);
    timed_out_ = false;
    if (buffer_.size() > 0) return read_header();  // a pipelined request is already here
    phase_ = Phase::Idle;
    arm(context_.options.idle_timeout);
    socket_.async_wait(asio::ip::tcp::socket::wait_read,
                       [self = shared_from_this()](error_code ec) {
                           if (ec || !self->socket_.is_open()) return self->close();
                           self->read_header();
                       });
}

void Connection::read_header() {
    phase_ = Phase::Reading;  // the deadline runs from the first byte to the last
    arm(context_.options.request_timeout);
    bhttp::async_read_header(
        socket_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
}

void Connection::on_header(error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& request = parser_->get();
    // RFC 9112 6.1 and 6.3: a body whose length is not chunked's is not delimited.
    const auto te = request.find(bhttp::field::transfer_encoding);
    if (te != request.end()) {
        if (!parser_->chunked()) {
            return refuse(400, "bad_request",
                          "Transfer-Encoding must end with chunked; send the body with "
                          "Content-Length or chunked");
        }
        const bhttp::token_list codings(te->value());
        if (std::next(codings.begin()) != codings.end()) {
            return refuse(501, "not_implemented",
                          "only the chunked transfer coding is supported; send the body "
                          "uncompressed");
        }
    }
    const auto expect = request.find(bhttp::field::expect);
    if (expect != request.end() && is_token(expect->value(), "100-continue") &&
        request.version() >= 11 && !parser_->is_done()) {
        static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        return asio::async_write(socket_, asio::buffer(kContinue),
                                 [self = shared_from_this()](error_code wec, std::size_t) {
                                     if (wec) return self->on_read_error(wec);
                                     self->read_body();
                                 });
    }
    read_body();
}

void Connection::read_body() {
    if (parser_->is_done()) return handle();
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](error_code ec, std::size_t) {
                          if (ec) return self->on_read_error(ec);
                          self->handle();
                      });
}

void Connection::on_read_error(error_code ec) {
    const auto& o = context_.options;
    if (timed_out_) {
        return refuse(408, "request_timeout",
                      "the request did not arrive whole within " + seconds(o.request_timeout));
    }
    if (!socket_.is_open()) return close();  // closed at shutdown or after a deadline
    if (ec == bhttp::error::body_limit) {
        return refuse(413, "payload_too_large",
                      "the request body is larger than the limit (K9_MAX_BODY_BYTES, " +
                          std::to_string(o.max_body_bytes) + " bytes)");
    }
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
        return refuse(431, "headers_too_large",
                      "the request line and headers are larger than " +
                          std::to_string(o.max_header_bytes) + " bytes");
    }
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        return refuse(400, "bad_request", "malformed HTTP request: " + ec.message());
    }
    close();  // the client went away, before or during its request
}

// --- Handling and answering ---------------------------------------------------------------

void Connection::handle() {
    phase_ = Phase::Handling;
    arm(std::chrono::milliseconds::zero());  // no deadline while k9 works
    keep_alive_ = parser_->get().keep_alive();
    const unsigned version = parser_->get().version();
    api::Request request = to_api_request(parser_->release(), remote_ip_);
    auto& io = context_.io;
    asio::post(context_.workers, [self = shared_from_this(), guard = asio::make_work_guard(io),
                                  request = std::move(request), version, &io]() mutable {
        api::Response response;
        try {
            response = self->context_.handler(request);
        } catch (const std::exception& e) {
            log::error("request handler failed",
                       {{"error", e.what()}, {"request_id", request.request_id}});
            response =
                api::error_response(500, "internal_error", "internal error", request.request_id);
        }
        // Everything of the connection happens on the I/O thread, its end included: this
        // worker keeps no reference to it.
        asio::post(io, [self = std::move(self), guard = std::move(guard),
                        response = std::move(response), version]() mutable {
            const bool keep = self->keep_alive_ && !self->context_.stopping;
            self->write(to_beast_response(response, version, keep));
        });
    });
}

void Connection::write(BeastResponse response) {
    if (!socket_.is_open()) return;
    phase_ = Phase::Writing;
    arm(context_.options.request_timeout);
    response_ = std::move(response);
    bhttp::async_write(socket_, *response_,
                       [self = shared_from_this()](error_code ec, std::size_t) {
                           const bool keep = self->response_->keep_alive();
                           self->response_.reset();
                           if (ec || !keep) return self->close();
                           self->wait_for_request();
                       });
}

// An error the server answers itself; the connection ends after it.
void Connection::refuse(int status, const std::string& code, const std::string& message) {
    if (!socket_.is_open()) return;
    if (status >= 500 || status == 408) {
        log::info("HTTP request refused",
                  {{"status", status}, {"code", code}, {"remote", remote_ip_}});
    }
    phase_ = Phase::Writing;
    timed_out_ = false;
    error_code ignored;
    socket_.cancel(ignored);  // a read still pending (after a deadline) ends now
    arm(context_.options.request_timeout);
    response_ = error_beast_response(status, code, message);
    bhttp::async_write(socket_, *response_,
                       [self = shared_from_this()](error_code ec, std::size_t) {
                           self->response_.reset();
                           if (ec) return self->close();
                           self->drain();
                       });
}

void Connection::drain() {
    phase_ = Phase::Closing;
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    arm(std::min(kMaxDrainTime, context_.options.request_timeout));
    drained_ = 0;
    // Reads until the client closes, the limit, or the deadline; then closes.
    struct Reader {
        std::shared_ptr<Connection> self;
        void operator()(error_code ec, std::size_t n) {
            self->drained_ += n;
            if (ec || self->drained_ >= kMaxDrainBytes || !self->socket_.is_open())
                return self->close();
            self->socket_.async_read_some(asio::buffer(self->drain_buffer_), std::move(*this));
        }
    };
    Reader{shared_from_this()}(error_code{}, 0);
}

// --- Deadlines and the end ------------------------------------------------------------------

void Connection::arm(std::chrono::milliseconds timeout) {
    const unsigned generation = ++timer_generation_;
    timer_.cancel();
    if (timeout <= std::chrono::milliseconds::zero()) return;
    timer_.expires_after(timeout);
    timer_.async_wait([self = shared_from_this(), generation](error_code ec) {
        if (!ec && generation == self->timer_generation_) self->on_deadline();
    });
}

void Connection::on_deadline() {
    switch (phase_) {
        case Phase::Reading: {
            timed_out_ = true;  // the pending read ends with an error, answered 408
            error_code ignored;
            socket_.cancel(ignored);
            return;
        }
        case Phase::Handling:
            return;
        case Phase::Idle:
        case Phase::Writing:
        case Phase::Closing:
            return close();
    }
}

void Connection::close() {
    ++timer_generation_;
    timer_.cancel();
    if (!socket_.is_open()) return;
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
}

}  // namespace k9::runtime
