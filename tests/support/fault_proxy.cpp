#include "support/fault_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace k9::test {
namespace {

bool send_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// Reads until `buffer` holds one full HTTP message (head + Content-Length body; no body
// when `head_only`: the reply to a HEAD announces a length it does not send).
// Returns the head length (including the blank line) or 0 when the peer closed.
std::size_t read_message(int fd, std::string& buffer, std::size_t& body_length,
                         bool head_only = false) {
    for (;;) {
        const auto end = buffer.find("\r\n\r\n");
        if (end != std::string::npos) {
            const std::size_t head = end + 4;
            body_length = 0;
            std::string lower = buffer.substr(0, head);
            std::transform(lower.begin(), lower.end(), lower.begin(),
                           [](unsigned char c) { return std::tolower(c); });
            const auto cl = lower.find("\r\ncontent-length:");
            if (cl != std::string::npos && !head_only)
                body_length = std::stoull(lower.substr(cl + 17));
            if (buffer.size() >= head + body_length) return head;
        }
        char chunk[65536];
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return 0;
        buffer.append(chunk, static_cast<std::size_t>(n));
    }
}

int connect_upstream(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

std::string lowercase(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
    return s;
}

// `request` (whose head is `head` bytes long) without the header lines named in `names`.
std::string without_headers(const std::string& request, std::size_t head,
                            const std::vector<std::string>& names) {
    std::string out;
    std::size_t pos = 0;
    for (bool first = true;; first = false) {
        const std::size_t eol = request.find("\r\n", pos);
        const std::string line = request.substr(pos, eol - pos);
        pos = eol + 2;
        if (line.empty()) break;  // the blank line that ends the head
        const std::string name = lowercase(line.substr(0, line.find(':')));
        const bool drop =
            !first && std::any_of(names.begin(), names.end(),
                                  [&](const std::string& n) { return lowercase(n) == name; });
        if (!drop) out += line + "\r\n";
    }
    return out + "\r\n" + request.substr(head);
}

std::string error_response(int status, const std::string& code) {
    const std::string body =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
        "</Code><Message>injected by the test proxy</Message><RequestId>FAULT" +
        "</RequestId></Error>";
    return "HTTP/1.1 " + std::to_string(status) +
           " Injected\r\nContent-Type: application/xml\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

// "LIST" for ListObjectsV2 / ListObjectVersions (a GET with list-type or versions in its
// query), else the method.
std::string operation(const std::string& method, const std::string& target) {
    const auto q = target.find('?');
    if (method != "GET" || q == std::string::npos) return method;
    for (std::size_t from = q + 1; from <= target.size();) {
        auto amp = target.find('&', from);
        if (amp == std::string::npos) amp = target.size();
        const std::string name = target.substr(from, std::min(amp, target.find('=', from)) - from);
        if (name == "list-type" || name == "versions") return "LIST";
        from = amp + 1;
    }
    return method;
}

}  // namespace

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 64) != 0) {
        throw std::runtime_error("fault proxy: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    acceptor_.join();
    {
        std::lock_guard lock(mutex_);
        for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& [id, t] : threads_) t.join();
}

void FaultProxy::add(FaultRule rule) {
    std::lock_guard lock(mutex_);
    rules_.push_back(std::move(rule));
}

void FaultProxy::clear() {
    std::lock_guard lock(mutex_);
    rules_.clear();
}

std::map<std::string, int> FaultProxy::counts() const {
    std::lock_guard lock(counts_mutex_);
    return counts_;
}

void FaultProxy::reset_counts() {
    std::lock_guard lock(counts_mutex_);
    counts_.clear();
}

const FaultRule* FaultProxy::match(const std::string& method, const std::string& path,
                                   const std::string& head) {
    std::lock_guard lock(mutex_);
    for (auto& r : rules_) {
        if (r.times == 0) continue;
        if (!r.method.empty() && r.method != method) continue;
        if (!r.path_contains.empty() && path.find(r.path_contains) == std::string::npos) continue;
        if (!r.header_contains.empty() && head.find(r.header_contains) == std::string::npos)
            continue;
        if (!r.header_absent.empty() && head.find(r.header_absent) != std::string::npos) continue;
        if (r.probability < 1.0 &&
            std::uniform_real_distribution<double>(0.0, 1.0)(random_) >= r.probability)
            continue;
        if (r.times > 0) --r.times;
        ++injected_;
        return &r;
    }
    return nullptr;
}

void FaultProxy::accept_loop() {
    while (!stopping_) {
        const int client = ::accept(listen_fd_, nullptr, nullptr);
        if (client < 0) {
            if (stopping_) return;
            continue;
        }
        std::vector<std::thread> done;
        {
            std::lock_guard lock(mutex_);
            for (const auto id : finished_) {
                done.push_back(std::move(threads_.at(id)));
                threads_.erase(id);
            }
            finished_.clear();
            open_fds_.push_back(client);
            std::thread t([this, client] { serve(client); });
            const auto id = t.get_id();
            threads_.emplace(id, std::move(t));
        }
        for (auto& t : done) t.join();  // each has left serve(), or is about to
    }
}

void FaultProxy::serve(int client) {
    const int upstream = connect_upstream(upstream_port_);
    std::string in, out;
    while (upstream >= 0 && !stopping_) {
        std::size_t body_length = 0;
        const std::size_t head = read_message(client, in, body_length);
        if (head == 0) break;
        const std::string request = in.substr(0, head + body_length);
        in.erase(0, head + body_length);
        ++seen_;
        const auto sp1 = request.find(' ');
        const auto sp2 = request.find(' ', sp1 + 1);
        const std::string method = request.substr(0, sp1);
        const std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
        {
            std::lock_guard lock(counts_mutex_);
            ++counts_[operation(method, path)];
        }
        FaultRule rule;
        bool faulty = false;
        if (const FaultRule* r = match(method, path, request.substr(0, head))) {
            rule = *r;
            faulty = true;
        }
        if (faulty && rule.fault == Fault::Status) {
            if (!send_all(client, error_response(rule.status, rule.s3_code).data(),
                          error_response(rule.status, rule.s3_code).size()))
                break;
            continue;
        }
        if (faulty && rule.fault == Fault::Stall)
            std::this_thread::sleep_for(std::chrono::milliseconds(rule.stall_ms));
        const std::string forwarded = faulty && rule.fault == Fault::DropHeaders
                                          ? without_headers(request, head, rule.drop_headers)
                                          : request;
        if (!send_all(upstream, forwarded.data(), forwarded.size())) break;
        std::size_t resp_body = 0;
        const std::size_t resp_head = read_message(upstream, out, resp_body, method == "HEAD");
        if (resp_head == 0) break;
        std::string response = out.substr(0, resp_head + resp_body);
        out.erase(0, resp_head + resp_body);
        if (faulty && (rule.fault == Fault::Truncate || rule.fault == Fault::Reset)) {
            send_all(client, response.data(), resp_head + resp_body / 2);
            if (rule.fault == Fault::Reset) {
                linger l{1, 0};
                ::setsockopt(client, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            }
            break;
        }
        if (faulty && rule.fault == Fault::StallBody) {
            const std::size_t first = resp_head + std::min<std::size_t>(resp_body, 64 * 1024);
            if (!send_all(client, response.data(), first)) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(rule.stall_ms));
            if (!send_all(client, response.data() + first, response.size() - first)) break;
            continue;
        }
        if (faulty && rule.fault == Fault::FlipBytes && resp_body > 0) {
            for (std::size_t i = resp_head; i < response.size(); i += 4096)
                response[i] = static_cast<char>(response[i] ^ 0x55);
        }
        if (!send_all(client, response.data(), response.size())) break;
    }
    if (upstream >= 0) ::close(upstream);
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), client), open_fds_.end());
    ::close(client);
    finished_.push_back(std::this_thread::get_id());
}

}  // namespace k9::test
