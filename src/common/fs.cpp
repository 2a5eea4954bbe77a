#include "common/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

namespace k9::fs {

IoError::IoError(const std::string& what, int errno_value)
    : std::runtime_error(what), errno_(errno_value) {}

void throw_errno(std::string_view op, const stdfs::path& path) {
    const int e = errno;
    throw IoError(std::string(op) + " " + path.string() + ": " +
                      std::error_code(e, std::generic_category()).message(),
                  e);
}

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = other.release();
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

int Fd::release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
}

Fd open_read(const stdfs::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw_errno("open", path);
    return Fd(fd);
}

void fsync_fd(int fd, const stdfs::path& path_for_errors) {
    if (::fsync(fd) != 0) throw_errno("fsync", path_for_errors);
}

void fsync_dir(const stdfs::path& dir) {
    const stdfs::path d = dir.empty() ? stdfs::path(".") : dir;
    const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw_errno("open directory", d);
    Fd guard(fd);
    if (::fsync(fd) != 0) throw_errno("fsync directory", d);
}

void write_all(int fd, const void* data, std::size_t size, const stdfs::path& path_for_errors) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path_for_errors);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

void pwrite_all(int fd, const void* data, std::size_t size, std::uint64_t offset,
                const stdfs::path& path_for_errors) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::pwrite(fd, p, size, static_cast<off_t>(offset));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("write", path_for_errors);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
        offset += static_cast<std::uint64_t>(n);
    }
}

std::size_t pread_full(int fd, void* data, std::size_t size, std::uint64_t offset,
                       const stdfs::path& path_for_errors) {
    char* p = static_cast<char*>(data);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, p + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path_for_errors);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

std::string read_file(const stdfs::path& path) {
    Fd fd = open_read(path);
    std::string out;
    char buf[65536];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", path);
        }
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

void atomic_write(const stdfs::path& path, std::string_view content) {
    TempFile tmp(path.parent_path().empty() ? stdfs::path(".") : path.parent_path(),
                 path.filename().string());
    write_all(tmp.fd(), content.data(), content.size(), tmp.path());
    tmp.commit_to(path);
}

namespace {

constexpr std::string_view kTempSuffix = ".tmp";
constexpr std::size_t kTempRandomChars = 6;  // mkstemps' XXXXXX
constexpr int kTempCreateAttempts = 8;

// Takes the exclusive lock on a file this process has just created. A sweep in another
// process may have locked it first (it was not locked yet) and removed it: then the
// file has no name left and false tells the caller to make another.
bool lock_new_file(int fd, const stdfs::path& path) {
    while (::flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) throw_errno("lock temporary file", path);
    }
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw_errno("stat temporary file", path);
    return st.st_nlink > 0;
}

}  // namespace

TempFile::TempFile(const stdfs::path& dir, std::string_view stem) {
    const std::string pattern = (dir / (std::string(stem) + ".XXXXXX.tmp")).string();
    for (int attempt = 1;; ++attempt) {
        std::vector<char> buf(pattern.begin(), pattern.end());
        buf.push_back('\0');
        Fd fd(::mkostemps(buf.data(), static_cast<int>(kTempSuffix.size()), O_CLOEXEC));
        if (!fd) throw_errno("create temporary file", pattern);
        if (lock_new_file(fd.get(), buf.data())) {
            fd_ = std::move(fd);
            path_ = buf.data();
            return;
        }
        if (attempt == kTempCreateAttempts) {
            throw IoError("create temporary file " + pattern + ": removed by a concurrent sweep " +
                              std::to_string(attempt) + " times; is another process cleaning " +
                              dir.string() + " in a loop?",
                          EAGAIN);
        }
    }
}

TempFile::TempFile(TempFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)), owned_(other.owned_) {
    other.owned_ = false;
}

TempFile::~TempFile() {
    // Unlink while still locked, so that the name never exists unlocked.
    if (owned_ && !path_.empty()) ::unlink(path_.c_str());
    fd_ = Fd();
}

void TempFile::commit_to(const stdfs::path& target) {
    fsync_fd(fd_.get(), path_);
    if (::rename(path_.c_str(), target.c_str()) != 0) {
        throw_errno("rename to " + target.string(), path_);
    }
    owned_ = false;
    fd_ = Fd();
    fsync_dir(target.parent_path());
}

stdfs::path TempFile::release() {
    fd_ = Fd();
    owned_ = false;
    return path_;
}

