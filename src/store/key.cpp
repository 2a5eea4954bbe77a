#include "store/key.hpp"

#include <algorithm>

#include "store/error.hpp"

namespace k9::store {
namespace {
constexpr std::size_t kMaxKeyBytes = 1024;

[[noreturn]] void reject(const std::string& key, const std::string& why) {
    throw StoreError(ErrorKind::InvalidArgument, "invalid object key '" + key + "': " + why);
}
}  // namespace

void validate_key(const std::string& key) {
    if (key.empty()) reject(key, "it is empty");
    if (key.size() > kMaxKeyBytes) reject(key.substr(0, 40) + "...", "longer than 1024 bytes");
    if (key.front() == '/') reject(key, "it starts with '/'");
    if (key.find('\0') != std::string::npos) reject(key, "it contains a NUL byte");
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = key.find('/', start);
        const std::string segment =
            key.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
        if (segment.empty()) reject(key, "it has an empty path segment ('//' or a trailing '/')");
        if (segment == "." || segment == "..") reject(key, "'.' and '..' segments are not allowed");
        if (start == 0 && segment == ".k9store") reject(key, "'.k9store/' is reserved");
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
}

void validate_version_id(const std::string& version_id) {
    const bool ok = !version_id.empty() && version_id.size() <= 1024 &&
                    std::all_of(version_id.begin(), version_id.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                               (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                    });
    if (!ok)
        throw StoreError(ErrorKind::InvalidArgument, "invalid version id '" + version_id + "'");
}

void validate_metadata(const std::map<std::string, std::string>& metadata) {
    for (const auto& [name, value] : metadata) {
        const bool name_ok = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        });
        const bool value_ok =
            std::all_of(value.begin(), value.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
        if (!name_ok || !value_ok) {
            throw StoreError(ErrorKind::InvalidArgument,
                             "metadata '" + name +
                                 "' is not allowed: names are lowercase letters, digits, '-' "
                                 "and '_'; values are printable ASCII");
        }
    }
}

}  // namespace k9::store
