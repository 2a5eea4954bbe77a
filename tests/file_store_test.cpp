// What only the file:// backend promises: preconditions between processes, crash
// repair, detection of bytes changed behind its back, kept versions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <sstream>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/time.hpp"
#include "store/file_store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

using store::ErrorKind;
using store::FileStore;
using store::Precondition;
using store::StoreError;

ErrorKind kind_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const StoreError& e) {
        return e.kind();
    }
    ADD_FAILURE() << "expected a StoreError";
    return ErrorKind::InvalidArgument;
}

TEST(FileStore, CreateOnlyPutsRacingFromSeparateProcessesHaveExactlyOneWinner) {
    test::TempDir tmp;
    const auto root = tmp / "store";
    { FileStore create_folder(root); }  // before the children race
    constexpr int kProcesses = 12;
    int go[2];
    ASSERT_EQ(::pipe(go), 0);
    std::vector<pid_t> children;
    for (int i = 0; i < kProcesses; ++i) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(go[1]);
            char c;
            (void)::read(go[0], &c, 1);  // wait until every child exists
            int code = 2;
            try {
                FileStore s(root);
                store::PutOptions o;
                o.precondition = Precondition::if_none_match_any();
                s.put_bytes("process " + std::to_string(i), "databases/race.db", o);
                code = 0;
            } catch (const StoreError& e) {
                code = e.is_precondition_failed() ? 1 : 2;
            } catch (...) {
            }
            ::_exit(code);
        }
        children.push_back(pid);
    }
    ::close(go[0]);
    ::close(go[1]);  // EOF releases every child at once
    int winners = 0, refused = 0;
    for (pid_t pid : children) {
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        if (WEXITSTATUS(status) == 0) ++winners;
        if (WEXITSTATUS(status) == 1) ++refused;
    }
    EXPECT_EQ(winners, 1);
    EXPECT_EQ(refused, kProcesses - 1);
    const std::string stored = FileStore(root).get_bytes("databases/race.db");
    EXPECT_EQ(stored.rfind("process ", 0), 0u);
}

TEST(FileStore, ObjectsArePlainFilesUnderTheFolder) {
    test::TempDir tmp;
    FileStore s(tmp / "store");
    s.put_bytes("DUCK-ish bytes", "databases/k9_api_dev.db");
    EXPECT_EQ(test::slurp(tmp / "store/databases/k9_api_dev.db"), "DUCK-ish bytes");
    EXPECT_EQ(s.url_for("databases/k9_api_dev.db"),
              "file://" + (tmp / "store/databases/k9_api_dev.db").string());
}

TEST(FileStore, BytesFlippedInPlaceAreReportedCorrupt) {
    test::TempDir tmp;
    FileStore s(tmp / "store");
    s.put_bytes(std::string(1000, 'a'), "k");
    {
        // Same file, same size, one byte changed: what bit rot looks like.
        FILE* f = std::fopen((tmp / "store/k").c_str(), "r+b");
        ASSERT_NE(f, nullptr);
        std::fseek(f, 500, SEEK_SET);
        std::fputc('b', f);
        std::fclose(f);
    }
    EXPECT_EQ(kind_of([&] { s.get_file("k", tmp / "out"); }), ErrorKind::Corrupt);
    EXPECT_EQ(kind_of([&] { s.get_bytes("k"); }), ErrorKind::Corrupt);
}

TEST(FileStore, TruncationInPlaceIsReportedCorrupt) {
    test::TempDir tmp;
    FileStore s(tmp / "store");
    s.put_bytes(std::string(1000, 'a'), "k");
    ASSERT_EQ(::truncate((tmp / "store/k").c_str(), 10), 0);
    EXPECT_EQ(kind_of([&] { s.head("k"); }), ErrorKind::Corrupt);
    EXPECT_EQ(kind_of([&] { s.get_file("k", tmp / "out"); }), ErrorKind::Corrupt);
}

