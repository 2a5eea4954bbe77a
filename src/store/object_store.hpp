#pragma once
// ObjectStore: the only way k9 touches remote bytes. Two backends implement it:
// file:// (a local folder, the embedded default) and s3:// (Amazon S3 and compatible
// stores). Every operation either succeeds or throws StoreError; the same conformance
// suite (tests/store_conformance_test.cpp) runs against both.
//
// Keys are S3 object keys relative to the store's root (bucket + prefix, or folder).
// ETags are opaque tokens compared for equality only (S3 returns them quoted).
// Implementations are safe to call from several threads at once.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "store/error.hpp"

namespace k9::store {

// User metadata (x-amz-meta-*): lowercase ASCII names, ASCII values.
using Metadata = std::map<std::string, std::string>;

struct ObjectInfo {
    std::string key;
    std::uint64_t size = 0;
    std::string etag;
    std::string version_id;          // empty when the store keeps no versions
    std::int64_t last_modified = 0;  // microseconds since the epoch, by the store's clock
    Metadata metadata;               // filled by head/get/put, not by list
    // k9's XXH3-128 of the bytes (hex), recorded by every k9 put and verified by every
    // whole-object get; empty for objects k9 did not write (e.g. by `aws s3 cp`).
    std::string checksum;
    // The store's clock when it answered (S3: the response's Date header; the file
    // store: the filesystem's clock), microseconds since the epoch; 0 when unknown. Ages of objects
    // are server_time - last_modified: one clock, never the local one. Filled by head, get and put.
    std::int64_t server_time = 0;
};

struct VersionInfo {
    std::string key;
    std::string version_id;
    std::uint64_t size = 0;
    std::string etag;
    std::int64_t last_modified = 0;
    bool is_latest = false;
    bool is_delete_marker = false;
};

// A write precondition: none, create-only (If-None-Match: *), or replace exactly
// the version we read (If-Match: etag). When it does not hold, put throws
// PreconditionFailed and the stored object is unchanged.
struct Precondition {
    enum class Kind { None, IfNoneMatchAny, IfMatch };
    Kind kind = Kind::None;
    std::string etag;

    static Precondition none() { return {}; }
    static Precondition if_none_match_any() { return {Kind::IfNoneMatchAny, {}}; }
    static Precondition if_match(std::string etag) { return {Kind::IfMatch, std::move(etag)}; }
};

// Called as bytes move; `total` is 0 when unknown. Must be cheap and thread-safe.
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct GetOptions {
    // Inclusive byte range [first, last]; the whole object when unset.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> range;
    std::optional<std::string> if_match;    // PreconditionFailed if the ETag differs
    std::optional<std::string> version_id;  // a specific version instead of the latest
    ProgressFn progress;
};

struct PutOptions {
    Precondition precondition;
    Metadata metadata;
    ProgressFn progress;
};

class ObjectStore {
  public:
    virtual ~ObjectStore() = default;

    // Writes the object's bytes (or the range) to `dest`, created or truncated. On any
    // error `dest` may hold partial bytes: callers download into a temp file and
    // install it only after it is verified. Whole-object reads are checked against
    // the object's checksum when it has one: a mismatch throws Corrupt.
    virtual ObjectInfo get_file(const std::string& key, const std::filesystem::path& dest,
                                const GetOptions& options = {}) = 0;
    // Small objects (journal entries): the whole body in memory.
    virtual std::string get_bytes(const std::string& key, ObjectInfo* info = nullptr) = 0;

    // Stores the file's bytes at `key` atomically: readers see the old object or the
    // new one, never a mix. Records the bytes' checksum with the object. Returns the
    // new object's info (etag, version id, checksum).
    virtual ObjectInfo put_file(const std::filesystem::path& src, const std::string& key,
                                const PutOptions& options = {}) = 0;
    virtual ObjectInfo put_bytes(std::string_view bytes, const std::string& key,
                                 const PutOptions& options = {}) = 0;

    // Throws NotFound when there is no object.
    virtual ObjectInfo head(const std::string& key) = 0;

    // Objects whose key starts with `prefix` and sorts after `start_after`, in
    // ascending key order (bytewise), at most `max_keys` (0: all).
    virtual std::vector<ObjectInfo> list(const std::string& prefix,
                                         const std::string& start_after = {},
                                         std::size_t max_keys = 0) = 0;

    // Removes the object (or, with versions, adds a delete marker). No error when absent.
    virtual void remove(const std::string& key) = 0;

    // Versions of exactly `key`, newest first. Empty when the store keeps none.
    virtual std::vector<VersionInfo> list_versions(const std::string& key) = 0;

    // Every version and delete marker of every key starting with `prefix`: keys in
    // ascending order, newest first within a key. When the store keeps no versions it
    // is empty, or (S3, an unversioned bucket) lists each current object once as
    // version "null": either way no key has two entries.
    virtual std::vector<VersionInfo> list_all_versions(const std::string& prefix) = 0;

    // Where `key` lives, for messages: "s3://bucket/prefix/key", "file:///dir/key".
    virtual std::string url_for(const std::string& key) const = 0;
    // "S3" or "the file store": for messages such as "Database not found in S3: ...".
    virtual std::string display_name() const = 0;

    // Optional helper: head that returns nullopt instead of throwing NotFound.
    std::optional<ObjectInfo> head_if_exists(const std::string& key) {
        try {
            return head(key);
        } catch (const StoreError& e) {
            if (e.is_not_found()) return std::nullopt;
            throw;
        }
    }
};

}  // namespace k9::store
