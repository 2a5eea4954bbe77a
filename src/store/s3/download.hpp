#pragma once
// One S3 download into a file: a single streaming GET, helped by parallel ranged GETs
// when one connection is too slow.
//
// The GET of the whole object starts at once and streams into the file in order. If
// the object is larger than two parts and, after a short probe, that stream runs below
// K9_S3_PARALLEL_BELOW_MBPS, worker threads take parts from the end of the object with
// ranged GETs pinned (If-Match) to the ETag of the first response, each part retried
// alone and its Content-Range checked; the stream stops where the workers began. A
// stream that breaks resumes with a ranged GET from its last byte. Fast single streams
// (a nearby server) stay one GET; slow ones (Amazon S3 caps each connection) go
// parallel. k9's checksum is verified at the end.
//
// A write to the file that fails (a full disk, EDQUOT, EIO) ends the whole download at
// once with that fs::IoError (errno and path): it is not the store's failure, and no
// retry would help.

#include <atomic>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>

#include "common/checksum.hpp"
#include "store/object_store.hpp"
#include "store/s3/s3_client.hpp"

namespace k9::store::s3 {

class Download {
  public:
    Download(S3Client& client, std::string key, int fd, std::filesystem::path dest,
             const GetOptions& options);
    ObjectInfo run();

  private:
    struct Part {
        std::uint64_t first, last;
    };
    void stream();
    // Writes received bytes at `offset`; false (after keeping the IoError for run()) when
    // the file cannot take them, or when another write already failed.
    bool write_at(const char* data, std::size_t size, std::uint64_t offset);
    bool write_stream(const char* data, std::size_t size);
    std::optional<Part> claim();
    void steal();
    void fetch(Part part);
    void report();
    void hash_behind_stream();

    S3Client& client_;
    std::string key_;
    int fd_;
    std::filesystem::path dest_;
    const GetOptions& options_;
    std::string op_;
    Query query_;
    std::uint64_t part_size_;

    std::mutex mutex_;
    std::condition_variable changed_;
    bool have_headers_ = false;
    bool stream_done_ = false;
    std::exception_ptr stream_error_;
    std::exception_ptr worker_error_;
    ObjectInfo info_;
    std::uint64_t total_ = 0;
    std::uint64_t stream_pos_ = 0;           // bytes written in order from the start
    std::uint64_t stream_end_ = UINT64_MAX;  // the stream stops here; workers own what follows
    std::atomic<std::uint64_t> received_{0};
    std::mutex write_error_mutex_;  // write_at runs under mutex_ (stream) and without (workers)
    std::exception_ptr write_error_;
    std::atomic<bool> write_failed_{false};
    Xxh128 hash_;  // by the hasher thread only
    std::exception_ptr hash_error_;
    bool all_written_ = false;
    double first_byte_ms_ = 0;
};

}  // namespace k9::store::s3