TEST(FileStore, AFileReplacedBehindItsBackGetsAFreshETag) {
    // A crash between the data rename and the meta rename looks the same: the data
    // file has a new inode the meta does not know.
    test::TempDir tmp;
    FileStore s(tmp / "store");
    auto old = s.put_bytes("old", "k");
    test::spit(tmp / "new", "brand new");
    ASSERT_EQ(::rename((tmp / "new").c_str(), (tmp / "store/k").c_str()), 0);
    auto head = s.head("k");
    EXPECT_NE(head.etag, old.etag);
    EXPECT_EQ(head.size, 9u);
    EXPECT_EQ(s.get_bytes("k"), "brand new");
    // A conditional write against the stale ETag must fail; against the new one, pass.
    store::PutOptions o;
    o.precondition = Precondition::if_match(old.etag);
    EXPECT_EQ(kind_of([&] { s.put_bytes("x", "k", o); }), ErrorKind::PreconditionFailed);
    o.precondition = Precondition::if_match(head.etag);
    EXPECT_NO_THROW(s.put_bytes("x", "k", o));
}

TEST(FileStore, AKeyCannotBeBothAnObjectAndAFolder) {
    test::TempDir tmp;
    FileStore s(tmp / "store");
    s.put_bytes("x", "a/b");
    EXPECT_EQ(kind_of([&] { s.put_bytes("y", "a"); }), ErrorKind::InvalidArgument);
    EXPECT_EQ(kind_of([&] { s.put_bytes("y", "a/b/c"); }), ErrorKind::InvalidArgument);
    EXPECT_EQ(s.get_bytes("a/b"), "x");
}

TEST(FileStore, InternalFolderIsNotAKey) {
    test::TempDir tmp;
    FileStore s(tmp / "store");
    s.put_bytes("x", "k");
    EXPECT_EQ(kind_of([&] { s.put_bytes("y", ".k9store/lock"); }), ErrorKind::InvalidArgument);
    for (const auto& o : s.list("")) EXPECT_EQ(o.key.find(".k9store"), std::string::npos) << o.key;
}

TEST(FileStore, KeepsVersionsWhenAsked) {
    test::TempDir tmp;
    FileStore s(tmp / "store", store::FileStoreOptions{true});
    auto v1 = s.put_bytes("one", "k");
    auto v2 = s.put_bytes("two", "k");
    EXPECT_FALSE(v1.version_id.empty());
    EXPECT_NE(v1.version_id, v2.version_id);
    auto versions = s.list_versions("k");
    ASSERT_EQ(versions.size(), 2u);
    EXPECT_TRUE(versions[0].is_latest);
    EXPECT_EQ(versions[0].version_id, v2.version_id);
    EXPECT_EQ(versions[1].version_id, v1.version_id);
    store::GetOptions o;
    o.version_id = v1.version_id;
    s.get_file("k", tmp / "old", o);
    EXPECT_EQ(test::slurp(tmp / "old"), "one");
    s.remove("k");
    EXPECT_FALSE(s.head_if_exists("k"));
    versions = s.list_versions("k");
    ASSERT_EQ(versions.size(), 3u);
    EXPECT_TRUE(versions[0].is_delete_marker);
    o.version_id = v2.version_id;
    s.get_file("k", tmp / "v2", o);
    EXPECT_EQ(test::slurp(tmp / "v2"), "two");
}

TEST(FileStore, WithoutVersionsNothingIsKept) {
    test::TempDir tmp;
    FileStore s(tmp / "store");
    s.put_bytes("one", "k");
    s.put_bytes("two", "k");
    auto versions = s.list_versions("k");
    ASSERT_EQ(versions.size(), 1u);
    EXPECT_TRUE(versions[0].is_latest);
}

// A crash leaves temp files behind; a start removes those whose writer is dead (its
// lock is free), however young, and keeps those of writes in progress, however old.
TEST(FileStore, StartRemovesTheTempFilesOfDeadWritersOnly) {
    test::TempDir tmp;
    const auto root = tmp / "store";
    { FileStore create(root); }
    const auto dead = root / ".k9store" / "tmp" / "put.abc123.tmp";
    test::spit(dead, "left by a crash");
    const fs::TempFile live(root / ".k9store" / "tmp", "put");
    FileStore s(root);
    EXPECT_FALSE(std::filesystem::exists(dead));
    EXPECT_TRUE(std::filesystem::exists(live.path()));
}

