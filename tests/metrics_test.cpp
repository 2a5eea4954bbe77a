// The EMF emitter: every line it writes is checked against the structure of CloudWatch's
// Embedded Metric Format specification (root node, metadata object, MetricDirective,
// MetricDefinition, target members), and the names, units and dimension k9's alarms use.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "obs/metrics.hpp"
#include "support/log_capture.hpp"

namespace k9 {
namespace {

using nlohmann::json;

// The units CloudWatch accepts (MetricDatum's Unit, which EMF uses).
const std::set<std::string> kValidUnits = {"Seconds",
                                           "Microseconds",
                                           "Milliseconds",
                                           "Bytes",
                                           "Kilobytes",
                                           "Megabytes",
                                           "Gigabytes",
                                           "Terabytes",
                                           "Bits",
                                           "Kilobits",
                                           "Megabits",
                                           "Gigabits",
                                           "Terabits",
                                           "Percent",
                                           "Count",
                                           "Bytes/Second",
                                           "Kilobytes/Second",
                                           "Megabytes/Second",
                                           "Gigabytes/Second",
                                           "Terabytes/Second",
                                           "Bits/Second",
                                           "Kilobits/Second",
                                           "Megabits/Second",
                                           "Gigabits/Second",
                                           "Terabits/Second",
                                           "Count/Second",
                                           "None"};

constexpr std::size_t kMaxDimensionsPerSet = 30;
constexpr std::size_t kMaxMetricsPerDirective = 100;
constexpr std::size_t kMaxValuesPerMetric = 100;
constexpr std::size_t kMaxLineBytes = 1024 * 1024;

bool only_members(const json& object, const std::set<std::string>& allowed) {
    return std::all_of(object.items().begin(), object.items().end(),
                       [&](const auto& item) { return allowed.count(item.key()) > 0; });
}

bool is_metric_value(const json& v) {
    if (v.is_number()) return true;
    if (!v.is_array() || v.empty() || v.size() > kMaxValuesPerMetric) return false;
    return std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number(); });
}

// Checks one line against the EMF specification's document structure.
void expect_valid_emf(const std::string& line) {
    SCOPED_TRACE(line);
    ASSERT_LE(line.size(), kMaxLineBytes);
    ASSERT_EQ(line.find('\n'), std::string::npos) << "one JSON object per line";
    json root;
    ASSERT_NO_THROW(root = json::parse(line)) << "a LogEvent must be one valid JSON object";
    ASSERT_TRUE(root.is_object());

    // Metadata object: _aws with exactly Timestamp (integer epoch ms) and CloudWatchMetrics.
    ASSERT_TRUE(root.contains("_aws"));
    const json& aws = root["_aws"];
    ASSERT_TRUE(aws.is_object());
    EXPECT_TRUE(only_members(aws, {"Timestamp", "CloudWatchMetrics"}));
    ASSERT_TRUE(aws.contains("Timestamp"));
    EXPECT_TRUE(aws["Timestamp"].is_number_integer()) << "Timestamp must be integer milliseconds";
    ASSERT_TRUE(aws.contains("CloudWatchMetrics"));
    const json& directives = aws["CloudWatchMetrics"];
    ASSERT_TRUE(directives.is_array());
    ASSERT_FALSE(directives.empty());

    for (const json& d : directives) {
        ASSERT_TRUE(d.is_object());
        EXPECT_TRUE(only_members(d, {"Namespace", "Dimensions", "Metrics"}));
        ASSERT_TRUE(d.contains("Namespace") && d["Namespace"].is_string());
        EXPECT_FALSE(d["Namespace"].get<std::string>().empty());

        // Dimensions: an array of DimensionSets; each a list of keys naming string members.
        ASSERT_TRUE(d.contains("Dimensions") && d["Dimensions"].is_array());
        for (const json& set : d["Dimensions"]) {
            ASSERT_TRUE(set.is_array());
            EXPECT_LE(set.size(), kMaxDimensionsPerSet);
            for (const json& key : set) {
                ASSERT_TRUE(key.is_string());
                const std::string k = key.get<std::string>();
                ASSERT_TRUE(root.contains(k)) << "dimension " << k << " has no target member";
                EXPECT_TRUE(root[k].is_string()) << "dimension values must be strings: " << k;
            }
        }

        // Metrics: MetricDefinitions naming numeric members.
        ASSERT_TRUE(d.contains("Metrics") && d["Metrics"].is_array());
        EXPECT_LE(d["Metrics"].size(), kMaxMetricsPerDirective);
        for (const json& m : d["Metrics"]) {
            ASSERT_TRUE(m.is_object());
            EXPECT_TRUE(only_members(m, {"Name", "Unit", "StorageResolution"}));
            ASSERT_TRUE(m.contains("Name") && m["Name"].is_string());
            const std::string name = m["Name"].get<std::string>();
            EXPECT_FALSE(name.empty());
            EXPECT_LE(name.size(), 255u);
            if (m.contains("Unit")) {
                ASSERT_TRUE(m["Unit"].is_string());
                EXPECT_TRUE(kValidUnits.count(m["Unit"].get<std::string>())) << m["Unit"];
            }
            if (m.contains("StorageResolution")) {
                EXPECT_TRUE(m["StorageResolution"] == 1 || m["StorageResolution"] == 60);
            }
            ASSERT_TRUE(root.contains(name)) << "metric " << name << " has no target member";
            EXPECT_TRUE(is_metric_value(root[name])) << "metric values must be numbers: " << name;
        }
    }
}

