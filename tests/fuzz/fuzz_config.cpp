// The configuration from the environment: config::load_config over variables carved from the
// input, one NAME=VALUE per line (any name; the value runs to the end of the line), and
// store::parse_store_url on every value.
// Allowed: ConfigError only (k9 turns it into exit code 2). Checked: a store URL k9 accepted
// is normalised (parsing its normal form again gives the same location); an accepted
// configuration has a valid bucket, key and absolute database file, and numbers in the
// ranges the variables document.

#include <map>
#include <optional>
#include <string>

#include "config/config.hpp"
#include "fuzz_target.hpp"
#include "store/error.hpp"
#include "store/key.hpp"

namespace {

using k9::fuzz::check;
namespace config = k9::config;
namespace store = k9::store;

// Where a relative K9_DB_PATH or the default store would be; never created.
const char* const kCwd = "/nonexistent/k9-fuzz-cwd";

void check_bucket(const std::string& bucket) {
    try {
        store::check_bucket_name("bucket", bucket);
    } catch (const k9::ConfigError& e) {
        k9::fuzz::fail("an invalid bucket name was accepted", e.what());
    }
}

void check_location(const store::StoreLocation& loc, const std::string& given) {
    store::StoreLocation again;
    try {
        again = store::parse_store_url("K9_STORE_URL", loc.url);
    } catch (const k9::ConfigError& e) {
        k9::fuzz::fail("parse_store_url refuses its own normal form", given + " -> " + e.what());
    }
    check(again.url == loc.url && again.kind == loc.kind && again.dir == loc.dir &&
              again.bucket == loc.bucket && again.prefix == loc.prefix &&
              again.keep_versions == loc.keep_versions,
          "parse_store_url's normal form parses to another location",
          given + " -> " + loc.url + " -> " + again.url);
    if (loc.kind == store::StoreLocation::Kind::File) {
        check(loc.dir.is_absolute(), "a file store folder is not absolute", loc.url);
    } else {
        check_bucket(loc.bucket);
        check(loc.prefix.empty() || (loc.prefix.front() != '/' && loc.prefix.back() != '/'),
              "an S3 prefix keeps a slash at an end", loc.prefix);
    }
}

template <class T>
void check_range(T value, T min, T max, const char* what) {
    check(value >= min && value <= max, "a setting is outside its documented range", what);
}

void check_config(const config::Config& c) {
    check_location(c.store, c.store.url);
    if (c.bucket) check_bucket(*c.bucket);
    try {
        k9::store::validate_key(c.key);
    } catch (const k9::store::StoreError& e) {
        k9::fuzz::fail("load_config accepted an invalid snapshot key", e.what());
    }
    check(c.db_path.is_absolute() && c.db_path.has_filename(),
          "the database file is not an absolute file path", c.db_path.string());
    check_range(c.s3.max_attempts, 1, 20, "AWS_MAX_ATTEMPTS");
    check_range<std::uint64_t>(c.s3.part_size, 5ull << 20, 5120ull << 20, "K9_S3_PART_SIZE_MB");
    check_range(c.s3.concurrency, 1, 64, "K9_S3_CONCURRENCY");
    check_range<std::size_t>(c.api.max_body_bytes, 1024, 64u << 20, "K9_MAX_BODY_BYTES");
    check_range<std::size_t>(c.durability.max_batch, 1, 10000, "K9_JOURNAL_MAX_BATCH");
    check(!c.api.jwt_secret || c.api.jwt_secret->size() >= 32,
          "a short K9_JWT_SECRET was accepted");
}

}  // namespace

K9_FUZZ_TARGET(data, size) {
    const std::string_view text = k9::fuzz::as_text(data, size);
    std::map<std::string, std::string> vars;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        const std::string_view line = text.substr(start, end - start);
        const std::size_t eq = line.find('=');
        if (eq != std::string_view::npos) {
            vars[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
        }
        start = end + 1;
    }

    for (const auto& [name, value] : vars) {
        std::optional<store::StoreLocation> location;
        try {
            location = store::parse_store_url(name, value);
        } catch (const k9::ConfigError&) {
            continue;
        }
        check_location(*location, value);
    }
    std::optional<config::Config> loaded;
    try {
        loaded = config::load_config(k9::map_env(vars), kCwd);
    } catch (const k9::ConfigError&) {
        return 0;
    }
    check_config(*loaded);
    return 0;
}