// Processes whose clocks disagree (one under `faketime -f +2h`) must agree on an
// object's age, server_time - last_modified: the file store's clock is the
// filesystem's. The test runs its own binary under faketime, twice: with libfaketime
// faking what stat() reports (Debian's default) and without (NO_FAKE_STAT=1).
namespace skew {
constexpr const char* kStoreEnv = "K9_SKEW_TEST_STORE";
constexpr const char* kParentNowEnv = "K9_SKEW_TEST_PARENT_NOW";
constexpr Micros kSecond = 1'000'000;
constexpr Micros kYoung = 60 * kSecond;  // written moments ago, a process start included

Micros age_of(FileStore& s, const std::string& key) {
    const auto info = s.head(key);
    return info.server_time - info.last_modified;
}

// Whether this process's stat() reports other times than the filesystem's (fstatat).
bool stat_is_faked(const std::filesystem::path& file) {
    struct stat faked {};
    struct stat real {};
    return ::stat(file.c_str(), &faked) == 0 && ::fstatat(AT_FDCWD, file.c_str(), &real, 0) == 0 &&
           faked.st_mtim.tv_sec != real.st_mtim.tv_sec;
}
}  // namespace skew

// The skewed side of SkewedProcessesAgreeOnAges; it runs only when that test starts it.
TEST(FileStoreClock, DISABLED_SkewedChild) {
    const char* root = std::getenv(skew::kStoreEnv);
    const char* parent_now = std::getenv(skew::kParentNowEnv);
    ASSERT_TRUE(root != nullptr && parent_now != nullptr)
        << "run by FileStoreClock.SkewedProcessesAgreeOnAges";
    const Micros skew = system_now() - std::stoll(parent_now);
    ASSERT_GT(skew, 3600 * skew::kSecond)
        << "this process's clock is not 2 h ahead: faketime did not work";
    FileStore s(root);
    const Micros parents = skew::age_of(s, "by-parent");
    EXPECT_GE(parents, -skew::kSecond);
    EXPECT_LT(parents, skew::kYoung);
    const auto put = s.put_bytes("child", "by-child");
    EXPECT_GE(put.server_time - put.last_modified, 0);
    EXPECT_LT(put.server_time - put.last_modified, skew::kSecond);
    std::printf(
        "skewed child: own clock %+.0f s from the parent's, store clock %+.0f s from its own; "
        "libfaketime fakes stat(): %s\n",
        static_cast<double>(skew) / 1e6, static_cast<double>(put.server_time - system_now()) / 1e6,
        skew::stat_is_faked(std::filesystem::path(root) / "by-child") ? "yes" : "no");
}

TEST(FileStoreClock, SkewedProcessesAgreeOnAges) {
    if (const auto why = test::why_faketime_cannot_run())
        GTEST_SKIP() << "cannot run a process with a skewed clock: " << *why;
    test::TempDir tmp;
    const auto root = tmp / "store";
    FileStore s(root);
    s.put_bytes("parent", "by-parent");
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    for (const bool fake_stat : {true, false}) {
        SCOPED_TRACE(fake_stat ? "libfaketime as installed" : "NO_FAKE_STAT=1");
        s.remove("by-child");
        test::Env env{{skew::kStoreEnv, root.string()},
                      {skew::kParentNowEnv, std::to_string(system_now())}};
        if (!fake_stat) env["NO_FAKE_STAT"] = "1";
        const auto r =
            test::run_under_faketime("+2h",
                                     {self, "--gtest_also_run_disabled_tests",
                                      "--gtest_filter=FileStoreClock.DISABLED_SkewedChild"},
                                     env);
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        ASSERT_NE(r.out.find("[  PASSED  ] 1 test"), std::string::npos) << r.out;
        const auto said = r.out.find("skewed child:");
        std::printf("%s\n", r.out.substr(said, r.out.find('\n', said) - said).c_str());
        const Micros childs = skew::age_of(s, "by-child");
        EXPECT_GE(childs, -skew::kSecond);
        EXPECT_LT(childs, skew::kYoung);
    }
}

TEST(FileStore, RelativeRootIsRefused) {
    EXPECT_EQ(kind_of([] { FileStore s("relative/dir"); }), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace k9