namespace {

// `<stem>.XXXXXX.tmp`, as TempFile names its files.
bool is_temp_name(std::string_view name, std::string_view stem) {
    if (name.size() != stem.size() + 1 + kTempRandomChars + kTempSuffix.size()) return false;
    if (!name.starts_with(stem) || name[stem.size()] != '.' || !name.ends_with(kTempSuffix)) {
        return false;
    }
    const std::string_view random = name.substr(stem.size() + 1, kTempRandomChars);
    return std::all_of(random.begin(), random.end(),
                       [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
}

// Removes `path` if no process holds its lock; returns its size, or nullopt when it is
// kept (a live owner's, gone already, or not a file this process may remove).
std::optional<std::uint64_t> remove_if_unlocked(const stdfs::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) return std::nullopt;
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return std::nullopt;
    struct stat held {};
    struct stat named {};
    if (::fstat(fd.get(), &held) != 0 || !S_ISREG(held.st_mode)) return std::nullopt;
    // The name must still be this file: its owner may have committed or removed it, and
    // another process may have made a new file of that name, since we opened it.
    if (::lstat(path.c_str(), &named) != 0 || named.st_dev != held.st_dev ||
        named.st_ino != held.st_ino) {
        return std::nullopt;
    }
    if (::unlink(path.c_str()) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(held.st_size);
}

}  // namespace

RemovedTempFiles remove_stale_temp_files(const stdfs::path& dir,
                                         std::span<const std::string> stems) {
    RemovedTempFiles removed;
    std::error_code ec;
    for (stdfs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        const bool ours = std::any_of(stems.begin(), stems.end(), [&](const std::string& stem) {
            return is_temp_name(name, stem);
        });
        if (!ours) continue;
        if (const auto bytes = remove_if_unlocked(it->path())) {
            ++removed.files;
            removed.bytes += *bytes;
        }
    }
    return removed;
}

namespace {
Fd open_lock_file(const stdfs::path& path) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw_errno("open lock file", path);
    return Fd(fd);
}
}  // namespace

FileLock::FileLock(const stdfs::path& path, Mode mode) {
    Fd fd = open_lock_file(path);
    const int op = mode == Mode::Shared ? LOCK_SH : LOCK_EX;
    while (::flock(fd.get(), op) != 0) {
        if (errno != EINTR) throw_errno("lock", path);
    }
    fd_ = std::move(fd);
}

FileLock FileLock::try_lock(const stdfs::path& path, Mode mode) {
    Fd fd = open_lock_file(path);
    const int op = (mode == Mode::Shared ? LOCK_SH : LOCK_EX) | LOCK_NB;
    FileLock lock;
    while (::flock(fd.get(), op) != 0) {
        if (errno == EWOULDBLOCK) return lock;
        if (errno != EINTR) throw_errno("lock", path);
    }
    lock.fd_ = std::move(fd);
    return lock;
}

std::uint64_t copy_into(const stdfs::path& src, int dst_fd, const stdfs::path& dst_for_errors) {
    Fd in = open_read(src);
    std::uint64_t total = 0;
    for (;;) {
        const ssize_t n = ::copy_file_range(in.get(), nullptr, dst_fd, nullptr, 1 << 30, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) break;
            throw_errno("copy to " + dst_for_errors.string(), src);
        }
        if (n == 0) return total;
        total += static_cast<std::uint64_t>(n);
    }
    // Fallback: plain read/write from where copy_file_range stopped.
    std::vector<char> buf(1 << 20);
    for (;;) {
        const ssize_t n = ::read(in.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            throw_errno("read", src);
        }
        if (n == 0) return total;
        write_all(dst_fd, buf.data(), static_cast<std::size_t>(n), dst_for_errors);
        total += static_cast<std::uint64_t>(n);
    }
}

void for_each_chunk(const stdfs::path& path, std::size_t chunk,
                    const std::function<void(const char* data, std::size_t size)>& fn) {
    Fd fd = open_read(path);
    std::vector<char> buf(chunk);
    for (std::uint64_t offset = 0;;) {
        const std::size_t n = pread_full(fd.get(), buf.data(), buf.size(), offset, path);
        if (n == 0) return;
        fn(buf.data(), n);
        offset += n;
    }
}

std::optional<std::uint64_t> file_size_if_exists(const stdfs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace k9::fs
