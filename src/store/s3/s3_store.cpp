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
#include "store/s3/download.hpp"
#include "store/s3/object_headers.hpp"

namespace k9::store::s3 {
namespace stdfs = std::filesystem;

namespace {

constexpr int kDownloadRestarts = 2;  // the object changed mid-download: start over this often

// Sorts a listing of versions by key, then newest first. S3 sends that order, its
// delete markers among the versions; moto sends a key's delete markers after all its
// versions, and times with 1 s resolution: sorting by time repairs that, except within
// one second, where S3's own order is kept, the current version first.
void sort_newest_first(std::vector<VersionInfo>& versions) {
    auto newer = [](const VersionInfo& a, const VersionInfo& b) {
        if (a.key != b.key) return a.key < b.key;
        if (a.last_modified != b.last_modified) return a.last_modified > b.last_modified;
        return a.is_latest && !b.is_latest;
    };
    std::stable_sort(versions.begin(), versions.end(), newer);
}

// A ranged GET (options.range) into `fd` from its start, retried whole. A write that
// fails throws fs::IoError for `dest` at once (curl's callbacks must not throw, so the
// callback keeps it and ends the transfer).
ObjectInfo download_range(S3Client& client, const std::string& key, int fd, const stdfs::path& dest,
                          const GetOptions& options) {
    // No structured binding: clang 14 cannot capture one.
    const std::uint64_t first = options.range->first;
    const std::uint64_t last = options.range->second;
    if (first > last) {
        throw StoreError(ErrorKind::InvalidArgument, "byte range " + std::to_string(first) + "-" +
                                                         std::to_string(last) + " is empty");
    }
    S3Call call(options.version_id ? "GetObjectVersion" : "GetObject", "GET", key, {},
                {{"range", "bytes=" + std::to_string(first) + "-" + std::to_string(last)}});
    if (options.version_id) call.query.emplace_back("versionId", *options.version_id);
    if (options.if_match) call.headers.emplace_back("if-match", *options.if_match);
    std::uint64_t written = 0;
    std::exception_ptr write_error;
    call.before_attempt = [&] { written = 0; };
    call.on_body = [&](const char* d, std::size_t n) {
        try {
            fs::pwrite_all(fd, d, n, written, dest);
        } catch (const fs::IoError&) {
            write_error = std::current_exception();
            return false;
        }
        written += n;
        return true;
    };
    call.validate = [&](const http::Response& r) {
        const auto cr = content_range(r);
        return r.status == 200 || (cr && cr->first == first && written == cr->last - cr->first + 1);
    };
    http::Response resp;
    try {
        resp = client.send(call, {416});
    } catch (const http::TransportError&) {
        if (write_error) std::rethrow_exception(write_error);  // the local disk, not the store
        throw;
    }
    if (resp.status == 416) {
        throw StoreError(ErrorKind::InvalidArgument,
                         "byte range outside object " + client.url_for(key));
    }
    ObjectInfo info = object_info(key, resp);
    if (const auto cr = content_range(resp)) info.size = cr->total;
    return info;
}

}  // namespace

S3Store::S3Store(const store::StoreLocation& location, store::S3Settings settings,
                 std::shared_ptr<CredentialsProvider> credentials, const Clock& clock)
    : location_(location),
      client_(location, std::move(settings), std::move(credentials), clock),
      clock_(clock) {}

ObjectInfo S3Store::head(const std::string& key) {
    validate_key(key);
    S3Call call("HeadObject", "HEAD", key);
    const auto resp = client_.send(call, {404});
    if (resp.status == 404) throw StoreError(ErrorKind::NotFound, "no object at " + url_for(key));
    return object_info(key, resp);
}

ObjectInfo S3Store::get_file(const std::string& key, const stdfs::path& dest,
                             const GetOptions& options) {
    validate_key(key);
    const int raw = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (raw < 0) fs::throw_errno("open for writing", dest);
    fs::Fd fd(raw);
    if (options.range) return download_range(client_, key, fd.get(), dest, options);
    for (int restart = 0;; ++restart) {
        try {
            return Download(client_, key, fd.get(), dest, options).run();
        } catch (const StoreError& e) {
            // A part's If-Match failed: the object was replaced while we read it.
            const bool changed = e.is_precondition_failed() && !options.if_match;
            if (!changed || restart >= kDownloadRestarts) throw;
            log::warning("The object changed during the download; starting over",
                         {{"object", url_for(key)}});
            if (::ftruncate(fd.get(), 0) != 0) fs::throw_errno("truncate", dest);
        }
    }
}

std::string S3Store::get_bytes(const std::string& key, ObjectInfo* info) {
    validate_key(key);
    S3Call call("GetObject", "GET", key);
    auto resp = client_.send(call);
    ObjectInfo got = object_info(key, resp);
    if (resp.body.size() != got.size ||
        (!got.checksum.empty() && xxh128_hex(resp.body) != got.checksum)) {
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
        S3Call call("ListObjectsV2", "GET", "", {{"list-type", "2"}, {"prefix", root + prefix}});
        if (!start_after.empty()) call.query.emplace_back("start-after", root + start_after);
        if (!token.empty()) call.query.emplace_back("continuation-token", token);
        if (max_keys != 0)
            call.query.emplace_back(
                "max-keys", std::to_string(std::min<std::size_t>(max_keys - out.size(), 1000)));
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
    S3Call call("DeleteObject", "DELETE", key);
    client_.send(call, {404});
}

std::vector<VersionInfo> S3Store::versions_under(const std::string& full_prefix) {
    std::vector<VersionInfo> out;
    std::string key_marker, version_marker;
    for (;;) {
        S3Call call("ListObjectVersions", "GET", "", {{"versions", ""}, {"prefix", full_prefix}});
        if (!key_marker.empty()) call.query.emplace_back("key-marker", key_marker);
        if (!version_marker.empty()) call.query.emplace_back("version-id-marker", version_marker);
        auto page = parse_list_object_versions(client_.send(call).body);
        out.insert(out.end(), std::make_move_iterator(page.versions.begin()),
                   std::make_move_iterator(page.versions.end()));
        if (!page.truncated) return out;
        if (page.next_key_marker.empty()) {
            throw StoreError(ErrorKind::Transient,
                             "S3 said the version listing is truncated but gave no key marker");
        }
        key_marker = page.next_key_marker;
        version_marker = page.next_version_id_marker;
    }
}

std::vector<VersionInfo> S3Store::list_versions(const std::string& key) {
    validate_key(key);
    const std::string full = client_.full_key(key);
    std::vector<VersionInfo> out;
    for (auto& v : versions_under(full)) {
        if (v.key != full) continue;
        v.key = key;
        out.push_back(std::move(v));
    }
    sort_newest_first(out);
    return out;
}

std::vector<VersionInfo> S3Store::list_all_versions(const std::string& prefix) {
    const std::string root = location_.prefix.empty() ? "" : location_.prefix + "/";
    std::vector<VersionInfo> out;
    for (auto& v : versions_under(root + prefix)) {
        if (v.key.compare(0, root.size(), root) != 0) continue;
        v.key = v.key.substr(root.size());
        out.push_back(std::move(v));
    }
    sort_newest_first(out);
    return out;
}

std::shared_ptr<S3Store> make_s3_store(const store::StoreLocation& location,
                                       const store::S3Settings& settings,
                                       const k9::EnvLookup& env) {
    auto http = std::make_shared<http::Client>();
    std::shared_ptr<CredentialsProvider> creds = default_credentials_chain(env, http_fetch(http));
    return std::make_shared<S3Store>(location, settings, std::move(creds));
}

}  // namespace k9::store::s3
