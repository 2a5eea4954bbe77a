#pragma once
// A small HTTP/1.1 client over libcurl, shared by the S3 backend, the credential
// providers and the Lambda runtime client. Connections are reused: each request
// borrows an easy handle from a pool, and each handle keeps its connections open.
// Thread-safe: many threads may send at once.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace k9::http {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Part of a file sent as the request body.
struct FileSpan {
    std::filesystem::path path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct Request {
    std::string method = "GET";
    std::string url;
    Headers headers;
    std::string body;  // sent when body_file is unset (and non-empty, or a PUT/POST)
    std::optional<FileSpan> body_file;  // sent instead of `body`
    // 2xx response body bytes go here when set (streaming); otherwise, and for error
    // responses, into Response::body. Return false to abort the transfer.
    std::function<bool(const char* data, std::size_t size)> on_body;
    // Called once, before the first body byte of a 2xx response, with its status and headers.
    std::function<void(int status, const Headers& headers)> on_headers;
    // Called with the running count of body bytes sent or received.
    std::function<void(std::uint64_t bytes)> on_progress;
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::milliseconds timeout{0};  // whole request; 0: no limit
    // Abort when fewer than low_speed_bytes per second flow for this long (0: never).
    std::chrono::milliseconds low_speed_window{0};
    long low_speed_bytes = 1;
};

struct Response {
    int status = 0;
    Headers headers;  // names in lower case, in arrival order
    std::string body;
    std::uint64_t body_bytes = 0;  // counted also when streamed to on_body
    std::optional<std::string> header(std::string_view lower_name) const;
};

// The request did not complete: connection refused or reset, timeout, DNS, TLS, or
// the body callback aborted. `timed_out` distinguishes slow servers.
class TransportError : public std::runtime_error {
  public:
    TransportError(const std::string& message, int code, bool timeout, bool stopped = false)
        : std::runtime_error(message),
          curl_code(code),
          timed_out(timeout),
          stopped_by_receiver(stopped) {}
    int curl_code;
    bool timed_out;
    bool stopped_by_receiver;  // on_body returned false: the caller ended it on purpose
};

class Client {
  public:
    Client();
    ~Client();
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Sends the request and waits for the whole response. Throws TransportError.
    Response send(const Request& request);

  private:
    struct Pool;
    std::unique_ptr<Pool> pool_;
};

// Percent-decodes a URL component ("%20" -> " "; "+" is kept as is).
std::string url_decode(std::string_view text);

}  // namespace k9::http
