#include "store/s3/download.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <thread>
#include <vector>

#include "common/checksum.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "store/s3/object_headers.hpp"

namespace k9::store::s3 {
namespace {

bool content_range_is(const http::Response& r, std::uint64_t first, std::uint64_t last,
                      std::uint64_t total) {
    return r.status == 206 && content_range(r) == ContentRange{first, last, total};
}

}  // namespace

Download::Download(S3Client& client, std::string key, int fd, std::filesystem::path dest,
                   const GetOptions& options)
    : client_(client),
      key_(std::move(key)),
      fd_(fd),
      dest_(std::move(dest)),
      options_(options),
      op_(options.version_id ? "GetObjectVersion" : "GetObject"),
      part_size_(client.settings().part_size) {
    if (options.version_id) query_.emplace_back("versionId", *options.version_id);
}

void Download::report() {
    if (options_.progress) options_.progress(received_.load(), total_);
}

bool Download::write_at(const char* data, std::size_t size, std::uint64_t offset) {
    if (write_failed_) return false;
    try {
        fs::pwrite_all(fd_, data, size, offset, dest_);
        return true;
    } catch (const fs::IoError&) {
        std::lock_guard lock(write_error_mutex_);
        if (!write_error_) write_error_ = std::current_exception();
        write_failed_ = true;
        return false;
    }
}

bool Download::write_stream(const char* data, std::size_t size) {
    std::lock_guard lock(mutex_);
    if (stream_pos_ >= stream_end_) return false;
    const std::size_t take =
        static_cast<std::size_t>(std::min<std::uint64_t>(size, stream_end_ - stream_pos_));
    if (!write_at(data, take, stream_pos_)) return false;
    if (stream_pos_ == 0) first_byte_ms_ = monotonic_ms();
    stream_pos_ += take;
    changed_.notify_all();  // the hasher follows
    received_ += take;
    return take == size;  // false: the workers own what follows
}

void Download::stream() {
    S3Call call(op_, "GET", key_, query_);
    call.attempt_headers = [this] {
        std::lock_guard lock(mutex_);
        http::Headers h;
        if (stream_pos_ > 0) {  // resume after a broken stream
            h.emplace_back("range", "bytes=" + std::to_string(stream_pos_) + "-" +
                                        std::to_string(stream_end_ - 1));
            h.emplace_back("if-match", info_.etag);
        } else if (options_.if_match) {
            h.emplace_back("if-match", *options_.if_match);
        }
        return h;
    };
    call.on_headers = [this](int, const http::Headers& headers) {
        std::lock_guard lock(mutex_);
        if (have_headers_) return;
        http::Response r;
        r.headers = headers;
        info_ = object_info(key_, r);
        total_ = info_.size;
        stream_end_ = std::min(stream_end_, total_);
        have_headers_ = true;
        changed_.notify_all();
    };
    call.on_body = [this](const char* d, std::size_t n) { return write_stream(d, n); };
    call.on_progress = [this](std::uint64_t) { report(); };
    call.validate = [this](const http::Response&) {
        std::lock_guard lock(mutex_);
        return !have_headers_ || stream_pos_ == stream_end_;  // short: resume (no headers: empty)
    };
    try {
        const http::Response r = client_.send(call);
        std::lock_guard lock(mutex_);
        if (!have_headers_) {  // an empty object: no body, so no on_headers
            info_ = object_info(key_, r);
            total_ = info_.size;
            stream_end_ = total_;
            have_headers_ = true;
        }
    } catch (const http::TransportError& e) {
        if (!e.stopped_by_receiver) stream_error_ = std::current_exception();
    } catch (...) {
        stream_error_ = std::current_exception();
    }
    std::lock_guard lock(mutex_);
    stream_done_ = true;
    changed_.notify_all();
}

std::optional<Download::Part> Download::claim() {
    std::lock_guard lock(mutex_);
    if (stream_end_ == UINT64_MAX || stream_end_ == 0) return std::nullopt;
    const std::uint64_t start = (stream_end_ - 1) / part_size_ * part_size_;
    // Leave the stream a margin so that it is never overtaken mid-write.
    if (stream_done_ || write_failed_ || start < stream_pos_ + part_size_ / 2) return std::nullopt;
    const Part part{start, stream_end_ - 1};
    stream_end_ = start;
    return part;
}

void Download::fetch(Part part) {
    S3Call call(op_, "GET", key_, query_,
                {{"range", "bytes=" + std::to_string(part.first) + "-" + std::to_string(part.last)},
                 {"if-match", info_.etag}});
    std::uint64_t written = 0;
    bool ok = true;
    call.before_attempt = [&] {
        received_ -= written;
        written = 0;
        ok = true;
    };
    call.on_body = [&](const char* d, std::size_t n) {
        if (written + n > part.last - part.first + 1) return ok = false;
        ok = write_at(d, n, part.first + written);
        written += n;
        received_ += n;
        return ok;
    };
    call.on_progress = [this](std::uint64_t) { report(); };
    call.validate = [&](const http::Response& r) {
        return ok && written == part.last - part.first + 1 &&
               content_range_is(r, part.first, part.last, total_);
    };
    client_.send(call);
}

void Download::steal() {
    try {
        while (auto part = claim()) fetch(*part);
    } catch (...) {
        std::lock_guard lock(mutex_);
        if (!worker_error_) worker_error_ = std::current_exception();
        stream_end_ = 0;  // stop everyone: the download has failed
    }
}

// Hashes the file on its own thread, right behind the stream (the bytes are still in
// the page cache), so the checksum costs no extra time when the network is the limit.
// When the stream is done it hashes the rest, which the workers wrote.
void Download::hash_behind_stream() {
    try {
        const fs::Fd in = fs::open_read(dest_);
        std::vector<char> buf(4u << 20);
        std::uint64_t hashed = 0;
        for (;;) {
            std::uint64_t upto;
            {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return stream_pos_ > hashed || all_written_; });
                upto = all_written_ ? total_ : stream_pos_;
            }
            if (hashed >= upto) break;
            while (hashed < upto) {
                const auto want =
                    static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), upto - hashed));
                const std::size_t n = fs::pread_full(in.get(), buf.data(), want, hashed, dest_);
                if (n == 0)
                    throw StoreError(ErrorKind::Corrupt,
                                     "the download of " + client_.url_for(key_) + " is short");
                hash_.update(buf.data(), n);
                hashed += n;
            }
        }
    } catch (...) {
        hash_error_ = std::current_exception();
    }
}

