#include "common/fs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace k9::fs {

IoError::IoError(std::string what, int errno_value)
    : std::runtime_error(std::move(what)), errno_(errno_value) {}

void throw_errno(std::string_view op, const stdfs::path& path) {
    const int e = errno;
    throw IoError(std::string(op) + " " + path.string() + ": " + std::strerror(e), e);
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

TempFile::TempFile(const stdfs::path& dir, std::string_view stem) {
    std::string pattern = (dir / (std::string(stem) + ".XXXXXX.tmp")).string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const int fd = ::mkstemps(buf.data(), 4);
    if (fd < 0) throw_errno("create temporary file", pattern);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    fd_ = Fd(fd);
    path_ = buf.data();
}

TempFile::TempFile(TempFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::move(other.fd_)), owned_(other.owned_) {
    other.owned_ = false;
}

TempFile::~TempFile() {
    fd_ = Fd();
    if (owned_ && !path_.empty()) ::unlink(path_.c_str());
}

void TempFile::commit_to(const stdfs::path& target) {
    fsync_fd(fd_.get(), path_);
    fd_ = Fd();
    if (::rename(path_.c_str(), target.c_str()) != 0) throw_errno("rename to " + target.string(), path_);
    owned_ = false;
    fsync_dir(target.parent_path());
}

stdfs::path TempFile::release() {
    fd_ = Fd();
    owned_ = false;
    return path_;
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

std::int64_t file_size_or_negative(const stdfs::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return -1;
    return st.st_size;
}

}  // namespace k9::fs
