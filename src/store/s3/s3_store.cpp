#include "store/s3/s3_store.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <exception>
#include <mutex>
#include <thread>

#include "common/checksum.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "store/key.hpp"
#include "store/s3/object_headers.hpp"

namespace k9::store::s3 {
namespace stdfs = std::filesystem;

namespace {

constexpr int kDownloadRestarts = 2;  // the object changed mid-download: start over this often

struct ContentRange {
    std::uint64_t first = 0, last = 0, total = 0;
};

std::optional<ContentRange> parse_content_range(const std::optional<std::string>& header) {
    if (!header) return std::nullopt;
    ContentRange r;
    unsigned long long a = 0, b = 0, t = 0;
    if (std::sscanf(header->c_str(), "bytes %llu-%llu/%llu", &a, &b, &t) != 3 || a > b || b >= t) {
        return std::nullopt;
    }
    r.first = a, r.last = b, r.total = t;
    return r;
}

// Writes a response body into a file at a fixed offset; rewinds on a retry.
struct FileSink {
    int fd;
    const stdfs::path* path;
    std::uint64_t start;
    std::uint64_t written = 0;
    std::atomic<std::uint64_t>* progress = nullptr;
    bool write(const char* data, std::size_t size) {
        std::size_t done = 0;
        while (done < size) {
            const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(start + written + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            done += static_cast<std::size_t>(n);
        }
        written += size;
        if (progress != nullptr) *progress += size;
        return true;
    }
    void rewind() {
        if (progress != nullptr) *progress -= written;
        written = 0;
    }
};

// Runs fn(i) for i in [0, count) on up to `threads` threads; rethrows the first error.
void parallel_for(std::size_t count, int threads, const std::function<void(std::size_t)>& fn) {
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto worker = [&] {
        for (;;) {
            const std::size_t i = next++;
            if (i >= count || failed) return;
            try {
                fn(i);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
                failed = true;
            }
        }
    };
    const int n = static_cast<int>(std::min<std::size_t>(count, static_cast<std::size_t>(std::max(threads, 1))));
    std::vector<std::thread> pool;
    for (int i = 1; i < n; ++i) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace

S3Store::S3Store(config::StoreLocation location, config::S3Settings settings,
                 std::shared_ptr<CredentialsProvider> credentials, Clock clock)
    : location_(location), client_(location, std::move(settings), std::move(credentials), clock), clock_(clock) {}

ObjectInfo S3Store::head(const std::string& key) {
    validate_key(key);
    S3Call call{"HeadObject", "HEAD", key, {}, {}, {}, {}, {}, {}, {}, {}};
    const auto resp = client_.send(call, {404});
    if (resp.status == 404) throw StoreError(ErrorKind::NotFound, "no object at " + url_for(key));
    return object_info(key, resp);
}

ObjectInfo S3Store::get_file(const std::string& key, const stdfs::path& dest, const GetOptions& options) {
    validate_key(key);
    const int raw = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (raw < 0) fs::throw_errno("open for writing", dest);
    fs::Fd fd(raw);
    for (int restart = 0;; ++restart) {
        try {
            return download(key, fd.get(), dest, options);
        } catch (const StoreError& e) {
            // A part's If-Match failed: the object was replaced while we read it.
            const bool changed = e.is_precondition_failed() && !options.if_match;
            if (!changed || restart >= kDownloadRestarts) throw;
            log::warning("The object changed during the download; starting over", {{"object", url_for(key)}});
            if (::ftruncate(fd.get(), 0) != 0) fs::throw_errno("truncate", dest);
        }
    }
}

ObjectInfo S3Store::download(const std::string& key, int fd, const stdfs::path& dest, const GetOptions& options) {
    const std::uint64_t part_size = client_.settings().part_size;
    std::vector<std::pair<std::string, std::string>> query;
    if (options.version_id) query.emplace_back("versionId", *options.version_id);
    const std::string op = options.version_id ? "GetObjectVersion" : "GetObject";
    std::atomic<std::uint64_t> received{0};
    std::uint64_t total = 0;

    auto ranged_call = [&](std::uint64_t first, std::uint64_t last, FileSink& sink,
                           const std::optional<std::string>& if_match) {
        S3Call call{op, "GET", key, query, {{"range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}},
                    {}, {}, {}, {}, {}, {}};
        if (if_match) call.headers.emplace_back("if-match", *if_match);
        call.before_attempt = [&sink] { sink.rewind(); };
        call.on_body = [&sink](const char* d, std::size_t n) { return sink.write(d, n); };
        call.on_progress = [&](std::uint64_t) {
            if (options.progress) options.progress(received.load(), total);
        };
        return call;
    };

    // A whole object that is not the first part of a larger one, or an explicit range.
    const std::uint64_t first_last = options.range ? options.range->second : part_size - 1;
    const std::uint64_t first_first = options.range ? options.range->first : 0;
    FileSink first_sink{fd, &dest, 0, 0, &received};
    S3Call first = ranged_call(first_first, first_last, first_sink, options.if_match);
    first.validate = [&](const http::Response& r) {
        if (r.status == 416) return true;
        if (r.status == 200) return r.body_bytes == first_sink.written;  // the server sent it all
        const auto cr = parse_content_range(r.header("content-range"));
        return cr && cr->first == first_first && r.body_bytes == cr->last - cr->first + 1;
    };
    auto resp = client_.send(first, {416});
    if (resp.status == 416) {
        if (options.range) {
            throw StoreError(ErrorKind::InvalidArgument, "byte range outside object " + url_for(key));
        }
        // An empty object has no byte 0: read it whole.
        S3Call whole{op, "GET", key, query, {}, {}, {}, {}, {}, {}, {}};
        if (options.if_match) whole.headers.emplace_back("if-match", *options.if_match);
        resp = client_.send(whole);
        if (!resp.body.empty()) fs::write_all(fd, resp.body.data(), resp.body.size(), dest);
        return object_info(key, resp);
    }
    ObjectInfo info = object_info(key, resp);
    if (resp.status == 206) {
        total = parse_content_range(resp.header("content-range"))->total;
    } else {
        total = first_sink.written;
    }
    info.size = total;
    if (options.range) return info;

    if (total > part_size) {
        const std::uint64_t parts = (total - part_size + part_size - 1) / part_size;
        parallel_for(parts, client_.settings().concurrency, [&](std::size_t i) {
            const std::uint64_t start = part_size * (i + 1);
            const std::uint64_t last = std::min(total, start + part_size) - 1;
            FileSink sink{fd, &dest, start, 0, &received};
            S3Call call = ranged_call(start, last, sink, info.etag);
            call.validate = [&, start, last](const http::Response& r) {
                const auto cr = parse_content_range(r.header("content-range"));
                return r.status == 206 && cr && cr->first == start && cr->last == last && cr->total == total &&
                       sink.written == last - start + 1;
            };
            client_.send(call);
        });
    }
    if (!info.checksum.empty()) {
        // Every byte came from the ETag of the first response; now check them all.
        if (xxh128_file_hex(dest) != info.checksum) {
            throw StoreError(ErrorKind::Corrupt, "the download of " + url_for(key) +
                                                     " does not match the checksum k9 recorded at upload; "
                                                     "the object or the transfer is damaged");
        }
    }
    if (options.progress) options.progress(total, total);
    return info;
}

std::string S3Store::get_bytes(const std::string& key, ObjectInfo* info) {
    validate_key(key);
    S3Call call{"GetObject", "GET", key, {}, {}, {}, {}, {}, {}, {}, {}};
    auto resp = client_.send(call);
    ObjectInfo got = object_info(key, resp);
    if (resp.body.size() != got.size || (!got.checksum.empty() && xxh128_hex(resp.body) != got.checksum)) {
        throw StoreError(ErrorKind::Corrupt, url_for(key) + " does not match its checksum or size");
    }
    if (info != nullptr) *info = got;
    return std::move(resp.body);
}

std::vector<ObjectInfo> S3Store::list(const std::string& prefix, const std::string& start_after,
                                      std::size_t max_keys) {
    const std::string root = location_.prefix.empty() ? "" : location_.prefix + "/";
    std::vector<ObjectInfo> out;
    std::string token;
    for (;;) {
        S3Call call{"ListObjectsV2", "GET", "", {{"list-type", "2"}, {"prefix", root + prefix}}, {}, {}, {}, {}, {}, {}, {}};
        if (!start_after.empty()) call.query.emplace_back("start-after", root + start_after);
        if (!token.empty()) call.query.emplace_back("continuation-token", token);
        if (max_keys != 0) call.query.emplace_back("max-keys", std::to_string(std::min<std::size_t>(max_keys - out.size(), 1000)));
        const auto page = parse_list_objects_v2(client_.send(call).body);
        for (auto o : page.objects) {
            if (o.key.compare(0, root.size(), root) != 0) continue;
            o.key = o.key.substr(root.size());
            out.push_back(std::move(o));
            if (max_keys != 0 && out.size() >= max_keys) return out;
        }
        if (!page.truncated) return out;
        token = page.next_continuation_token;
    }
}

void S3Store::remove(const std::string& key) {
    validate_key(key);
    S3Call call{"DeleteObject", "DELETE", key, {}, {}, {}, {}, {}, {}, {}, {}};
    client_.send(call, {404});
}

std::vector<VersionInfo> S3Store::list_versions(const std::string& key) {
    validate_key(key);
    const std::string full = client_.full_key(key);
    std::vector<VersionInfo> out;
    std::string key_marker, version_marker;
    for (;;) {
        S3Call call{"ListObjectVersions", "GET", "", {{"versions", ""}, {"prefix", full}}, {}, {}, {}, {}, {}, {}, {}};
        if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
        if (!version_marker.empty()) call.query.emplace_back("version-id-marker", version_marker);
        const auto page = parse_list_object_versions(client_.send(call).body);
        for (auto v : page.versions) {
            if (v.key != full) continue;
            v.key = key;
            out.push_back(std::move(v));
        }
        if (!page.truncated) break;
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
    std::stable_sort(out.begin(), out.end(), [](const VersionInfo& a, const VersionInfo& b) {
        return a.last_modified > b.last_modified;
    });
    return out;
}

std::shared_ptr<S3Store> make_s3_store(const config::StoreLocation& location, const config::S3Settings& settings,
                                       const config::EnvLookup& env) {
    auto http = std::make_shared<http::Client>();
    std::shared_ptr<CredentialsProvider> creds = default_credentials_chain(env, http_fetch(http));
    return std::make_shared<S3Store>(location, settings, std::move(creds));
}

}  // namespace k9::store::s3
