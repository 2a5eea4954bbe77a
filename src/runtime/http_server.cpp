#include "runtime/http_server.hpp"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "api/errors.hpp"
#include "common/hash.hpp"
#include "common/time.hpp"

namespace k9::runtime {
namespace {

// A client's X-Request-Id is kept when it is short and plain; otherwise k9 makes one.
std::string request_id(const httplib::Request& req) {
    const std::string given = req.get_header_value("x-request-id");
    const bool plain = !given.empty() && given.size() <= 128 && std::all_of(given.begin(), given.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
    return plain ? given : new_uuid_v7(system_now() / 1000);
}

api::Request to_api(const httplib::Request& req) {
    api::Request r;
    r.method = req.method;
    r.path = req.path;
    for (const auto& [k, v] : req.params) r.query.emplace(k, v);
    for (const auto& [k, v] : req.headers) {
        std::string name = k;
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
        auto [it, inserted] = r.headers.emplace(name, v);
        if (!inserted) it->second += ", " + v;
    }
    r.body = req.body;
    r.request_id = request_id(req);
    r.source_ip = req.remote_addr;
    return r;
}

void to_httplib(const api::Response& from, httplib::Response& to) {
    to.status = from.status;
    std::string type = "application/json";
    for (const auto& [k, v] : from.headers) {
        if (k == "content-type") {
            type = v;
        } else {
            to.set_header(k, v);
        }
    }
    if (!from.body.empty()) to.set_content(from.body, type);
}

const char* code_for(int status) {
    switch (status) {
        case 400: return "bad_request";
        case 404: return "not_found";
        case 405: return "method_not_allowed";
        case 413: return "payload_too_large";
        case 414: return "uri_too_long";
        case 431: return "headers_too_large";
        default: return status >= 500 ? "internal_error" : "bad_request";
    }
}

}  // namespace

HttpServer::HttpServer(api::Router& router, ServerOptions options)
    : router_(router), options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
    const int threads = std::max(1, options_.threads);
    server_->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
    server_->set_payload_max_length(options_.max_body_bytes);
    // Idle keep-alive connections hold a worker until this passes, also at shutdown.
    server_->set_keep_alive_timeout(2);
    // Without this, a response written in two sends waits for the peer's delayed ACK (~40 ms).
    server_->set_tcp_nodelay(true);
    auto handler = [this](const httplib::Request& req, httplib::Response& res) {
        to_httplib(router_.handle(to_api(req)), res);
    };
    const char* any = R"(/.*)";
    server_->Get(any, handler);
    server_->Post(any, handler);
    server_->Put(any, handler);
    server_->Patch(any, handler);
    server_->Delete(any, handler);
    server_->Options(any, handler);
    // Errors httplib answers itself (bad request line, body over the limit, ...).
    server_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const std::string message = res.status == 413 ? "the request body is larger than the limit (K9_MAX_BODY_BYTES)"
                                                      : "the request could not be processed";
        const auto r = api::error_response(res.status, code_for(res.status), message);
        res.set_content(r.body, "application/json");
    });
    server_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        const auto r = api::error_response(500, "internal_error", "internal error");
        res.status = 500;
        res.set_content(r.body, "application/json");
    });
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
    const int port = options_.port == 0 ? server_->bind_to_any_port(options_.host)
                                        : (server_->bind_to_port(options_.host, options_.port) ? options_.port : -1);
    if (port <= 0) {
        throw std::runtime_error("cannot listen on " + options_.host + ":" + std::to_string(options_.port) +
                                 " (in use, or not an address of this machine); choose another with --host/--port");
    }
    return port;
}

void HttpServer::run() { server_->listen_after_bind(); }

void HttpServer::stop() { server_->stop(); }

}  // namespace k9::runtime
