#include "store/s3/xml.hpp"

#include <pugixml.hpp>

#include <cstring>
#include <ctime>

#include "common/time.hpp"

namespace k9::store::s3 {
namespace {

pugi::xml_document parse(std::string_view body, const char* what) {
    pugi::xml_document doc;
    const auto result =
        doc.load_buffer(body.data(), body.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!result) {
        throw StoreError(ErrorKind::Transient, std::string("S3 sent a malformed ") + what +
                                                   " document (" + result.description() + ")");
    }
    return doc;
}

pugi::xml_node root(const pugi::xml_document& doc, const char* name, const char* what) {
    pugi::xml_node node = doc.child(name);
    if (!node)
        throw StoreError(ErrorKind::Transient,
                         std::string("S3 sent no <") + name + "> in its " + what);
    return node;
}

std::string text(const pugi::xml_node& node, const char* child) {
    return node.child(child).text().as_string();
}

std::uint64_t number(const pugi::xml_node& node, const char* child) {
    return node.child(child).text().as_ullong();
}

}  // namespace

std::optional<S3Error> parse_error(std::string_view body) {
    pugi::xml_document doc;
    if (body.empty() || !doc.load_buffer(body.data(), body.size())) return std::nullopt;
    const pugi::xml_node err = doc.child("Error");
    if (!err) return std::nullopt;
    return S3Error{text(err, "Code"), text(err, "Message"), text(err, "RequestId")};
}

ListPage parse_list_objects_v2(std::string_view body) {
    const auto doc = parse(body, "ListObjectsV2");
    const auto r = root(doc, "ListBucketResult", "ListObjectsV2 answer");
    ListPage page;
    for (const auto& c : r.children("Contents")) {
        ObjectInfo o;
        o.key = text(c, "Key");
        o.size = number(c, "Size");
        o.etag = text(c, "ETag");
        o.last_modified = parse_s3_time(text(c, "LastModified"));
        page.objects.push_back(std::move(o));
    }
    page.truncated = std::strcmp(r.child("IsTruncated").text().as_string(), "true") == 0;
    page.next_continuation_token = text(r, "NextContinuationToken");
    if (page.truncated && page.next_continuation_token.empty()) {
        throw StoreError(ErrorKind::Transient,
                         "S3 said the listing is truncated but gave no continuation token");
    }
    return page;
}

VersionsPage parse_list_object_versions(std::string_view body) {
    const auto doc = parse(body, "ListObjectVersions");
    const auto r = root(doc, "ListVersionsResult", "ListObjectVersions answer");
    VersionsPage page;
    for (const auto& node : r.children()) {
        const bool marker = std::strcmp(node.name(), "DeleteMarker") == 0;
        if (!marker && std::strcmp(node.name(), "Version") != 0) continue;
        VersionInfo v;
        v.key = text(node, "Key");
        v.version_id = text(node, "VersionId");
        v.is_latest = std::strcmp(node.child("IsLatest").text().as_string(), "true") == 0;
        v.last_modified = parse_s3_time(text(node, "LastModified"));
        v.is_delete_marker = marker;
        if (!marker) {
            v.size = number(node, "Size");
            v.etag = text(node, "ETag");
        }
        page.versions.push_back(std::move(v));
    }
    page.truncated = std::strcmp(r.child("IsTruncated").text().as_string(), "true") == 0;
    page.next_key_marker = text(r, "NextKeyMarker");
    page.next_version_id_marker = text(r, "NextVersionIdMarker");
    return page;
}

std::string parse_initiate_multipart(std::string_view body) {
    const auto doc = parse(body, "CreateMultipartUpload");
    std::string id = text(
        root(doc, "InitiateMultipartUploadResult", "CreateMultipartUpload answer"), "UploadId");
    if (id.empty())
        throw StoreError(ErrorKind::Transient, "S3 started a multipart upload without an UploadId");
    return id;
}

std::string complete_multipart_body(const std::vector<CompletedPart>& parts) {
    pugi::xml_document doc;
    auto r = doc.append_child("CompleteMultipartUpload");
    r.append_attribute("xmlns") = "http://s3.amazonaws.com/doc/2006-03-01/";
    for (const auto& p : parts) {
        auto part = r.append_child("Part");
        part.append_child("PartNumber").text().set(p.number);
        part.append_child("ETag").text().set(p.etag.c_str());
        if (!p.checksum_crc32c.empty())
            part.append_child("ChecksumCRC32C").text().set(p.checksum_crc32c.c_str());
    }
    struct Writer : pugi::xml_writer {
        std::string out;
        void write(const void* data, size_t size) override {
            out.append(static_cast<const char*>(data), size);
        }
    } writer;
    doc.save(writer, "", pugi::format_raw);
    return writer.out;
}

std::string parse_complete_multipart(std::string_view body) {
    const auto doc = parse(body, "CompleteMultipartUpload");
    // AWS names the root ...Result; some S3-compatible stores (moto) ...Response.
    if (auto r = doc.child("CompleteMultipartUploadResponse")) return text(r, "ETag");
    return text(root(doc, "CompleteMultipartUploadResult", "CompleteMultipartUpload answer"),
                "ETag");
}

std::int64_t parse_s3_time(std::string_view t) {
    if (auto iso = parse_iso8601(t)) return *iso;
    // RFC 1123: "Wed, 25 Nov 2026 17:18:52 GMT"
    std::tm tm{};
    const std::string s(t);
    if (strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm) != nullptr) {
        return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000;
    }
    return 0;
}

}  // namespace k9::store::s3
