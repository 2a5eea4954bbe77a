// The settings registry (config/registry.hpp) is the one table of k9's variables: these
// tests keep k9db --config, the parsing, the source and the README true to it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config/config.hpp"
#include "config/registry.hpp"

namespace k9 {
namespace {

namespace stdfs = std::filesystem;
using config::load_config;

const stdfs::path kSourceDir = stdfs::path(K9_FIXTURES_DIR).parent_path().parent_path();

std::string read_file(const stdfs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

const config::Setting* row(const config::Config& c, const std::string& name) {
    for (const auto& s : c.settings) {
        if (s.variable == name) return &s;
    }
    return nullptr;
}

TEST(SettingsRegistry, KdbConfigShowsEveryVariableInTheRegistrysOrder) {
    for (const auto& env : std::vector<std::map<std::string, std::string>>{
             {}, {{"DATABASE_S3_BUCKET", "my-bucket"}, {"K9_DURABILITY", "snapshot"}}}) {
        const auto c = load_config(map_env(env), "/work");
        std::vector<std::string> shown, registered;
        for (const auto& s : c.settings) shown.push_back(s.variable);
        for (const auto& v : config::variables()) registered.emplace_back(v.name);
        EXPECT_EQ(shown, registered);
    }
}

// A whole number's default is written twice: in the struct k9 fills and in the
// registry's text. What load_config uses with nothing set must be what the docs say.
TEST(SettingsRegistry, NumberDefaultsAreTheOnesLoadConfigUses) {
    const auto c = load_config(map_env({}), "/work");
    int checked = 0;
    for (const auto& v : config::variables()) {
        if (!v.is_number() || v.fallback.find_first_not_of("0123456789") != std::string::npos)
            continue;
        const auto* s = row(c, std::string(v.name));
        ASSERT_NE(s, nullptr) << v.name;
        EXPECT_EQ(s->value, v.fallback) << v.name;
        EXPECT_EQ(s->source.rfind("default", 0), 0u) << v.name << ": " << s->source;
        ++checked;
    }
    EXPECT_GE(checked, 15);
}

TEST(SettingsRegistry, RowsSayWhereAValueCameFromAndDerivedDefaultsWhy) {
    const auto c = load_config(
        map_env({{"K9_PERSIST_TAIL", "64"}, {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"}}), "/work");
    EXPECT_EQ(row(c, "K9_PERSIST_TAIL")->value, "64");
    EXPECT_EQ(row(c, "K9_PERSIST_TAIL")->source, "environment");
    EXPECT_EQ(row(c, "K9_DUCKDB_MEMORY_LIMIT")->value, "256");
    EXPECT_EQ(row(c, "K9_DUCKDB_MEMORY_LIMIT")->source,
              "default: half of AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
    EXPECT_EQ(row(c, "K9_PERSIST_WRITES")->value, "1000");
    EXPECT_EQ(row(c, "K9_PERSIST_WRITES")->source, "default: 1000 in journal mode");
    const auto snapshot = load_config(map_env({{"K9_DURABILITY", "snapshot"}}), "/work");
    EXPECT_EQ(row(snapshot, "K9_PERSIST_WRITES")->value, "10");
}

TEST(SettingsRegistry, ASecretIsNeverShown) {
    const std::string secret(40, 'q');
    const auto c = load_config(map_env({{"K9_JWT_SECRET", secret}}), "/work");
    EXPECT_EQ(row(c, "K9_JWT_SECRET")->value, "(set, not shown)");
    for (const auto& s : c.settings) EXPECT_EQ(s.value.find(secret), std::string::npos);
}

TEST(SettingsRegistry, ARangeComesFromTheRegistryAndTheErrorNamesIt) {
    const auto& v = config::variable("K9_JOURNAL_PARTITIONS");
    try {
        load_config(map_env({{"K9_JOURNAL_PARTITIONS", std::to_string(v.max + 1)}}), "/work");
        ADD_FAILURE() << "accepted";
    } catch (const ConfigError& e) {
        EXPECT_EQ(e.variable, "K9_JOURNAL_PARTITIONS");
        EXPECT_NE(std::string(e.what()).find("from 1 to 256"), std::string::npos) << e.what();
    }
}

TEST(SettingsRegistry, ReadingAVariableTheRegistryLacksIsAnError) {
    config::EnvReader env(map_env({{"K9_NOT_A_SETTING", "1"}}));
    EXPECT_THROW(env.text("K9_NOT_A_SETTING"), std::logic_error);
    EXPECT_THROW(env.number("K9_NOT_A_SETTING", 0), std::logic_error);
}

// Every K9_ and DATABASE_ name the source mentions is a registered variable (or a test's
// switch), so a new variable cannot be read without being documented.
TEST(SettingsRegistry, EveryVariableNamedInTheSourceIsRegistered) {
    std::set<std::string> registered;
    for (const auto& v : config::variables()) registered.emplace(v.name);
    const std::set<std::string> not_settings = {"K9_TEST_CRASH_POINTS"};
    const std::regex name("\"((K9|DATABASE)_[A-Z0-9_]+)\"");
    int files = 0;
    for (const auto& entry : stdfs::recursive_directory_iterator(kSourceDir / "src")) {
        const auto ext = entry.path().extension();
        if (ext != ".cpp" && ext != ".hpp") continue;
        ++files;
        const std::string text = read_file(entry.path());
        for (std::sregex_iterator it(text.begin(), text.end(), name), end; it != end; ++it) {
            const std::string found = (*it)[1];
            if (not_settings.count(found) == 0) {
                EXPECT_EQ(registered.count(found), 1u)
                    << entry.path() << " names " << found << ", which config/registry.cpp lacks";
            }
        }
    }
    EXPECT_GT(files, 100);
}

// The README's configuration table is generated from the registry.
TEST(SettingsRegistry, TheReadmeTableIsTheRegistry) {
    const std::string readme = read_file(kSourceDir / "README.md");
    const std::string begin = "<!-- settings table: generated from src/config/registry.cpp -->\n";
    const std::string end = "<!-- end of settings table -->";
    const auto b = readme.find(begin);
    const auto e = readme.find(end);
    ASSERT_NE(b, std::string::npos) << "README.md lacks the marker " << begin;
    ASSERT_NE(e, std::string::npos) << "README.md lacks the marker " << end;
    const std::string table = readme.substr(b + begin.size(), e - b - begin.size());
    EXPECT_EQ(table, config::markdown_table())
        << "replace the README's table (between the markers) with:\n"
        << config::markdown_table();
}

}  // namespace
}  // namespace k9
