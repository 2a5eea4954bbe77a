#include "support/tmpfs.hpp"

#include <stdlib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace k9::test {

Tmpfs::Tmpfs(std::uint64_t size_bytes) {
    std::string pattern = (std::filesystem::temp_directory_path() / "k9tmpfs.XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
        throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = buf.data();
    const std::string options = "size=" + std::to_string(size_bytes) + ",mode=0700";
    if (::mount("tmpfs", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
        const int e = errno;
        why_not_ = "cannot mount a " + std::to_string(size_bytes) + "-byte tmpfs on " +
                   path_.string() + " (" + std::strerror(e) +
                   "): the test needs root or CAP_SYS_ADMIN to fill a small disk";
        return;
    }
    mounted_ = true;
}

Tmpfs::~Tmpfs() {
    // Detach: a file still open somewhere must not keep the mount (or the test) alive.
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    ::rmdir(path_.c_str());
}

}  // namespace k9::test
