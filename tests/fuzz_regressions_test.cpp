// Replays the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) and the inputs kept
// from fixed crashes (tests/fuzz/regressions/<target>/) on every test run: the targets are
// compiled into this executable without libFuzzer (tests/fuzz/regressions.cmake renames each
// entry point k9_<target>). A target aborts on a broken promise, so a regression crashes this
// test; the input being replayed is named on stderr first.

#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define K9_FUZZ_TARGET_LIST(X) \
    X(fuzz_config)             \
    X(fuzz_database_file)      \
    X(fuzz_journal_entry)      \
    X(fuzz_jwt)                \
    X(fuzz_lambda_event)       \
    X(fuzz_request_bodies)     \
    X(fuzz_s3_xml)             \
    X(fuzz_sigv4)

#define K9_DECLARE_ENTRY(name) extern "C" int k9_##name(const std::uint8_t* data, std::size_t size);
K9_FUZZ_TARGET_LIST(K9_DECLARE_ENTRY)
#undef K9_DECLARE_ENTRY

namespace {

namespace stdfs = std::filesystem;

struct Target {
    const char* name;
    int (*entry)(const std::uint8_t*, std::size_t);
};

#define K9_TARGET_ENTRY(name) Target{#name, &k9_##name},
const Target kTargets[] = {K9_FUZZ_TARGET_LIST(K9_TARGET_ENTRY)};
#undef K9_TARGET_ENTRY

// The input being replayed, for the crash handler (async-signal-safe: write(2) only).
char g_current[4096] = "";

extern "C" void name_input_and_crash(int sig) {
    constexpr char kPrefix[] = "\nfuzz_regressions_test: crashed replaying ";
    ssize_t ignored = ::write(STDERR_FILENO, kPrefix, sizeof kPrefix - 1);
    ignored = ::write(STDERR_FILENO, g_current, std::strlen(g_current));
    ignored = ::write(STDERR_FILENO, "\n", 1);
    (void)ignored;
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

std::vector<stdfs::path> inputs_in(const stdfs::path& dir) {
    std::vector<stdfs::path> files;
    if (!stdfs::is_directory(dir)) return files;
    for (const auto& entry : stdfs::directory_iterator(dir)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::string read_file(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class FuzzReplay : public ::testing::TestWithParam<Target> {
  protected:
    static void SetUpTestSuite() {
        for (const int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL}) {
            std::signal(sig, name_input_and_crash);
        }
    }

    // Runs every file of `dir` through the target; returns how many there were.
    static std::size_t replay(const Target& target, const stdfs::path& dir) {
        const auto files = inputs_in(dir);
        for (const auto& file : files) {
            const std::string bytes = read_file(file);
            std::snprintf(g_current, sizeof g_current, "%s", file.c_str());
            EXPECT_EQ(
                target.entry(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0)
                << file;
        }
        g_current[0] = '\0';
        return files.size();
    }
};

TEST_P(FuzzReplay, SeedsAndRegressionInputsPass) {
    const Target& target = GetParam();
    const stdfs::path root = K9_FUZZ_DIR;
    EXPECT_GT(replay(target, root / "corpus" / target.name), 0u)
        << "no seeds in tests/fuzz/corpus/" << target.name;
    replay(target, root / "regressions" / target.name);
    // The empty input is every target's first try under libFuzzer.
    EXPECT_EQ(target.entry(reinterpret_cast<const std::uint8_t*>(""), 0), 0);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay, ::testing::ValuesIn(kTargets),
                         [](const ::testing::TestParamInfo<Target>& param) {
                             return std::string(param.param.name);
                         });

}  // namespace
