#pragma once
// What every fuzz target shares. A target is one function, K9_FUZZ_TARGET(data, size), that
// feeds the bytes to real k9 code, catches only the exceptions that code documents for bad
// input, and calls fuzz::fail() (which aborts) when a documented promise is broken; anything
// else escaping is a crash too. Each target is built two ways:
//   - with libFuzzer (tests/fuzz/CMakeLists.txt, scripts/fuzz): the function is
//     LLVMFuzzerTestOneInput;
//   - into the normal test suite (tests/fuzz_regressions_test.cpp, via
//     tests/fuzz/regressions.cmake), where K9_FUZZ_ENTRY renames it (k9_fuzz_<target>) so that
//     every target links into one executable that replays the corpora and regression inputs.
// Targets keep state they build once (a Service, a key set) in function-local statics.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#ifndef K9_FUZZ_ENTRY
#define K9_FUZZ_ENTRY LLVMFuzzerTestOneInput
#endif

#define K9_FUZZ_TARGET(data, size) \
    extern "C" int K9_FUZZ_ENTRY(const std::uint8_t* data, std::size_t size)

namespace k9::fuzz {

// Reports a broken promise and aborts: libFuzzer saves the input as a crash.
[[noreturn]] inline void fail(std::string_view what, std::string_view detail = {}) {
    constexpr int kMaxDetail = 600;
    std::fprintf(stderr, "\nk9 fuzz: %.*s\n", static_cast<int>(what.size()), what.data());
    if (!detail.empty()) {
        const int shown = detail.size() > kMaxDetail ? kMaxDetail : static_cast<int>(detail.size());
        std::fprintf(stderr, "  %.*s%s\n", shown, detail.data(),
                     detail.size() > kMaxDetail ? " ..." : "");
    }
    std::abort();
}

inline void check(bool ok, std::string_view what, std::string_view detail = {}) {
    if (!ok) fail(what, detail);
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Carves typed values from the fuzzer's bytes, front to back; once the bytes run out every
// value is empty, zero or false, so any input is a valid sequence of values.
class ByteReader {
  public:
    ByteReader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    // A length byte (taken modulo max + 1), then up to that many bytes.
    std::string text(std::size_t max) {
        std::size_t length = byte() % (max + 1);
        length = length < size_ - pos_ ? length : size_ - pos_;
        std::string out(reinterpret_cast<const char*>(data_) + pos_, length);
        pos_ += length;
        return out;
    }

    bool flag() { return (byte() & 1U) != 0; }

    // An integer in [lo, hi], from up to eight bytes.
    std::int64_t integer(std::int64_t lo, std::int64_t hi) {
        const std::uint64_t span = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
        std::uint64_t raw = 0;
        for (int i = 0; i < 8; ++i) raw = (raw << 8U) | byte();
        const std::uint64_t offset = span == UINT64_MAX ? raw : raw % (span + 1);
        return static_cast<std::int64_t>(static_cast<std::uint64_t>(lo) + offset);
    }

  private:
    std::uint8_t byte() { return pos_ < size_ ? data_[pos_++] : 0; }

    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t pos_ = 0;
};

// A folder made once per process under $TMPDIR (or /tmp), removed with everything in it
// when the process exits normally.
class ScratchDir {
  public:
    explicit ScratchDir(const char* name) {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern =
            std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/" + name + "-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) fail("cannot create a scratch folder", pattern);
        path_ = pattern;
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    const std::filesystem::path& path() const { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace k9::fuzz
