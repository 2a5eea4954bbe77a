#pragma once
// Small POSIX file helpers with the durability rules k9 relies on: a file becomes
// visible under its final name only after its bytes and the directory entry are on
// disk (write temp, fsync, rename, fsync the directory).

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace k9::fs {

namespace stdfs = std::filesystem;

// An operating-system error, with the path and operation in the message.
class IoError : public std::runtime_error {
  public:
    IoError(const std::string& what, int errno_value);
    int errno_value() const { return errno_; }

  private:
    int errno_;
};

// Throws IoError("<op> <path>: <strerror>") for the current errno.
[[noreturn]] void throw_errno(std::string_view op, const stdfs::path& path);

// An open file descriptor, closed on destruction.
class Fd {
  public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    int get() const { return fd_; }
    int release();
    explicit operator bool() const { return fd_ >= 0; }

  private:
    int fd_ = -1;
};

Fd open_read(const stdfs::path& path);
void fsync_fd(int fd, const stdfs::path& path_for_errors);
void fsync_dir(const stdfs::path& dir);
void write_all(int fd, const void* data, std::size_t size, const stdfs::path& path_for_errors);
// Writes all of `data` at `offset`; throws IoError("write <path>: ...") when the file
// cannot take it (ENOSPC, EDQUOT, EIO...).
void pwrite_all(int fd, const void* data, std::size_t size, std::uint64_t offset,
                const stdfs::path& path_for_errors);
// Reads exactly `size` bytes at `offset` unless the file ends first; returns bytes read.
std::size_t pread_full(int fd, void* data, std::size_t size, std::uint64_t offset,
                       const stdfs::path& path_for_errors);

std::string read_file(const stdfs::path& path);
// Writes `content` to `path` atomically and durably (temp in the same dir, fsync, rename,
// fsync dir). Readers see the old or the new content, never a mix.
void atomic_write(const stdfs::path& path, std::string_view content);

// A uniquely named file in `dir`, removed on destruction unless committed.
//
// It holds an exclusive flock on its own descriptor for as long as it exists under its
// temp name: the kernel drops the lock when the owner dies (SIGKILL included), which is
// how remove_stale_temp_files tells a dead owner's file from a live one's.
class TempFile {
  public:
    // Creates and locks `dir/<stem>.XXXXXX.tmp` (dir must exist).
    TempFile(const stdfs::path& dir, std::string_view stem);
    TempFile(TempFile&&) noexcept;
    TempFile& operator=(TempFile&&) = delete;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile();

    const stdfs::path& path() const { return path_; }
    int fd() const { return fd_.get(); }
    // fsync, rename over `target` (still locked: never unlocked under the temp name),
    // close, fsync target's directory.
    void commit_to(const stdfs::path& target);
    // Keeps the file (closes the fd, which drops the lock); the caller now owns the path
    // and must rename or remove it at once: remove_stale_temp_files may take it from now on.
    stdfs::path release();

  private:
    stdfs::path path_;
    Fd fd_;
    bool owned_ = true;
};

// What remove_stale_temp_files removed.
struct RemovedTempFiles {
    std::size_t files = 0;
    std::uint64_t bytes = 0;  // their sizes
};

// Removes from `dir` the temp files whose owner is dead: files named as TempFile names
// them, `<stem>.XXXXXX.tmp` for one of `stems`, whose lock it can take. Files a live
// TempFile holds (in any process), other names and subfolders are left alone. Best
// effort, never throws for one file: a missing `dir`, or a file it cannot open, lock or
// unlink (another user's, say) is skipped. Safe to run while other processes create,
// commit and remove temp files in `dir`.
RemovedTempFiles remove_stale_temp_files(const stdfs::path& dir,
                                         std::span<const std::string> stems);

// An advisory lock (flock) on a lock file, released on destruction. Works between
// processes on one machine; held by the open file description, not the thread.
class FileLock {
  public:
    enum class Mode { Shared, Exclusive };
    // Blocks until the lock is held.
    FileLock(const stdfs::path& path, Mode mode);
    // Returns an unlocked FileLock (owns() == false) if another holder has it.
    static FileLock try_lock(const stdfs::path& path, Mode mode);
    FileLock(FileLock&&) noexcept = default;
    FileLock& operator=(FileLock&&) noexcept = default;
    bool owns() const { return static_cast<bool>(fd_); }

  private:
    FileLock() = default;
    Fd fd_;
};

// Copies `src` to an open `dst_fd` from its start (copy_file_range, falling back to
// read/write). Returns bytes copied.
std::uint64_t copy_into(const stdfs::path& src, int dst_fd, const stdfs::path& dst_for_errors);

// Calls `fn` with the file's bytes, in order, `chunk` bytes at a time (the last may be
// shorter); nothing for an empty file.
void for_each_chunk(const stdfs::path& path, std::size_t chunk,
                    const std::function<void(const char* data, std::size_t size)>& fn);

// Size in bytes; nullopt when the file does not exist (or cannot be stat'ed).
std::optional<std::uint64_t> file_size_if_exists(const stdfs::path& path);

}  // namespace k9::fs
