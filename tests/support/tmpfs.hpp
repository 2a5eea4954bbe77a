#pragma once
// A small tmpfs for one test, to fill a disk on purpose: mounted (`tmpfs -o size=N`) on
// a fresh folder under /tmp, unmounted and removed on destruction. Mounting needs
// CAP_SYS_ADMIN (root, not in every container): tests check mounted() and skip with
// why_not() when it is false.

#include <cstdint>
#include <filesystem>
#include <string>

namespace k9::test {

class Tmpfs {
  public:
    explicit Tmpfs(std::uint64_t size_bytes);
    ~Tmpfs();
    Tmpfs(const Tmpfs&) = delete;
    Tmpfs& operator=(const Tmpfs&) = delete;

    bool mounted() const { return mounted_; }
    // Why the mount failed ("" when mounted), for GTEST_SKIP.
    const std::string& why_not() const { return why_not_; }
    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  private:
    std::filesystem::path path_;
    bool mounted_ = false;
    std::string why_not_;
};

}  // namespace k9::test
