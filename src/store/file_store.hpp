#pragma once
// file://DIR — the embedded object store: objects are plain files under DIR, so
// `cp DIR/databases/k9_api_dev.db x.db` gives a working database.
//
// Layout:
//   DIR/<key>                          the object's bytes
//   DIR/.k9store/meta/<key>.json       etag (XXH3-128 of the bytes), size, inode, metadata
//   DIR/.k9store/versions/<key>/<id>   earlier versions (when versions are kept)
//   DIR/.k9store/tmp/                  writes in progress
//   DIR/.k9store/lock                  flock: preconditions hold between processes
//   DIR/.k9store/clock                 written to read the filesystem's clock
//
// A put writes a temp file and fsyncs it, then, holding the lock exclusively, checks
// the precondition and renames it into place (fsyncing the directories). The meta
// file records the data file's inode, so a crash between the two renames is detected
// and the ETag recomputed from the bytes.
//
// Times are the filesystem's, never the calling process's, so that processes whose
// clocks disagree (another machine on a network folder, a process under faketime)
// agree on an object's age, server_time - last_modified, as they would with S3's Date
// and Last-Modified: last_modified is the mtime the kernel gave the object's bytes,
// server_time the mtime of DIR/.k9store/clock just after writing to it.

#include <filesystem>
#include <optional>

#include "common/fs.hpp"
#include "store/object_store.hpp"

namespace k9::store {

struct FileStoreOptions {
    bool keep_versions = false;  // keep every replaced or deleted object as a version
};

class FileStore final : public ObjectStore {
  public:
    // Creates DIR (and its .k9store) when missing. Throws InvalidArgument when DIR is
    // not absolute or cannot be created.
    explicit FileStore(std::filesystem::path root, FileStoreOptions options = {});

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
    // Empty unless the store keeps versions.
    std::vector<VersionInfo> list_all_versions(const std::string& prefix) override;
    std::string url_for(const std::string& key) const override;
    std::string display_name() const override { return "the file store"; }

    const std::filesystem::path& root() const { return root_; }

  private:
    struct Located;  // an object's meta plus the file holding its bytes
    struct Staged;   // a temp data file ready to be renamed into place

    std::filesystem::path data_path(const std::string& key) const;
    std::filesystem::path meta_path(const std::string& key) const;
    std::filesystem::path versions_dir(const std::string& key) const;
    std::optional<Located> locate(const std::string& key,
                                  const std::optional<std::string>& version) const;
    // The lock is held by the caller in these.
    std::vector<std::string> keys_with_prefix(const std::string& prefix,
                                              const std::string& start_after) const;
    std::vector<VersionInfo> versions_of(const std::string& key) const;
    // Newer than every id `key` has (held exclusively): newest-first order holds even
    // when the clock is coarse or stands still.
    std::string next_version_id(const std::string& key,
                                const std::optional<Located>& current) const;
    // The filesystem's clock (µs since the epoch); 0 when the clock file is not writable.
    std::int64_t store_now() const;
    ObjectInfo commit(Staged staged, const std::string& key, const PutOptions& options);
    void archive_current(const std::string& key, const Located& current);
    void remove_empty_parents(std::filesystem::path dir, const std::filesystem::path& stop) const;

    std::filesystem::path root_;
    std::filesystem::path internal_;
    FileStoreOptions options_;
    fs::Fd clock_;  // DIR/.k9store/clock
};

}  // namespace k9::store
