// The local disk misbehaving under k9. A download into a full disk fails at once with
// the disk's own error (fs::IoError: errno and path), is not retried and is not called
// a store failure, on both backends; temp files that dead processes left behind are
// reclaimed. The small disks are tmpfs mounts: the tests skip where mounting is refused.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "store/file_store.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"
#include "support/tmpfs.hpp"

namespace k9 {
namespace {

namespace stdfs = std::filesystem;

constexpr std::uint64_t kDiskBytes = 1u << 20;
constexpr std::size_t kObjectBytes = 2u << 20;  // twice the disk, below the multipart threshold

#define SKIP_UNLESS_MOUNTED(disk) \
    if (!(disk).mounted()) GTEST_SKIP() << (disk).why_not()

// The IoError `fn` throws; fails the test when it throws something else or nothing.
std::optional<fs::IoError> io_error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const fs::IoError& e) {
        return e;
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected fs::IoError, got: " << e.what();
        return std::nullopt;
    }
    ADD_FAILURE() << "expected fs::IoError, but the download succeeded";
    return std::nullopt;
}

// Downloads `key` into a temp file on `disk`, as a cold start does, and checks that it
// fails as a full disk, naming the file; the temp file is gone afterwards.
void expect_disk_full(store::ObjectStore& store, const std::string& key, const test::Tmpfs& disk,
                      const store::GetOptions& options = {}) {
    stdfs::path dest;
    {
        fs::TempFile tmp(disk.path(), "k9-download");
        dest = tmp.path();
        const auto error = io_error_of([&] { store.get_file(key, tmp.path(), options); });
        ASSERT_TRUE(error);
        EXPECT_EQ(error->errno_value(), ENOSPC) << error->what();
        EXPECT_EQ(std::string(error->what()),
                  "write " + dest.string() + ": " + std::strerror(ENOSPC));
    }
    EXPECT_TRUE(stdfs::is_empty(disk.path())) << "the temp file is removed: the disk is free again";
}

TEST(LocalDisk, AFileStoreDownloadIntoAFullDiskFailsWithENOSPC) {
    test::Tmpfs disk(kDiskBytes);
    SKIP_UNLESS_MOUNTED(disk);
    test::TempDir tmp;
    store::FileStore store(tmp / "store");
    store.put_bytes(random_bytes(kObjectBytes), "db");
    expect_disk_full(store, "db", disk);
    store::GetOptions ranged;
    ranged.range = {0, kObjectBytes - 1};
    expect_disk_full(store, "db", disk, ranged);
}

class LocalDiskS3 : public ::testing::Test {
  protected:
    void SetUp() override {
        moto_.create_bucket(bucket_);
        settings_ = moto_.settings();
        settings_.parallel_below_mbps = 0;  // one stream, unless a test asks for parallel GETs
    }
    std::shared_ptr<store::s3::S3Store> store_with(const store::S3Settings& settings) {
        auto s = moto_.store(bucket_, "d-" + test::unique_name(), settings);
        s->put_bytes(random_bytes(kObjectBytes), "db");
        return s;
    }

    test::Moto& moto_ = test::Moto::instance();
    std::string bucket_ = "k9-local-disk";
    store::S3Settings settings_;
};

TEST_F(LocalDiskS3, AStreamedDownloadIntoAFullDiskFailsWithENOSPCWithoutRetrying) {
    test::Tmpfs disk(kDiskBytes);
    SKIP_UNLESS_MOUNTED(disk);
    auto store = store_with(settings_);
    const auto before = store->client().counters();
    expect_disk_full(*store, "db", disk);
    EXPECT_EQ(store->client().counters().requests - before.requests, 1u);
    EXPECT_EQ(store->client().counters().retries, before.retries);
}

TEST_F(LocalDiskS3, ARangedDownloadIntoAFullDiskFailsWithENOSPCWithoutRetrying) {
    test::Tmpfs disk(kDiskBytes);
    SKIP_UNLESS_MOUNTED(disk);
    auto store = store_with(settings_);
    store::GetOptions ranged;
    ranged.range = {0, kObjectBytes - 1};
    const auto before = store->client().counters();
    expect_disk_full(*store, "db", disk, ranged);
    EXPECT_EQ(store->client().counters().requests - before.requests, 1u);
    EXPECT_EQ(store->client().counters().retries, before.retries);
}

TEST_F(LocalDiskS3, AParallelDownloadIntoAFullDiskFailsWithENOSPCWithoutRetrying) {
    test::Tmpfs disk(kDiskBytes);
    SKIP_UNLESS_MOUNTED(disk);
    // The whole-object GET is held back, so the ranged part GETs fill the disk.
    test::FaultProxy proxy(moto_.port());
    proxy.add({test::Fault::StallBody, "GET", "", "", 1, 0, "", 500, "range:"});
    auto parallel = settings_;
    parallel.endpoint = proxy.endpoint();
    parallel.part_size = 256u << 10;
    parallel.concurrency = 3;
    parallel.parallel_below_mbps = 1'000'000;
    parallel.download_probe_ms = 0;
    auto store = store_with(parallel);
    const auto before = store->client().counters();
    expect_disk_full(*store, "db", disk);
    EXPECT_GT(store->client().counters().requests - before.requests, 1u) << "ranged GETs ran";
    EXPECT_EQ(store->client().counters().retries, before.retries);
}

std::uint64_t free_bytes(const stdfs::path& dir) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) throw std::runtime_error("statvfs " + dir.string());
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

TEST(LocalDisk, TheTempFileOfAKilledDownloadIsReclaimed) {
    test::Tmpfs disk(kDiskBytes);
    SKIP_UNLESS_MOUNTED(disk);
    constexpr std::size_t kWritten = 900u << 10;
    int ready[2];
    ASSERT_EQ(::pipe(ready), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {  // a download in progress when the process is killed
        fs::TempFile tmp(disk.path(), "k9-download");
        const std::string data(kWritten, 'd');
        fs::write_all(tmp.fd(), data.data(), data.size(), tmp.path());
        fs::write_all(ready[1], "!", 1, "pipe");
        for (;;) ::pause();
    }
    char c;
    ASSERT_EQ(::read(ready[0], &c, 1), 1);
    ::close(ready[0]);
    ::close(ready[1]);
    const std::vector<std::string> stems{"k9-download"};
    EXPECT_EQ(fs::remove_stale_temp_files(disk.path(), stems).files, 0u) << "its owner is alive";
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    ASSERT_LT(free_bytes(disk.path()), kDiskBytes - kWritten + 4096);

    const auto removed = fs::remove_stale_temp_files(disk.path(), stems);
    EXPECT_EQ(removed.files, 1u);
    EXPECT_EQ(removed.bytes, kWritten);
    EXPECT_TRUE(stdfs::is_empty(disk.path()));
    EXPECT_EQ(free_bytes(disk.path()), kDiskBytes);
}

}  // namespace
}  // namespace k9