ObjectInfo Download::run() {
    const double started = monotonic_ms();
    std::thread main([this] { stream(); });
    {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return have_headers_ || stream_done_; });
    }
    std::thread hasher;
    if (!info_.checksum.empty()) hasher = std::thread([this] { hash_behind_stream(); });
    const auto& s = client_.settings();
    std::vector<std::thread> workers;
    if (total_ > 2 * part_size_ && s.parallel_below_mbps > 0 && s.concurrency > 1) {
        // Measure the stream from its first byte, so that the server's time to start
        // is not mistaken for a slow connection.
        std::unique_lock lock(mutex_);
        changed_.wait_for(lock, std::chrono::milliseconds(s.download_probe_ms),
                          [this] { return stream_done_ || stream_pos_ > 0; });
        const double from = stream_pos_ > 0 ? first_byte_ms_ : started;
        changed_.wait_for(lock, std::chrono::milliseconds(s.download_probe_ms),
                          [this] { return stream_done_; });
        const double seconds = std::max(1e-3, (monotonic_ms() - from) / 1000.0);
        const double mbps = static_cast<double>(stream_pos_) / 1e6 / seconds;
        if (!stream_done_ && mbps < s.parallel_below_mbps) {
            lock.unlock();
            log::debug("Adding parallel ranged GETs to a slow download",
                       {{"object", client_.url_for(key_)}, {"stream_mbps", mbps}});
            for (int i = 1; i < s.concurrency; ++i) workers.emplace_back([this] { steal(); });
        }
    }
    for (auto& w : workers) w.join();
    main.join();
    {
        std::lock_guard lock(mutex_);
        all_written_ = true;
        changed_.notify_all();
    }
    if (hasher.joinable()) hasher.join();
    if (write_error_) std::rethrow_exception(write_error_);  // the local disk, not the store
    if (worker_error_) std::rethrow_exception(worker_error_);
    if (stream_error_) std::rethrow_exception(stream_error_);
    if (stream_pos_ != stream_end_) {
        throw StoreError(ErrorKind::Transient,
                         "the download of " + client_.url_for(key_) + " ended early");
    }
    if (hash_error_) std::rethrow_exception(hash_error_);
    if (!info_.checksum.empty() && hash_.hex() != info_.checksum) {
        throw StoreError(ErrorKind::Corrupt,
                         "the download of " + client_.url_for(key_) +
                             " does not match the checksum k9 recorded at upload; "
                             "the object or the transfer is damaged");
    }
    report();
    return info_;
}

}  // namespace k9::store::s3
