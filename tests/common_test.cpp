#include <gtest/gtest.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "common/checksum.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/json_integer.hpp"
#include "common/time.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

TEST(JsonInteger, TakesWholeNumbersThatFitAndRefusesTheRest) {
    using nlohmann::json;
    EXPECT_EQ(json_integer<std::int64_t>(json::parse("-9223372036854775808")),
              std::numeric_limits<std::int64_t>::min());
    EXPECT_EQ(json_integer<std::uint64_t>(json::parse("18446744073709551615")),
              std::numeric_limits<std::uint64_t>::max());
    EXPECT_EQ(json_integer<int>(json(7)), 7);
    // get<T>() would convert these with undefined behaviour or silently wrap them.
    for (const char* bad : {"2.2e25", "1.0", "1.5", "\"7\"", "null", "9223372036854775808"})
        EXPECT_THROW(json_integer<std::int64_t>(json::parse(bad)), json::type_error) << bad;
    EXPECT_THROW(json_integer<int>(json::parse("4294967296")), json::type_error);
    EXPECT_THROW(json_integer<std::uint64_t>(json(-1)), json::type_error);
}

TEST(Time, FormatsAndParsesIso8601) {
    EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_iso8601(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
    EXPECT_EQ(parse_iso8601("2023-11-14T22:13:20.123456Z"), 1'700'000'000'123'456);
    EXPECT_EQ(parse_iso8601("2023-11-14T23:13:20+01:00"), 1'700'000'000'000'000);
    EXPECT_EQ(parse_iso8601("2023-11-14T22:13:20.1Z"), 1'700'000'000'100'000);
    EXPECT_FALSE(parse_iso8601("2023-02-30T00:00:00Z"));
    EXPECT_FALSE(parse_iso8601("2023-11-14T22:13:20"));
    EXPECT_FALSE(parse_iso8601("2023-11-14T22:13:20Zjunk"));
    EXPECT_FALSE(parse_iso8601(""));
}

TEST(Time, CalendarDates) {
    EXPECT_TRUE(is_calendar_date("2024-02-29"));
    EXPECT_FALSE(is_calendar_date("2023-02-29"));
    EXPECT_FALSE(is_calendar_date("2024-13-01"));
    EXPECT_FALSE(is_calendar_date("2024-1-01"));
    EXPECT_FALSE(is_calendar_date("2024-01-01T00:00:00Z"));
}

TEST(Hash, KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(to_hex(hmac_sha256("key", "The quick brown fox jumps over the lazy dog")),
              "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(Hash, FileHashMatchesMemoryHash) {
    test::TempDir tmp;
    const std::string data = random_bytes(3'000'001);
    test::spit(tmp / "f", data);
    EXPECT_EQ(sha256_file_hex(tmp / "f"), sha256_hex(data));
}

TEST(Checksum, KnownVectors) {
    // CRC32C check value (RFC 3720 / the CRC catalogue): "123456789" -> 0xE3069283.
    EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
    EXPECT_EQ(crc32c(""), 0u);
    Crc32c parts;
    parts.update("1234", 4);
    parts.update("56789", 5);
    EXPECT_EQ(parts.value(), 0xE3069283u);
    EXPECT_EQ(parts.base64(), "4waSgw==");
    // XXH3-128 of the empty input, as published with xxHash.
    EXPECT_EQ(xxh128_hex(""), "99aa06d3014798d86001c324468d497f");
}

TEST(Checksum, FileChecksumMatchesMemoryChecksum) {
    test::TempDir tmp;
    const std::string data = random_bytes(5'000'003);
    test::spit(tmp / "f", data);
    EXPECT_EQ(xxh128_file_hex(tmp / "f"), xxh128_hex(data));
    EXPECT_NE(xxh128_hex(data), xxh128_hex(data.substr(1)));
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        EXPECT_EQ(base64_decode(base64_encode(s)), s);
        EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
    }
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_THROW(base64_decode("Zm9v!"), std::invalid_argument);
    EXPECT_THROW(base64url_decode("A"), std::invalid_argument);
}

TEST(Uuid, Version7IsTimeOrderedAndWellFormed) {
    const std::string a = new_uuid_v7(1000), b = new_uuid_v7(2000);
    EXPECT_EQ(a.size(), 36u);
    EXPECT_EQ(a[14], '7');
    EXPECT_LT(a, b);
    EXPECT_NE(new_uuid_v7(5), new_uuid_v7(5));
}

TEST(Fs, AtomicWriteReplacesWholeFiles) {
    test::TempDir tmp;
    fs::atomic_write(tmp / "f", "one");
    fs::atomic_write(tmp / "f", "two, longer");
    EXPECT_EQ(test::slurp(tmp / "f"), "two, longer");
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path())) entries += e.exists();
    EXPECT_EQ(entries, 1) << "no temp file may be left behind";
}

TEST(Fs, TempFileIsRemovedUnlessCommitted) {
    test::TempDir tmp;
    std::filesystem::path p;
    {
        fs::TempFile t(tmp.path(), "x");
        p = t.path();
        EXPECT_TRUE(std::filesystem::exists(p));
    }
    EXPECT_FALSE(std::filesystem::exists(p));
}

TEST(Fs, ExclusiveLockIsExclusiveSharedIsShared) {
    test::TempDir tmp;
    auto a = fs::FileLock::try_lock(tmp / "l", fs::FileLock::Mode::Shared);
    auto b = fs::FileLock::try_lock(tmp / "l", fs::FileLock::Mode::Shared);
    EXPECT_TRUE(a.owns());
    EXPECT_TRUE(b.owns());
    EXPECT_FALSE(fs::FileLock::try_lock(tmp / "l", fs::FileLock::Mode::Exclusive).owns());
}

// A child process that creates a TempFile in `dir`, writes `bytes` into it, reports its
// path through a pipe, then ends the way a crash would: _exit without destructors when
// `wait` is false, else it waits (for a SIGKILL).
struct TempFileChild {
    pid_t pid = -1;
    std::filesystem::path path;
};

TempFileChild temp_file_child(const std::filesystem::path& dir, const std::string& stem,
                              std::size_t bytes, bool wait) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::close(pipe_fds[0]);
        fs::TempFile t(dir, stem);
        const std::string data(bytes, 'k');
        fs::write_all(t.fd(), data.data(), data.size(), t.path());
        const std::string path = t.path().string() + "\n";
        fs::write_all(pipe_fds[1], path.data(), path.size(), "pipe");
        while (wait) ::pause();
        ::_exit(0);  // no destructors: the TempFile stays, as after a crash
    }
    ::close(pipe_fds[1]);
    std::string path;
    char c;
    while (::read(pipe_fds[0], &c, 1) == 1 && c != '\n') path += c;
    ::close(pipe_fds[0]);
    if (!wait) ::waitpid(pid, nullptr, 0);
    return {pid, path};
}

