#include "common/http_client.hpp"

#include <curl/curl.h>

#include <strings.h>
#include <unistd.h>
#include <algorithm>
#include <cstring>

#include <cstdlib>
#include <mutex>

#include "common/fs.hpp"

namespace k9::http {
namespace {

struct GlobalInit {
    GlobalInit() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

void ensure_global_init() {
    static GlobalInit once;
    (void)once;
}

// The CA bundle: SSL_CERT_FILE when set, else the first bundle that exists. Debian's
// libcurl looks only where Debian keeps it; Amazon Linux (Lambda) keeps it elsewhere.
const std::string& ca_bundle() {
    static const std::string path = [] {
        // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, and k9 never sets it
        if (const char* env = std::getenv("SSL_CERT_FILE"); env != nullptr && *env != '\0')
            return std::string(env);
        for (const char* p : {"/etc/ssl/certs/ca-certificates.crt",
                              "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}) {
            if (::access(p, R_OK) == 0) return std::string(p);
        }
        return std::string();
    }();
    return path;
}

struct CurlSlist {
    curl_slist* list = nullptr;
    ~CurlSlist() { curl_slist_free_all(list); }
    void add(const std::string& line) {
        curl_slist* next = curl_slist_append(list, line.c_str());
        if (next == nullptr) throw std::bad_alloc();
        list = next;
    }
};

// Per-transfer state the curl callbacks see.
struct Transfer {
    CURL* handle = nullptr;
    const Request* request = nullptr;
    Response* response = nullptr;
    fs::Fd body_fd;
    std::uint64_t sent = 0;
    bool aborted_by_callback = false;
    bool headers_delivered = false;
};

std::size_t on_write(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t bytes = size * n;
    t->response->body_bytes += bytes;
    long status = 0;
    curl_easy_getinfo(t->handle, CURLINFO_RESPONSE_CODE, &status);
    const bool ok = status >= 200 && status < 300;
    if (ok && !t->headers_delivered) {
        t->headers_delivered = true;
        if (t->request->on_headers)
            t->request->on_headers(static_cast<int>(status), t->response->headers);
    }
    if (t->request->on_body && ok) {  // error documents stay in memory
        if (!t->request->on_body(data, bytes)) {
            t->aborted_by_callback = true;
            return 0;  // curl aborts with CURLE_WRITE_ERROR
        }
    } else {
        t->response->body.append(data, bytes);
    }
    if (t->request->on_progress) t->request->on_progress(t->response->body_bytes);
    return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const std::size_t bytes = size * n;
    std::string_view line(data, bytes);
    if (line.rfind("HTTP/", 0) == 0) {
        t->response->headers.clear();  // a new response (after 100 Continue or a redirect)
        return bytes;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos) return bytes;
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
        value.remove_prefix(1);
    while (!value.empty() &&
           (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
    }
    t->response->headers.emplace_back(std::move(name), std::string(value));
    return bytes;
}

std::size_t on_read(char* buffer, std::size_t size, std::size_t n, void* user) {
    auto* t = static_cast<Transfer*>(user);
    const FileSpan& span = *t->request->body_file;
    const std::uint64_t left = span.length - t->sent;
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(left, size * n));
    if (want == 0) return 0;
    try {
        const std::size_t got =
            fs::pread_full(t->body_fd.get(), buffer, want, span.offset + t->sent, span.path);
        if (got == 0) return CURL_READFUNC_ABORT;  // the file shrank under us
        t->sent += got;
        if (t->request->on_progress) t->request->on_progress(t->sent);
        return got;
    } catch (const fs::IoError&) {
        return CURL_READFUNC_ABORT;
    }
}

int on_seek(void* user, curl_off_t offset, int origin) {
    auto* t = static_cast<Transfer*>(user);
    if (origin != SEEK_SET || offset < 0) return CURL_SEEKFUNC_CANTSEEK;
    t->sent = static_cast<std::uint64_t>(offset);  // curl rewinds to resend after a redirect/auth
    return CURL_SEEKFUNC_OK;
}

}  // namespace

std::optional<std::string> Response::header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return std::nullopt;
}

struct Client::Pool {
    std::mutex mutex;
    std::vector<CURL*> idle;
    CURLSH* share = nullptr;
    std::mutex share_locks[CURL_LOCK_DATA_LAST];

    ~Pool() {
        for (CURL* h : idle) curl_easy_cleanup(h);
        if (share != nullptr) curl_share_cleanup(share);
    }
    CURL* take() {
        {
            std::lock_guard lock(mutex);
            if (!idle.empty()) {
                CURL* h = idle.back();
                idle.pop_back();
                return h;
            }
        }
        CURL* h = curl_easy_init();
        if (h == nullptr) throw std::bad_alloc();
        return h;
    }
    void give_back(CURL* h) {
        std::lock_guard lock(mutex);
        idle.push_back(h);
    }
};

namespace {
void share_lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<std::mutex*>(user)[data].lock();
}
void share_unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<std::mutex*>(user)[data].unlock();
}
}  // namespace

Client::Client() : pool_(std::make_unique<Pool>()) {
    ensure_global_init();
    pool_->share = curl_share_init();
    curl_share_setopt(pool_->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(pool_->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(pool_->share, CURLSHOPT_USERDATA, pool_->share_locks);
    curl_share_setopt(pool_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
}

Client::~Client() = default;

Response Client::send(const Request& request) {
    Response response;
    Transfer t;
    t.request = &request;
    t.response = &response;

    CURL* h = pool_->take();
    t.handle = h;
    struct GiveBack {
        Pool& pool;
        CURL* h;
        ~GiveBack() { pool.give_back(h); }
    } give_back{*pool_, h};
    curl_easy_reset(h);  // keeps the connection cache

    curl_easy_setopt(h, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(h, CURLOPT_SHARE, pool_->share);
    if (!ca_bundle().empty()) curl_easy_setopt(h, CURLOPT_CAINFO, ca_bundle().c_str());
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);  // fewer, larger callbacks for big bodies
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(request.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(request.timeout.count()));
    if (request.low_speed_window.count() > 0) {
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, request.low_speed_bytes);
        curl_easy_setopt(
            h, CURLOPT_LOW_SPEED_TIME,
            std::max<long>(1, static_cast<long>(request.low_speed_window.count() / 1000)));
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &t);
    char error_buffer[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer);

    CurlSlist headers;
    headers.add("Expect:");  // no 100-continue round trip
    for (const auto& [name, value] : request.headers) headers.add(name + ": " + value);

    const std::string& method = request.method;
    if (request.body_file) {
        t.body_fd = fs::open_read(request.body_file->path);
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(h, CURLOPT_READDATA, &t);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &t);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(request.body_file->length));
        if (method != "PUT") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    } else if (method == "GET") {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (method == "HEAD") {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, request.body.data());
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                         static_cast<curl_off_t>(request.body.size()));
        if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
        const bool typed = std::any_of(
            request.headers.begin(), request.headers.end(),
            [](const auto& hv) { return strcasecmp(hv.first.c_str(), "content-type") == 0; });
        if (!typed) headers.add("Content-Type:");  // not curl's form-urlencoded default
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);

    const CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        std::string detail = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(rc);
        if (t.aborted_by_callback) detail = "the response body was refused by the receiver";
        throw TransportError(method + " " + request.url + ": " + detail, static_cast<int>(rc),
                             rc == CURLE_OPERATION_TIMEDOUT, t.aborted_by_callback);
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    response.status = static_cast<int>(status);
    return response;
}

std::string url_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 &&
            hex(text[i + 2]) >= 0) {
            out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

}  // namespace k9::http
