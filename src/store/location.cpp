#include "store/location.hpp"

#include <algorithm>

#include "store/error.hpp"
#include "store/key.hpp"

namespace k9::store {
namespace stdfs = std::filesystem;

namespace {

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
                validate_key(loc.prefix);
            } catch (const StoreError& e) {
                throw ConfigError(variable, "bad prefix in '" + url + "': " + e.what());
            }
        }
        loc.url = "s3://" + loc.bucket + (loc.prefix.empty() ? "" : "/" + loc.prefix);
        return loc;
    }
    throw ConfigError(variable, "'" + url + "' is not a store URL (" + allowed + ")");
}

}  // namespace k9::store
