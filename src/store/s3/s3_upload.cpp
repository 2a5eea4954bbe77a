// S3Store writes: single PUT, multipart upload, preconditions, checksums, encryption.
#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "common/checksum.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "store/key.hpp"
#include "store/s3/object_headers.hpp"
#include "store/s3/s3_store.hpp"

namespace k9::store::s3 {
namespace stdfs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxParts = 10000;

// One pass over the file: XXH3-128 of the whole, CRC32C of each part (or of the whole).
struct FileSums {
    std::string checksum;
    std::vector<std::string> part_crcs;  // base64
    std::string whole_crc;
};

FileSums sum_file(const stdfs::path& path, std::uint64_t size, std::uint64_t part_size) {
    fs::Fd fd = fs::open_read(path);
    FileSums sums;
    Xxh128 xxh;
    Crc32c whole, part;
    std::vector<char> buf(4u << 20);
    std::uint64_t offset = 0, in_part = 0;
    while (offset < size) {
        const std::size_t want = static_cast<std::size_t>(
            std::min<std::uint64_t>({buf.size(), size - offset, part_size - in_part}));
        const std::size_t n = fs::pread_full(fd.get(), buf.data(), want, offset, path);
        if (n == 0)
            throw StoreError(ErrorKind::InvalidArgument,
                             path.string() + " shrank while it was read");
        xxh.update(buf.data(), n);
        whole.update(buf.data(), n);
        part.update(buf.data(), n);
        offset += n;
        in_part += n;
        if (in_part == part_size || offset == size) {
            sums.part_crcs.push_back(part.base64());
            part = Crc32c();
            in_part = 0;
        }
    }
    sums.checksum = xxh.hex();
    sums.whole_crc = whole.base64();
    return sums;
}

http::Headers precondition_headers(const Precondition& p) {
    switch (p.kind) {
        case Precondition::Kind::IfNoneMatchAny:
            return {{"if-none-match", "*"}};
        case Precondition::Kind::IfMatch:
            return {{"if-match", p.etag}};
        case Precondition::Kind::None:
            break;
    }
    return {};
}

// S3 answers a conditional write on a missing object with 404; the contract says 412.
http::Response send_write(S3Client& client, const S3Call& call, const Precondition& pre) {
    try {
        return client.send(call);
    } catch (const StoreError& e) {
        if (e.is_not_found() && pre.kind == Precondition::Kind::IfMatch) {
            throw StoreError(
                ErrorKind::PreconditionFailed,
                client.url_for(call.key) + " does not exist (expected ETag " + pre.etag + ")");
        }
        throw;
    }
}

// The new object's info from the reply to its PUT (or CompleteMultipartUpload), which
// carries no Last-Modified: the server's Date stands in for it, the local clock only
// when the server sends no Date.
ObjectInfo written(const std::string& key, std::uint64_t size, const http::Response& r,
                   const PutOptions& options, const std::string& checksum, std::int64_t local_now) {
    ObjectInfo info;
    info.key = key;
    info.size = size;
    info.etag = r.header("etag").value_or("");
    info.version_id = r.header("x-amz-version-id").value_or("");
    info.server_time = server_time(r);
    info.last_modified = info.server_time != 0 ? info.server_time : local_now;
    info.metadata = options.metadata;
    info.checksum = checksum;
    return info;
}

}  // namespace

http::Headers S3Store::write_headers(const PutOptions& options, const std::string& checksum) const {
    http::Headers h = metadata_headers(options.metadata, checksum);
    const auto& s = client_.settings();
    if (!s.sse.empty()) h.emplace_back("x-amz-server-side-encryption", s.sse);
    if (!s.sse_kms_key_id.empty())
        h.emplace_back("x-amz-server-side-encryption-aws-kms-key-id", s.sse_kms_key_id);
    return h;
}

ObjectInfo S3Store::put_bytes(std::string_view bytes, const std::string& key,
                              const PutOptions& options) {
    validate_key(key);
    validate_metadata(options.metadata);
    const std::string checksum = xxh128_hex(bytes);
    Crc32c crc;
    crc.update(bytes.data(), bytes.size());
    S3Call call("PutObject", "PUT", key, {}, write_headers(options, checksum), std::string(bytes));
    call.headers.emplace_back("content-type", "application/octet-stream");
    call.headers.emplace_back("x-amz-checksum-crc32c", crc.base64());
    call.headers.emplace_back("x-amz-sdk-checksum-algorithm", "CRC32C");
    for (auto& h : precondition_headers(options.precondition)) call.headers.push_back(h);
    const auto resp = send_write(client_, call, options.precondition);
    return written(key, bytes.size(), resp, options, checksum, clock_());
}

ObjectInfo S3Store::put_file(const stdfs::path& src, const std::string& key,
                             const PutOptions& options) {
    validate_key(key);
    validate_metadata(options.metadata);
    const auto size = fs::file_size_if_exists(src);
    if (!size)
        throw StoreError(ErrorKind::InvalidArgument, "cannot read upload source " + src.string());
    const std::uint64_t usize = *size;
    const auto& s = client_.settings();
    const bool multipart = usize > s.multipart_threshold;
    const std::uint64_t part_size =
        multipart ? std::max<std::uint64_t>(s.part_size, (usize + kMaxParts - 1) / kMaxParts)
                  : std::max<std::uint64_t>(usize, 1);
    const FileSums sums = sum_file(src, usize, part_size);
    if (multipart)
        return put_multipart(src, usize, key, options, sums.checksum, sums.part_crcs, part_size);

    S3Call call("PutObject", "PUT", key, {}, write_headers(options, sums.checksum));
    call.body_file = http::FileSpan{src, 0, usize};
    call.headers.emplace_back("content-type", "application/octet-stream");
    call.headers.emplace_back("x-amz-checksum-crc32c", sums.whole_crc);
    call.headers.emplace_back("x-amz-sdk-checksum-algorithm", "CRC32C");
    for (auto& h : precondition_headers(options.precondition)) call.headers.push_back(h);
    if (options.progress) call.on_progress = [&](std::uint64_t n) { options.progress(n, usize); };
    const auto resp = send_write(client_, call, options.precondition);
    return written(key, usize, resp, options, sums.checksum, clock_());
}

