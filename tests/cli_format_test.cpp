#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "cli/format.hpp"
#include "cli/progress.hpp"
#include "config/config.hpp"

namespace k9 {
namespace {

TEST(Progress, RendersBytesRateAndTimeLeft) {
    EXPECT_EQ(cli::Progress::render(25'000'000, 100'000'000, 1.0),
              "25.0 MB / 100.0 MB   25%  25.0 MB/s  0:03 left");
    EXPECT_EQ(cli::Progress::render(100'000'000, 100'000'000, 2.0),
              "100.0 MB / 100.0 MB  100%  50.0 MB/s");
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

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) lines.push_back(l);
    return lines;
}

// Every setting's line is "  VARIABLE  value..." with at least two spaces between them.
void expect_separated(const std::vector<config::Setting>& settings, const std::string& printed) {
    const auto lines = lines_of(printed);
    ASSERT_EQ(lines.size(), settings.size()) << printed;
    for (std::size_t i = 0; i < settings.size(); ++i) {
        const auto& s = settings[i];
        const std::string head = "  " + s.variable + "  ";
        EXPECT_EQ(lines[i].rfind(head, 0), 0u)
            << "no separator after " << s.variable << ": " << lines[i];
        const auto value_at = lines[i].find_first_not_of(' ', head.size());
        EXPECT_EQ(lines[i].compare(value_at, s.value.size(), s.value), 0) << lines[i];
        if (!s.source.empty()) {
            EXPECT_NE(lines[i].find("  (" + s.source + ")"), std::string::npos) << lines[i];
        }
        EXPECT_NE(lines[i].back(), ' ') << "trailing spaces: '" << lines[i] << "'";
    }
}

TEST(Format, ColumnsAreAlignedAndAtLeastTwoSpacesApart) {
    std::ostringstream out;
    cli::print_columns({{"a", "one", "x"},
                        {"longer-name", "2", "y"},
                        {"b", "", ""},
                        {"c", "a long last cell sets no width"}},
                       out, "> ");
    EXPECT_EQ(out.str(),
              "> a            one  x\n"
              "> longer-name  2    y\n"
              "> b\n"
              "> c            a long last cell sets no width\n");
}

TEST(Format, SettingsKeepTheirVariableAndValueApartWhateverTheLengths) {
    // K9_JOURNAL_RETENTION is 20 characters, the old fixed column width.
    const std::vector<config::Setting> settings = {
        {"K9_JOURNAL_RETENTION", "3600 s", "default"},
        {"K9_S3_PARALLEL_BELOW_MBPS", "400", "environment"},
        {"K9_STORE_URL", "file://" + std::string(80, 'd'), "default: embedded file store"},
        {"snapshot", "file:///x/databases/k9_api_dev.db", ""},
    };
    std::ostringstream out;
    cli::print_settings(settings, out);
    expect_separated(settings, out.str());
    EXPECT_EQ(out.str().find("K9_JOURNAL_RETENTION3600"), std::string::npos) << out.str();
}

TEST(Format, EveryConfigurationRowIsSeparated) {
    // Every row load_config can produce: S3 settings, journal settings, defaults and values.
    const auto c = config::load_config(k9::map_env({{"DATABASE_S3_BUCKET", "my-bucket"},
                                                    {"K9_JOURNAL_RETENTION", "86400"},
                                                    {"K9_S3_PARALLEL_BELOW_MBPS", "0"}}),
                                       "/work");
    ASSERT_GT(c.settings.size(), 8u);
    std::ostringstream out;
    cli::print_settings(c.settings, out);
    expect_separated(c.settings, out.str());
}

}  // namespace
}  // namespace k9
