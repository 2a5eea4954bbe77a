#include <algorithm>
#include <charconv>

#include "config/config.hpp"

namespace k9::config {
namespace {

std::optional<std::string> get(const EnvLookup& env, const std::string& name) {
    auto v = env(name);
    if (v && v->empty()) return std::nullopt;
    return v;
}

long long parse_int(const std::string& variable, const std::string& text, long long min,
                    long long max) {
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) {
        throw ConfigError(variable, "'" + text + "' is not allowed (a whole number from " +
                                        std::to_string(min) + " to " + std::to_string(max) + ")");
    }
    return value;
}

std::string check_endpoint(const std::string& variable, std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    const bool scheme_ok = url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
    const auto host_start = url.find("://") + 3;
    if (!scheme_ok || host_start >= url.size() || url.find('/', host_start) != std::string::npos) {
        throw ConfigError(variable,
                          "'" + url + "' is not an endpoint URL (allowed: http(s)://host[:port])");
    }
    return url;
}

}  // namespace

S3Settings load_s3_settings(const EnvLookup& env, std::vector<Setting>* settings) {
    S3Settings s;
    auto note = [&](const std::string& var, const std::string& value, bool from_env) {
        if (settings != nullptr)
            settings->push_back({var, value, from_env ? "environment" : "default"});
    };
    if (auto e = get(env, "AWS_ENDPOINT_URL_S3")) {
        s.endpoint = check_endpoint("AWS_ENDPOINT_URL_S3", *e);
    } else if (auto g = get(env, "AWS_ENDPOINT_URL")) {
        s.endpoint = check_endpoint("AWS_ENDPOINT_URL", *g);
    }
    note("S3 endpoint", s.endpoint.value_or("AWS (virtual-hosted)"), s.endpoint.has_value());

    auto region = get(env, "AWS_REGION");
    if (!region) region = get(env, "AWS_DEFAULT_REGION");
    if (region) {
        const bool ok = std::all_of(region->begin(), region->end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
        });
        if (!ok)
            throw ConfigError("AWS_REGION",
                              "'" + *region + "' is not a region name (e.g. us-east-1)");
        s.region = *region;
    }
    note("AWS_REGION", s.region, region.has_value());

    if (auto v = get(env, "AWS_MAX_ATTEMPTS"))
        s.max_attempts = static_cast<int>(parse_int("AWS_MAX_ATTEMPTS", *v, 1, 20));
    if (auto v = get(env, "K9_S3_PART_SIZE_MB"))
        s.part_size = static_cast<std::uint64_t>(parse_int("K9_S3_PART_SIZE_MB", *v, 5, 5120))
                      << 20;
    if (auto v = get(env, "K9_S3_MULTIPART_THRESHOLD_MB")) {
        s.multipart_threshold =
            static_cast<std::uint64_t>(parse_int("K9_S3_MULTIPART_THRESHOLD_MB", *v, 5, 5120))
            << 20;
    }
    if (auto v = get(env, "K9_S3_CONCURRENCY"))
        s.concurrency = static_cast<int>(parse_int("K9_S3_CONCURRENCY", *v, 1, 64));
    if (auto v = get(env, "K9_S3_RETRY_BASE_MS"))
        s.retry_base_ms = static_cast<int>(parse_int("K9_S3_RETRY_BASE_MS", *v, 1, 20000));
    if (auto v = get(env, "K9_S3_STALL_TIMEOUT_S"))
        s.stall_timeout_s = static_cast<int>(parse_int("K9_S3_STALL_TIMEOUT_S", *v, 1, 3600));
    if (auto v = get(env, "K9_S3_PARALLEL_BELOW_MBPS")) {
        s.parallel_below_mbps =
            static_cast<int>(parse_int("K9_S3_PARALLEL_BELOW_MBPS", *v, 0, 1000000));
    }
    note("AWS_MAX_ATTEMPTS", std::to_string(s.max_attempts),
         get(env, "AWS_MAX_ATTEMPTS").has_value());
    note("K9_S3_CONCURRENCY", std::to_string(s.concurrency),
         get(env, "K9_S3_CONCURRENCY").has_value());

    if (auto v = get(env, "K9_S3_SSE")) {
        if (*v == "AES256" || *v == "aws:kms") {
            s.sse = *v;
        } else if (*v == "none") {
            s.sse.clear();
        } else {
            throw ConfigError("K9_S3_SSE",
                              "'" + *v + "' is not allowed (allowed: AES256, aws:kms, none)");
        }
    }
    if (auto v = get(env, "K9_S3_SSE_KMS_KEY_ID")) {
        if (s.sse != "aws:kms")
            throw ConfigError("K9_S3_SSE_KMS_KEY_ID", "is only used with K9_S3_SSE=aws:kms");
        s.sse_kms_key_id = *v;
    }
    note("K9_S3_SSE",
         s.sse.empty()
             ? "none"
             : s.sse + (s.sse_kms_key_id.empty() ? "" : " (key " + s.sse_kms_key_id + ")"),
         get(env, "K9_S3_SSE").has_value());
    return s;
}

}  // namespace k9::config