// Collects lines from a Metrics instance.
struct Lines {
    obs::Sink sink() {
        return [this](const std::string& line) {
            std::lock_guard lock(mutex);
            lines.push_back(line);
        };
    }
    std::vector<std::string> get() {
        std::lock_guard lock(mutex);
        return lines;
    }
    std::mutex mutex;
    std::vector<std::string> lines;
};

constexpr Micros kFixedTime = 1'700'000'000'123'456;  // 2023-11-14T22:13:20.123456Z

Clock fixed_clock() {
    return [] { return kFixedTime; };
}

TEST(Metrics, EveryK9MetricIsValidEmfWithItsUnit) {
    Lines out;
    obs::Metrics m("staging", true, out.sink(), fixed_clock());
    m.count(obs::kDatabaseDownloadFailures);
    m.count(obs::kDatabaseUploadFailures);
    m.count(obs::kPersistConflicts, 2);
    m.gauge(obs::kDatabaseSizeBytes, 123'456'789'012.0, obs::Unit::Bytes);
    m.duration_ms(obs::kColdStartDurationMs, 812.5);
    m.duration_ms(obs::kDownloadDurationMs, 640);
    m.duration_ms(obs::kPersistDurationMs, 95.25);
    m.duration_ms(obs::kJournalAppendMs, 7);

    const struct {
        std::string_view name;
        std::string unit;
        double value;
    } expected[] = {
        {obs::kDatabaseDownloadFailures, "Count", 1},
        {obs::kDatabaseUploadFailures, "Count", 1},
        {obs::kPersistConflicts, "Count", 2},
        {obs::kDatabaseSizeBytes, "Bytes", 123'456'789'012.0},
        {obs::kColdStartDurationMs, "Milliseconds", 812.5},
        {obs::kDownloadDurationMs, "Milliseconds", 640},
        {obs::kPersistDurationMs, "Milliseconds", 95.25},
        {obs::kJournalAppendMs, "Milliseconds", 7},
    };
    const auto lines = out.get();
    ASSERT_EQ(lines.size(), std::size(expected));
    for (std::size_t i = 0; i < lines.size(); ++i) {
        expect_valid_emf(lines[i]);
        const json j = json::parse(lines[i]);
        const json& d = j["_aws"]["CloudWatchMetrics"][0];
        EXPECT_EQ(d["Namespace"], "K9/Database");
        EXPECT_EQ(d["Dimensions"], json::parse(R"([["Environment"]])"));
        ASSERT_EQ(d["Metrics"].size(), 1u);
        EXPECT_EQ(d["Metrics"][0]["Name"], std::string(expected[i].name));
        EXPECT_EQ(d["Metrics"][0]["Unit"], expected[i].unit);
        EXPECT_EQ(j[std::string(expected[i].name)].get<double>(), expected[i].value);
        EXPECT_EQ(j["Environment"], "staging");
        EXPECT_EQ(j["_aws"]["Timestamp"].get<std::int64_t>(), 1'700'000'000'123);
    }
}

TEST(Metrics, NamesAreTheOnesTheAlarmsWatch) {
    EXPECT_EQ(obs::kNamespace, "K9/Database");
    EXPECT_EQ(obs::kDimension, "Environment");
    EXPECT_EQ(obs::kDatabaseDownloadFailures, "DatabaseDownloadFailures");
    EXPECT_EQ(obs::kDatabaseUploadFailures, "DatabaseUploadFailures");
    EXPECT_EQ(obs::kPersistConflicts, "PersistConflicts");
    EXPECT_EQ(obs::kDatabaseSizeBytes, "DatabaseSizeBytes");
    EXPECT_EQ(obs::kColdStartDurationMs, "ColdStartDurationMs");
    EXPECT_EQ(obs::kDownloadDurationMs, "DownloadDurationMs");
    EXPECT_EQ(obs::kPersistDurationMs, "PersistDurationMs");
    EXPECT_EQ(obs::kJournalAppendMs, "JournalAppendMs");
}

TEST(Metrics, EveryUnitIsACloudWatchUnit) {
    for (auto unit : {obs::Unit::Count, obs::Unit::Bytes, obs::Unit::Milliseconds,
                      obs::Unit::Seconds, obs::Unit::None}) {
        EXPECT_TRUE(kValidUnits.count(std::string(obs::to_string(unit)))) << obs::to_string(unit);
        expect_valid_emf(obs::Metrics::emf_line("dev", "X", 1, unit, kFixedTime));
    }
}

TEST(Metrics, TimestampIsWholeEpochMilliseconds) {
    Lines out;
    obs::Metrics m("dev", true, out.sink(), [] { return Micros{1'700'000'000'999'999}; });
    m.count("X");
    const json j = json::parse(out.get().at(0));
    EXPECT_TRUE(j["_aws"]["Timestamp"].is_number_integer());
    EXPECT_EQ(j["_aws"]["Timestamp"].get<std::int64_t>(), 1'700'000'000'999);
}

TEST(Metrics, SystemClockTimestampIsNow) {
    Lines out;
    obs::Metrics m("dev", true, out.sink());
    const std::int64_t before = system_now() / 1000;
    m.count("X");
    const std::int64_t after = system_now() / 1000;
    const json j = json::parse(out.get().at(0));
    EXPECT_GE(j["_aws"]["Timestamp"].get<std::int64_t>(), before);
    EXPECT_LE(j["_aws"]["Timestamp"].get<std::int64_t>(), after);
}

TEST(Metrics, DisabledWritesNothing) {
    Lines out;
    obs::Metrics m("dev", false, out.sink(), fixed_clock());
    m.count(obs::kPersistConflicts);
    m.gauge(obs::kDatabaseSizeBytes, 1, obs::Unit::Bytes);
    m.duration_ms(obs::kColdStartDurationMs, 1);
    EXPECT_TRUE(out.get().empty());
    m.configure("prod", true);
    m.count(obs::kPersistConflicts);
    ASSERT_EQ(out.get().size(), 1u);
    EXPECT_EQ(json::parse(out.get()[0])["Environment"], "prod");
}

TEST(Metrics, InvalidMetricsAreDroppedWithAWarning) {
    test::LogCapture logs;
    Lines out;
    obs::Metrics m("dev", true, out.sink(), fixed_clock());
    m.count("");
    m.count("_aws");
    m.count("Environment");
    m.count(std::string(256, 'x'));
    m.duration_ms(obs::kColdStartDurationMs, std::nan(""));
    m.gauge(obs::kDatabaseSizeBytes, std::numeric_limits<double>::infinity(), obs::Unit::Bytes);
    EXPECT_TRUE(out.get().empty());
    const auto lines = logs.lines();
    EXPECT_EQ(
        std::count_if(lines.begin(), lines.end(),
                      [](const json& l) { return l["message"] == "Dropped an invalid metric"; }),
        6);
}

TEST(Metrics, ConcurrentEmittersWriteWholeLines) {
    Lines out;
    obs::Metrics m("dev", true, out.sink(), fixed_clock());
    constexpr int kThreads = 8;
    constexpr int kEach = 250;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&m, t] {
            for (int i = 0; i < kEach; ++i) {
                if (t % 2 == 0) {
                    m.duration_ms(obs::kJournalAppendMs, i);
                } else {
                    m.count(obs::kPersistConflicts);
                }
                if (i == kEach / 2) m.configure(t % 3 == 0 ? "prod" : "dev", true);
            }
        });
    }
    for (auto& th : threads) th.join();
    const auto lines = out.get();
    ASSERT_EQ(lines.size(), static_cast<std::size_t>(kThreads * kEach));
    for (const auto& line : lines) expect_valid_emf(line);
}

TEST(Metrics, DefaultSinkIsOneLinePerDatumOnStdout) {
    obs::Metrics m("dev", true, {}, fixed_clock());
    testing::internal::CaptureStdout();
    m.count(obs::kDatabaseDownloadFailures);
    m.gauge(obs::kDatabaseSizeBytes, 42, obs::Unit::Bytes);
    const std::string text = testing::internal::GetCapturedStdout();
    std::vector<std::string> lines;
    std::size_t start = 0;
    for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
        lines.push_back(text.substr(start, nl - start));
    }
    EXPECT_EQ(start, text.size()) << "every line ends with a newline";
    ASSERT_EQ(lines.size(), 2u) << text;
    for (const auto& line : lines) expect_valid_emf(line);
}

TEST(Metrics, EnabledOnLambdaOrWhenAsked) {
    using k9::map_env;
    EXPECT_FALSE(obs::metrics_enabled(map_env({})));
    EXPECT_TRUE(obs::metrics_enabled(map_env({{"AWS_LAMBDA_FUNCTION_NAME", "k9-api-dev"}})));
    EXPECT_FALSE(obs::metrics_enabled(map_env({{"AWS_LAMBDA_FUNCTION_NAME", ""}})));
    EXPECT_TRUE(obs::metrics_enabled(map_env({{"K9_METRICS", "emf"}})));
    EXPECT_FALSE(
        obs::metrics_enabled(map_env({{"K9_METRICS", "off"}, {"AWS_LAMBDA_FUNCTION_NAME", "f"}})));
    EXPECT_TRUE(
        obs::metrics_enabled(map_env({{"K9_METRICS", "junk"}, {"AWS_LAMBDA_FUNCTION_NAME", "f"}})));
}

TEST(Metrics, ProcessWideInstanceIsConfiguredOnce) {
    Lines out;
    obs::Metrics& global = obs::metrics();
    EXPECT_EQ(&global, &obs::metrics());
    global.set_sink(out.sink());
    obs::configure_metrics("prod", true);
    obs::metrics().count(obs::kDatabaseUploadFailures);
    obs::configure_metrics("prod", false);
    obs::metrics().count(obs::kDatabaseUploadFailures);
    global.reset_sink();
    const auto lines = out.get();
    ASSERT_EQ(lines.size(), 1u);
    expect_valid_emf(lines[0]);
    const json j = json::parse(lines[0]);
    EXPECT_EQ(j["Environment"], "prod");
    EXPECT_EQ(j["DatabaseUploadFailures"], 1.0);
}

}  // namespace
}  // namespace k9