void kill_child(pid_t pid) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

const std::vector<std::string> kStems{"k9-download", "k9_api.db.snapshot"};

TEST(Fs, TempFileHoldsAnExclusiveLockUntilItIsGone) {
    test::TempDir tmp;
    fs::TempFile t(tmp.path(), "x");
    const fs::Fd other = fs::open_read(t.path());
    EXPECT_NE(::flock(other.get(), LOCK_EX | LOCK_NB), 0) << "a live TempFile is locked";
    EXPECT_EQ(errno, EWOULDBLOCK);
    t.commit_to(tmp / "final");
    EXPECT_EQ(::flock(other.get(), LOCK_EX | LOCK_NB), 0) << "committed: the fd is closed";
}

TEST(Fs, StaleTempFilesOfDeadProcessesAreRemoved) {
    test::TempDir tmp;
    const auto exited = temp_file_child(tmp.path(), "k9-download", 1000, false);
    const auto killed = temp_file_child(tmp.path(), "k9_api.db.snapshot", 2345, true);
    kill_child(killed.pid);
    ASSERT_TRUE(std::filesystem::exists(exited.path)) << "the child left its temp file";
    ASSERT_TRUE(std::filesystem::exists(killed.path));

    const auto removed = fs::remove_stale_temp_files(tmp.path(), kStems);
    EXPECT_EQ(removed.files, 2u);
    EXPECT_EQ(removed.bytes, 1000u + 2345u);
    EXPECT_FALSE(std::filesystem::exists(exited.path));
    EXPECT_FALSE(std::filesystem::exists(killed.path));
}

