#include "store/s3/object_headers.hpp"

#include <charconv>
#include <string_view>

#include "store/s3/xml.hpp"

namespace k9::store::s3 {

ObjectInfo object_info(const std::string& key, const http::Response& r) {
    ObjectInfo info;
    info.key = key;
    if (auto v = r.header("content-length")) info.size = std::stoull(*v);
    info.etag = r.header("etag").value_or("");
    info.version_id = r.header("x-amz-version-id").value_or("");
    if (info.version_id == "null") info.version_id.clear();
    if (auto v = r.header("last-modified")) info.last_modified = parse_s3_time(*v);
    info.server_time = server_time(r);
    constexpr std::string_view kPrefix = "x-amz-meta-";
    for (const auto& [name, value] : r.headers) {
        if (name.compare(0, kPrefix.size(), kPrefix) != 0) continue;
        const std::string meta = name.substr(kPrefix.size());
        if (meta == kChecksumMeta) {
            info.checksum = value;
        } else {
            info.metadata[meta] = value;
        }
    }
    return info;
}

std::int64_t server_time(const http::Response& r) {
    const auto date = r.header("date");
    return date ? parse_s3_time(*date) : 0;
}

http::Headers metadata_headers(const Metadata& metadata, const std::string& checksum) {
    http::Headers h;
    for (const auto& [name, value] : metadata) {
        if (name == kChecksumMeta) continue;  // k9's own, set below
        h.emplace_back("x-amz-meta-" + name, value);
    }
    if (!checksum.empty()) h.emplace_back(std::string("x-amz-meta-") + kChecksumMeta, checksum);
    return h;
}

std::optional<ContentRange> content_range(const http::Response& response) {
    const auto header = response.header("content-range");
    if (!header) return std::nullopt;
    // "bytes FIRST-LAST/TOTAL", nothing else.
    const std::string& h = *header;
    const char* p = h.data();
    const char* end = h.data() + h.size();
    auto number = [&](std::uint64_t& out, char stop) {
        const auto [next, ec] = std::from_chars(p, end, out);
        if (ec != std::errc() || next == p || (stop != '\0' && (next == end || *next != stop)))
            return false;
        p = stop != '\0' ? next + 1 : next;
        return true;
    };
    constexpr std::string_view kUnit = "bytes ";
    if (h.compare(0, kUnit.size(), kUnit) != 0) return std::nullopt;
    p += kUnit.size();
    ContentRange r;
    if (!number(r.first, '-') || !number(r.last, '/') || !number(r.total, '\0') || p != end ||
        r.first > r.last || r.last >= r.total) {
        return std::nullopt;
    }
    return r;
}

}  // namespace k9::store::s3
