#include "obs/metrics.hpp"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/log.hpp"

namespace k9::obs {
namespace {

constexpr std::size_t kMaxNameLength = 255;  // CloudWatch's limit on a metric name
constexpr Micros kMicrosPerMilli = 1000;

void write_stdout(const std::string& line) {
    std::string text = line;
    text += '\n';
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fflush(stdout);
}

}  // namespace

std::string_view to_string(Unit unit) {
    switch (unit) {
        case Unit::Count:
            return "Count";
        case Unit::Bytes:
            return "Bytes";
        case Unit::Milliseconds:
            return "Milliseconds";
        case Unit::Seconds:
            return "Seconds";
        case Unit::None:
            return "None";
    }
    return "None";
}

Metrics::Metrics(std::string environment, bool enabled, Sink sink, Clock clock)
    : environment_(std::move(environment)),
      enabled_(enabled),
      sink_(std::move(sink)),
      clock_(std::move(clock)) {}

void Metrics::configure(std::string environment, bool enabled) {
    std::lock_guard lock(mutex_);
    environment_ = std::move(environment);
    enabled_ = enabled;
}

void Metrics::set_sink(Sink sink) {
    std::lock_guard lock(mutex_);
    sink_ = std::move(sink);
}

bool Metrics::enabled() const {
    std::lock_guard lock(mutex_);
    return enabled_;
}

std::string Metrics::environment() const {
    std::lock_guard lock(mutex_);
    return environment_;
}

void Metrics::count(std::string_view name, double value) {
    emit(name, value, Unit::Count);
}

void Metrics::gauge(std::string_view name, double value, Unit unit) {
    emit(name, value, unit);
}

void Metrics::duration_ms(std::string_view name, double ms) {
    emit(name, ms, Unit::Milliseconds);
}

std::string Metrics::emf_line(std::string_view environment, std::string_view name, double value,
                              Unit unit, Micros timestamp) {
    nlohmann::json metric = {{"Name", name}, {"Unit", to_string(unit)}};
    nlohmann::json directive = {{"Namespace", kNamespace},
                                {"Dimensions", nlohmann::json::array({{kDimension}})},
                                {"Metrics", nlohmann::json::array({metric})}};
    nlohmann::json line = {{"_aws",
                            {{"Timestamp", timestamp / kMicrosPerMilli},
                             {"CloudWatchMetrics", nlohmann::json::array({directive})}}},
                           {std::string(kDimension), environment}};
    line[std::string(name)] = value;
    return line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Metrics::emit(std::string_view name, double value, Unit unit) {
    // The name is a member of the same object as "_aws" and the dimension: it must not
    // collide with them, or the line would not be valid EMF. JSON has no NaN or infinity.
    if (name.empty() || name.size() > kMaxNameLength || name == "_aws" || name == kDimension ||
        !std::isfinite(value)) {
        log::warning("Dropped an invalid metric",
                     {{"metric", name}, {"value", std::to_string(value)}});
        return;
    }
    std::lock_guard lock(mutex_);  // held while writing: lines never interleave
    if (!enabled_) return;
    const std::string line = emf_line(environment_, name, value, unit, clock_());
    if (sink_) {
        sink_(line);
    } else {
        write_stdout(line);
    }
}

bool metrics_enabled(const k9::EnvLookup& env) {
    const auto setting = env("K9_METRICS");
    if (setting) {
        if (*setting == "emf") return true;
        if (*setting == "off" || *setting == "none") return false;
    }
    const auto function = env("AWS_LAMBDA_FUNCTION_NAME");
    return function && !function->empty();
}

Metrics& metrics() {
    static Metrics instance = [] {
        const auto env = k9::process_env();
        const auto environment = env("ENVIRONMENT");
        return Metrics(environment && !environment->empty() ? *environment : "dev",
                       metrics_enabled(env));
    }();
    return instance;
}

void configure_metrics(std::string environment, bool enabled) {
    metrics().configure(std::move(environment), enabled);
}

}  // namespace k9::obs