TEST(Fs, TempFilesOfLiveOwnersAreKept) {
    test::TempDir tmp;
    fs::TempFile mine(tmp.path(), "k9-download");
    const auto live = temp_file_child(tmp.path(), "k9-download", 10, true);

    EXPECT_EQ(fs::remove_stale_temp_files(tmp.path(), kStems).files, 0u);
    EXPECT_TRUE(std::filesystem::exists(mine.path()));
    EXPECT_TRUE(std::filesystem::exists(live.path));

    kill_child(live.pid);  // its owner dies: now it is stale
    const auto removed = fs::remove_stale_temp_files(tmp.path(), kStems);
    EXPECT_EQ(removed.files, 1u);
    EXPECT_EQ(removed.bytes, 10u);
    EXPECT_FALSE(std::filesystem::exists(live.path));
    EXPECT_TRUE(std::filesystem::exists(mine.path()));
}

TEST(Fs, StaleTempFileSweepLeavesOtherFilesAlone) {
    test::TempDir tmp;
    const std::vector<std::string> others{"k9_api.db",
                                          "k9-download.tmp",
                                          "k9-download.abc.tmp",
                                          "other.a1B2c3.tmp",
                                          "k9-download.a1B2c3.tmp.x",
                                          "xk9-download.a1B2c3.tmp",
                                          "k9-download.a-B2c3.tmp",
                                          "k9_api.db.snapshot"};
    for (const auto& name : others) test::spit(tmp / name, "keep");
    std::filesystem::create_directory(tmp / "k9-download.Dir123.tmp");
    std::filesystem::create_symlink(tmp / "k9_api.db", tmp / "k9-download.Link12.tmp");
    test::spit(tmp / "k9-download.Stale1.tmp", "stale");  // unlocked: nobody owns it

    const auto removed = fs::remove_stale_temp_files(tmp.path(), kStems);
    EXPECT_EQ(removed.files, 1u);
    EXPECT_EQ(removed.bytes, 5u);
    EXPECT_FALSE(std::filesystem::exists(tmp / "k9-download.Stale1.tmp"));
    for (const auto& name : others) EXPECT_EQ(test::slurp(tmp / name), "keep") << name;
    EXPECT_TRUE(std::filesystem::is_directory(tmp / "k9-download.Dir123.tmp"));
    EXPECT_TRUE(std::filesystem::is_symlink(tmp / "k9-download.Link12.tmp"));
    EXPECT_EQ(fs::remove_stale_temp_files(tmp / "missing", kStems).files, 0u);
}

TEST(Fs, TempFilesSurviveAConcurrentSweep) {
    // A sweep may lock a file between its creation and its owner's lock; the owner must
    // notice and make another, never write into a removed file.
    test::TempDir tmp;
    std::atomic<bool> done{false};
    std::thread sweeper([&] {
        while (!done) fs::remove_stale_temp_files(tmp.path(), kStems);
    });
    for (int i = 0; i < 20000; ++i) {
        fs::TempFile t(tmp.path(), "k9-download");
        ASSERT_TRUE(std::filesystem::exists(t.path())) << "created " << i;
    }
    done = true;
    sweeper.join();
}

}  // namespace
}  // namespace k9