ObjectInfo S3Store::put_multipart(const stdfs::path& src, std::uint64_t size,
                                  const std::string& key, const PutOptions& options,
                                  const std::string& checksum,
                                  const std::vector<std::string>& part_crcs,
                                  std::uint64_t part_size) {
    // Fail before sending gigabytes that would be refused. The atomic check is the
    // precondition header on CompleteMultipartUpload (Amazon S3 enforces it; some
    // S3-compatible stores ignore it, and then this check is all there is).
    const Precondition& pre = options.precondition;
    if (pre.kind != Precondition::Kind::None) {
        const auto current = head_if_exists(key);
        if (pre.kind == Precondition::Kind::IfNoneMatchAny && current) {
            throw StoreError(ErrorKind::PreconditionFailed,
                             url_for(key) + " already exists (create-only write refused)");
        }
        if (pre.kind == Precondition::Kind::IfMatch && (!current || current->etag != pre.etag)) {
            throw StoreError(ErrorKind::PreconditionFailed,
                             url_for(key) + " changed: expected ETag " + pre.etag + ", found " +
                                 (current ? current->etag : "no object"));
        }
    }
    S3Call create("CreateMultipartUpload", "POST", key, {{"uploads", ""}},
                  write_headers(options, checksum));
    create.headers.emplace_back("content-type", "application/octet-stream");
    create.headers.emplace_back("x-amz-checksum-algorithm", "CRC32C");
    const std::string upload_id = parse_initiate_multipart(client_.send(create).body);

    auto abort = [&] {
        try {
            S3Call call("AbortMultipartUpload", "DELETE", key, {{"uploadId", upload_id}});
            client_.send(call, {404});
        } catch (const StoreError& e) {
            log::error(
                "Could not abort a failed multipart upload; its parts stay until a bucket "
                "lifecycle "
                "rule removes them",
                {{"object", url_for(key)}, {"upload_id", upload_id}, {"error", e.what()}});
        }
    };

    const std::size_t count = part_crcs.size();
    std::vector<CompletedPart> parts(count);
    std::atomic<std::size_t> next{0};
    std::atomic<std::uint64_t> sent{0};
    std::mutex error_mutex;
    std::exception_ptr error;
    auto worker = [&] {
        for (std::size_t i = next++; i < count && !error; i = next++) {
            try {
                const std::uint64_t offset = part_size * i;
                const std::uint64_t length = std::min(part_size, size - offset);
                S3Call call("UploadPart", "PUT", key,
                            {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}},
                            {{"x-amz-checksum-crc32c", part_crcs[i]}});
                call.body_file = http::FileSpan{src, offset, length};
                std::uint64_t mine = 0;
                call.before_attempt = [&] { sent -= mine, mine = 0; };
                call.on_progress = [&](std::uint64_t n) {
                    sent += n - mine;
                    mine = n;
                    if (options.progress) options.progress(sent.load(), size);
                };
                const auto resp = client_.send(call);
                parts[i] = CompletedPart{static_cast<int>(i + 1), resp.header("etag").value_or(""),
                                         part_crcs[i]};
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!error) error = std::current_exception();
            }
        }
    };
    std::vector<std::thread> pool;
    const int threads = static_cast<int>(
        std::min<std::size_t>(count, static_cast<std::size_t>(client_.settings().concurrency)));
    for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    if (error) {
        abort();
        std::rethrow_exception(error);
    }

    S3Call complete("CompleteMultipartUpload", "POST", key, {{"uploadId", upload_id}},
                    precondition_headers(options.precondition), complete_multipart_body(parts));
    complete.headers.emplace_back("content-type", "application/xml");
    // S3 may answer 200 and put the error in the body: retry the retryable ones.
    complete.validate = [&](const http::Response& r) {
        if (auto err = parse_error(r.body)) {
            if (err->code == "InternalError" || err->code == "SlowDown" ||
                err->code == "ServiceUnavailable")
                return false;
            throw StoreError(err->code == "PreconditionFailed" ? ErrorKind::PreconditionFailed
                                                               : ErrorKind::InvalidArgument,
                             "CompleteMultipartUpload " + url_for(key) + " failed: " + err->code +
                                 ": " + err->message);
        }
        return true;
    };
    http::Response resp;
    try {
        resp = send_write(client_, complete, Precondition::none());
    } catch (const StoreError& e) {
        if (e.is_not_found() && options.precondition.kind == Precondition::Kind::IfMatch &&
            !head_if_exists(key)) {
            abort();
            throw StoreError(
                ErrorKind::PreconditionFailed,
                url_for(key) + " does not exist (expected ETag " + options.precondition.etag + ")");
        }
        if (e.is_not_found()) {
            // NoSuchUpload on a retry: the first Complete may have landed with its reply lost.
            if (auto now = head_if_exists(key); now && now->checksum == checksum) return *now;
        }
        abort();
        throw;
    }
    ObjectInfo info = written(key, size, resp, options, checksum, clock_());
    const std::string etag = parse_complete_multipart(resp.body);
    if (!etag.empty()) info.etag = etag;
    return info;
}

}  // namespace k9::store::s3
