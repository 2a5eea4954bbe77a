// The "s3" variables of the registry, read into store::S3Settings.
#include <algorithm>

#include "config/config.hpp"

namespace k9::config {
namespace {

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

std::string check_region(const std::string& variable, const std::string& region) {
    const bool ok = std::all_of(region.begin(), region.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    });
    if (!ok) throw ConfigError(variable, "'" + region + "' is not a region name (e.g. us-east-1)");
    return region;
}

}  // namespace

store::S3Settings load_s3_settings(EnvReader& env) {
    store::S3Settings s;
    if (auto e = env.text("AWS_ENDPOINT_URL_S3")) {
        s.endpoint = check_endpoint("AWS_ENDPOINT_URL_S3", *e);
        env.show("AWS_ENDPOINT_URL_S3", *s.endpoint);
    } else if (auto g = env.text("AWS_ENDPOINT_URL")) {
        s.endpoint = check_endpoint("AWS_ENDPOINT_URL", *g);
        env.show("AWS_ENDPOINT_URL", *s.endpoint);
    }
    if (auto r = env.text("AWS_REGION")) {
        s.region = check_region("AWS_REGION", *r);
    } else if (auto d = env.text("AWS_DEFAULT_REGION")) {
        s.region = check_region("AWS_DEFAULT_REGION", *d);
    }
    s.max_attempts = static_cast<int>(env.number("AWS_MAX_ATTEMPTS", s.max_attempts));
    s.part_size = static_cast<std::uint64_t>(
                      env.number("K9_S3_PART_SIZE_MB", static_cast<long long>(s.part_size >> 20)))
                  << 20;
    s.multipart_threshold =
        static_cast<std::uint64_t>(env.number("K9_S3_MULTIPART_THRESHOLD_MB",
                                              static_cast<long long>(s.multipart_threshold >> 20)))
        << 20;
    s.concurrency = static_cast<int>(env.number("K9_S3_CONCURRENCY", s.concurrency));
    s.retry_base_ms = static_cast<int>(env.number("K9_S3_RETRY_BASE_MS", s.retry_base_ms));
    s.stall_timeout_s = static_cast<int>(env.number("K9_S3_STALL_TIMEOUT_S", s.stall_timeout_s));
    s.parallel_below_mbps =
        static_cast<int>(env.number("K9_S3_PARALLEL_BELOW_MBPS", s.parallel_below_mbps));
    if (auto v = env.text("K9_S3_SSE")) {
        if (*v == "AES256" || *v == "aws:kms") {
            s.sse = *v;
        } else if (*v == "none") {
            s.sse.clear();
        } else {
            throw ConfigError("K9_S3_SSE",
                              "'" + *v + "' is not allowed (allowed: AES256, aws:kms, none)");
        }
    }
    if (auto v = env.text("K9_S3_SSE_KMS_KEY_ID")) {
        if (s.sse != "aws:kms")
            throw ConfigError("K9_S3_SSE_KMS_KEY_ID", "is only used with K9_S3_SSE=aws:kms");
        s.sse_kms_key_id = *v;
    }
    return s;
}

}  // namespace k9::config
