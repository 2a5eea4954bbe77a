#include <gtest/gtest.h>

#include "cli/format.hpp"
#include "cli/progress.hpp"

namespace k9 {
namespace {

TEST(Progress, RendersBytesRateAndTimeLeft) {
    EXPECT_EQ(cli::Progress::render(25'000'000, 100'000'000, 1.0),
              "25.0 MB / 100.0 MB   25%  25.0 MB/s  0:03 left");
    EXPECT_EQ(cli::Progress::render(100'000'000, 100'000'000, 2.0), "100.0 MB / 100.0 MB  100%  50.0 MB/s");
    EXPECT_EQ(cli::Progress::render(5'000'000, 0, 1.0), "5.0 MB  5.0 MB/s");
}

TEST(Progress, IsSilentWhenStderrIsNotATerminal) {
    // The test runner pipes stderr: no callback, nothing printed.
    cli::Progress p("test");
    EXPECT_FALSE(static_cast<bool>(p.callback()));
}

TEST(Format, HumanBytes) {
    EXPECT_EQ(cli::human_bytes(999), "999 bytes");
    EXPECT_EQ(cli::human_bytes(1'572'864), "1.6 MB (1572864 bytes)");
}

}  // namespace
}  // namespace k9
