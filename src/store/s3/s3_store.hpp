#pragma once
// s3://bucket[/prefix] — Amazon S3 and S3-compatible stores, through k9's own client
// (libcurl + SigV4 by k9).
//  - Downloads stream into the destination file, never into memory: one GET, helped by
//    parallel ranged GETs pinned with If-Match when a single connection is slow
//    (see download.hpp); k9's XXH3-128 (object metadata) is verified at the end.
//  - Uploads: one PUT below the multipart threshold, else a multipart upload with
//    parallel parts (aborted on failure, so no orphaned parts are left). Both carry
//    x-amz-checksum-crc32c (as headers, not aws-chunked trailers), k9's XXH3-128 in
//    metadata, server-side encryption, and the precondition (If-None-Match / If-Match).

#include <memory>

#include "common/env.hpp"
#include "common/time.hpp"
#include "store/location.hpp"
#include "store/object_store.hpp"
#include "store/s3/s3_client.hpp"
#include "store/s3/s3_settings.hpp"

namespace k9::store::s3 {

class S3Store final : public ObjectStore {
  public:
    S3Store(const store::StoreLocation& location, store::S3Settings settings,
            std::shared_ptr<CredentialsProvider> credentials, const Clock& clock = system_clock());

    ObjectInfo get_file(const std::string& key, const std::filesystem::path& dest,
                        const GetOptions& options = {}) override;
    std::string get_bytes(const std::string& key, ObjectInfo* info = nullptr) override;
    ObjectInfo put_file(const std::filesystem::path& src, const std::string& key,
                        const PutOptions& options = {}) override;
    ObjectInfo put_bytes(std::string_view bytes, const std::string& key,
                         const PutOptions& options = {}) override;
    ObjectInfo head(const std::string& key) override;
    std::vector<ObjectInfo> list(const std::string& prefix, const std::string& start_after = {},
                                 std::size_t max_keys = 0) override;
    void remove(const std::string& key) override;
    std::vector<VersionInfo> list_versions(const std::string& key) override;
    std::vector<VersionInfo> list_all_versions(const std::string& prefix) override;
    std::string url_for(const std::string& key) const override { return client_.url_for(key); }
    std::string display_name() const override { return "S3"; }

    S3Client& client() { return client_; }

  private:
    ObjectInfo put_multipart(const std::filesystem::path& src, std::uint64_t size,
                             const std::string& key, const PutOptions& options,
                             const std::string& checksum, const std::vector<std::string>& part_crcs,
                             std::uint64_t part_size);
    http::Headers write_headers(const PutOptions& options, const std::string& checksum) const;
    // ListObjectVersions of every key starting with `full_prefix` (bucket-relative),
    // all pages, in S3's order.
    std::vector<VersionInfo> versions_under(const std::string& full_prefix);

    store::StoreLocation location_;
    S3Client client_;
    Clock clock_;
};

// An S3Store with the default AWS credentials chain (environment, shared files,
// container credentials, EC2 instance metadata).
std::shared_ptr<S3Store> make_s3_store(const store::StoreLocation& location,
                                       const store::S3Settings& settings, const k9::EnvLookup& env);

}  // namespace k9::store::s3
