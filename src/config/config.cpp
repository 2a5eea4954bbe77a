#include "config/config.hpp"

#include <algorithm>

#include "store/error.hpp"
#include "store/key.hpp"

namespace k9::config {
namespace stdfs = std::filesystem;

namespace {

constexpr const char* kEnvironments[] = {"dev", "staging", "prod"};

bool valid_bucket_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::string trim_slashes(std::string s) {
    while (!s.empty() && s.front() == '/') s.erase(s.begin());
    while (!s.empty() && s.back() == '/') s.pop_back();
    return s;
}

}  // namespace

void check_bucket_name(const std::string& variable, const std::string& name) {
    const bool ok = name.size() >= 3 && name.size() <= 63 &&
                    std::all_of(name.begin(), name.end(), valid_bucket_char) &&
                    name.front() != '-' && name.front() != '.' && name.back() != '-' &&
                    name.back() != '.' && name.find("..") == std::string::npos;
    if (!ok) {
        throw ConfigError(variable, "'" + name +
                                        "' is not a valid S3 bucket name (3-63 characters: "
                                        "lowercase letters, digits, '-' and '.')");
    }
}

StoreLocation parse_store_url(const std::string& variable, const std::string& url) {
    StoreLocation loc;
    const std::string allowed = "allowed: file:///absolute/folder or s3://bucket[/prefix]";
    if (url.rfind("file://", 0) == 0) {
        std::string rest = url.substr(7);
        if (const auto q = rest.find('?'); q != std::string::npos) {
            const std::string query = rest.substr(q + 1);
            rest.resize(q);
            if (query == "versions=on" || query == "versions=true") {
                loc.keep_versions = true;
            } else if (query != "versions=off" && query != "versions=false" && !query.empty()) {
                throw ConfigError(variable, "unknown option '" + query + "' in '" + url +
                                                "' (allowed: ?versions=on)");
            }
        }
        if (rest.empty() || rest.front() != '/') {
            throw ConfigError(variable, "'" + url +
                                            "' must name an absolute folder, e.g. "
                                            "file:///var/lib/k9 (" +
                                            allowed + ")");
        }
        loc.kind = StoreLocation::Kind::File;
        loc.dir = stdfs::path(rest).lexically_normal();
        if (loc.dir.has_filename() == false && loc.dir != "/") loc.dir = loc.dir.parent_path();
        loc.url = "file://" + loc.dir.string() + (loc.keep_versions ? "?versions=on" : "");
        return loc;
    }
    if (url.rfind("s3://", 0) == 0) {
        const std::string rest = url.substr(5);
        const auto slash = rest.find('/');
        loc.kind = StoreLocation::Kind::S3;
        loc.bucket = rest.substr(0, slash);
        check_bucket_name(variable, loc.bucket);
        loc.prefix = slash == std::string::npos ? "" : trim_slashes(rest.substr(slash + 1));
        if (!loc.prefix.empty()) {
            try {
                store::validate_key(loc.prefix);
            } catch (const store::StoreError& e) {
                throw ConfigError(variable, "bad prefix in '" + url + "': " + e.what());
            }
        }
        loc.url = "s3://" + loc.bucket + (loc.prefix.empty() ? "" : "/" + loc.prefix);
        return loc;
    }
    throw ConfigError(variable, "'" + url + "' is not a store URL (" + allowed + ")");
}

Config load_config(const EnvLookup& env, const stdfs::path& cwd) {
    Config c;
    auto get = [&](const std::string& name) -> std::optional<std::string> {
        auto v = env(name);
        if (v && v->empty()) return std::nullopt;  // VAR= counts as unset
        return v;
    };

    if (auto e = get("ENVIRONMENT")) {
        if (std::find(std::begin(kEnvironments), std::end(kEnvironments), *e) ==
            std::end(kEnvironments)) {
            throw ConfigError("ENVIRONMENT",
                              "'" + *e + "' is not allowed (allowed: dev, staging, prod)");
        }
        c.environment = *e;
        c.settings.push_back({"ENVIRONMENT", *e, "environment"});
    } else {
        c.settings.push_back({"ENVIRONMENT", c.environment, "default"});
    }

    c.bucket = get("DATABASE_S3_BUCKET");
    if (c.bucket) {
        check_bucket_name("DATABASE_S3_BUCKET", *c.bucket);
        c.settings.push_back({"DATABASE_S3_BUCKET", *c.bucket, "environment"});
    } else {
        c.settings.push_back({"DATABASE_S3_BUCKET", "(not set)", "default"});
    }

    if (auto k = get("DATABASE_S3_KEY")) {
        try {
            store::validate_key(*k);
        } catch (const store::StoreError& e) {
            throw ConfigError("DATABASE_S3_KEY", e.what());
        }
        c.key = *k;
        c.settings.push_back({"DATABASE_S3_KEY", *k, "environment"});
    } else {
        c.key = "databases/k9_api_" + c.environment + ".db";
        c.settings.push_back(
            {"DATABASE_S3_KEY", c.key, "default: databases/k9_api_${ENVIRONMENT}.db"});
    }

    if (auto p = get("K9_DB_PATH")) {
        stdfs::path path(*p);
        if (path.is_relative()) path = cwd / path;
        path = path.lexically_normal();
        if (!path.has_filename()) {
            throw ConfigError("K9_DB_PATH", "'" + *p + "' must name a file, not a folder");
        }
        std::error_code ec;
        if (stdfs::is_directory(path, ec)) {
            throw ConfigError("K9_DB_PATH",
                              "'" + *p + "' is a folder; it must name the database file");
        }
        c.db_path = path;
        c.settings.push_back({"K9_DB_PATH", path.string(), "environment"});
    } else {
        c.db_path = "/tmp/k9_api.db";
        c.settings.push_back({"K9_DB_PATH", c.db_path.string(), "default"});
    }

    if (auto u = get("K9_STORE_URL")) {
        c.store = parse_store_url("K9_STORE_URL", *u);
        if (c.bucket && c.store.kind == StoreLocation::Kind::S3 && c.store.bucket != *c.bucket) {
            throw ConfigError("K9_STORE_URL", "names bucket '" + c.store.bucket +
                                                  "' but DATABASE_S3_BUCKET is '" + *c.bucket +
                                                  "'; set one of them, or make them agree");
        }
        c.settings.push_back({"K9_STORE_URL", c.store.url, "environment"});
    } else if (c.bucket) {
        c.store = parse_store_url("DATABASE_S3_BUCKET", "s3://" + *c.bucket);
        c.settings.push_back({"K9_STORE_URL", c.store.url, "default: s3://$DATABASE_S3_BUCKET"});
    } else {
        c.store = parse_store_url("K9_STORE_URL", "file://" + (cwd / ".k9" / "store").string());
        c.settings.push_back({"K9_STORE_URL", c.store.url,
                              "default: embedded file store (DATABASE_S3_BUCKET is not set)"});
    }
    const bool s3 = c.store.kind == StoreLocation::Kind::S3;
    c.s3 = load_s3_settings(env, s3 ? &c.settings : nullptr);
    c.durability = load_durability_settings(env, &c.settings);
    c.duckdb = load_duckdb_settings(env, &c.settings);
    c.api = load_api_settings(env);
    // In journal mode a persist is a compaction: the default count is higher.
    if (c.durability.journal && !env("K9_PERSIST_WRITES")) c.api.persist_writes = 1000;
    return c;
}

}  // namespace k9::config
