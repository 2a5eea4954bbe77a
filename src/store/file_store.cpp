#include "store/file_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "common/checksum.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/json_integer.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "store/key.hpp"

namespace k9::store {
namespace stdfs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kInternalDir = ".k9store";
constexpr std::size_t kCopyChunk = 4u << 20;
constexpr std::size_t kVersionTimeDigits = 20;  // version ids: <20 digits of µs>-<8 hex>

// What the meta file records about one object (or one version of it). Its
// last_modified is written for people reading the file; the store reports the mtime
// the kernel gave the object's bytes instead (see stat_at).
struct Meta {
    std::string etag;
    std::string checksum;  // XXH3-128 hex
    std::uint64_t size = 0;
    std::uint64_t inode = 0;
    std::int64_t last_modified = 0;
    std::string version_id;
    Metadata metadata;
    bool delete_marker = false;
};

json to_json(const Meta& m) {
    return json{{"etag", m.etag},
                {"xxh128", m.checksum},
                {"size", m.size},
                {"inode", m.inode},
                {"last_modified", m.last_modified},
                {"version_id", m.version_id},
                {"metadata", m.metadata},
                {"delete_marker", m.delete_marker}};
}

std::optional<Meta> meta_from_json(const std::string& text) {
    try {
        const json j = json::parse(text);
        Meta m;
        m.etag = j.at("etag").get<std::string>();
        m.checksum = j.at("xxh128").get<std::string>();
        m.size = json_integer<std::uint64_t>(j.at("size"));
        m.inode = json_integer<std::uint64_t>(j.at("inode"));
        m.last_modified = json_integer<std::int64_t>(j.at("last_modified"));
        m.version_id = j.value("version_id", "");
        m.metadata = j.value("metadata", Metadata{});
        m.delete_marker = j.value("delete_marker", false);
        return m;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

std::string etag_of(const std::string& checksum) {
    return "\"" + checksum + "\"";
}

// Status of `path` (relative to `dirfd`) with the times the filesystem recorded.
// fstatat, never stat() or fstat(): libfaketime (Debian 12's 0.9.10) shifts the times
// those two report by the process's fake offset, and every time the store reports must
// come from one clock, the filesystem's, whatever the reading process believes.
bool stat_at(int dirfd, const char* path, struct stat& st, int flags = 0) {
    return ::fstatat(dirfd, path, &st, flags) == 0;
}

std::int64_t mtime_micros(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000 + st.st_mtim.tv_nsec / 1000;
}

// The mtime of `path` in microseconds; 0 when it cannot be read.
std::int64_t file_mtime(const stdfs::path& path) {
    struct stat st {};
    return stat_at(AT_FDCWD, path.c_str(), st) ? mtime_micros(st) : 0;
}

// The time a version id starts with ("null", for objects written before versions: 0).
std::int64_t version_time(const std::string& id) {
    if (id.size() <= kVersionTimeDigits ||
        !std::all_of(id.begin(), id.begin() + kVersionTimeDigits,
                     [](char c) { return c >= '0' && c <= '9'; })) {
        return 0;
    }
    return std::stoll(id.substr(0, kVersionTimeDigits));
}

std::string format_version_id(std::int64_t micros) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%020lld", static_cast<long long>(micros));
    const std::string rnd = random_bytes(4);
    return std::string(buf) + "-" + to_hex(reinterpret_cast<const unsigned char*>(rnd.data()), 4);
}

ObjectInfo info_of(const std::string& key, const Meta& m, std::int64_t server_time = 0) {
    ObjectInfo info{key, m.size, m.etag, m.version_id, m.last_modified, m.metadata, m.checksum};
    info.server_time = server_time;
    return info;
}

fs::Fd open_dest(const stdfs::path& dest) {
    const int fd = ::open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fs::throw_errno("open for writing", dest);
    return fs::Fd(fd);
}

// Copies [offset, offset+length) of `in` to `out`, hashing when `hash` is set.
std::uint64_t copy_span(int in, const stdfs::path& in_path, int out, const stdfs::path& out_path,
                        std::uint64_t offset, std::uint64_t length, Xxh128* hash,
                        const ProgressFn& progress) {
    std::vector<char> buf(std::min<std::uint64_t>(kCopyChunk, std::max<std::uint64_t>(length, 1)));
    std::uint64_t done = 0;
    while (done < length) {
        const std::size_t want =
            static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), length - done));
        const std::size_t n = fs::pread_full(in, buf.data(), want, offset + done, in_path);
        if (n == 0) break;
        if (hash != nullptr) hash->update(buf.data(), n);
        fs::write_all(out, buf.data(), n, out_path);
        done += n;
        if (progress) progress(done, length);
    }
    return done;
}

}  // namespace

struct FileStore::Located {
    Meta meta;
    stdfs::path file;
};

struct FileStore::Staged {
    fs::TempFile file;
    std::string checksum;
    std::uint64_t size = 0;
};

FileStore::FileStore(stdfs::path root, FileStoreOptions options)
    : root_(std::move(root)), internal_(root_ / kInternalDir), options_(options) {
    if (!root_.is_absolute()) {
        throw StoreError(
            ErrorKind::InvalidArgument,
            "file store folder must be an absolute path, got '" + root_.string() + "'");
    }
    std::error_code ec;
    for (const char* sub : {"meta", "versions", "tmp"}) {
        stdfs::create_directories(internal_ / sub, ec);
        if (ec) {
            throw StoreError(ErrorKind::AccessDenied, "cannot create the file store at " +
                                                          root_.string() + ": " + ec.message());
        }
    }
    // Writes interrupted by a crash leave temp files. Their writer's lock tells them
    // apart from writes in progress, whatever any process's clock says.
    const std::string stems[] = {"put"};
    fs::remove_stale_temp_files(internal_ / "tmp", stems);
    // Without a clock file (a read-only store) server_time is 0: unknown.
    const int clock = ::open((internal_ / "clock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (clock >= 0) clock_ = fs::Fd(clock);
}

std::int64_t FileStore::store_now() const {
    // A write makes the kernel stamp the file's mtime with the filesystem's clock.
    // utimensat(UTIME_NOW) would not do: libfaketime fakes it, writing the fake time.
    struct stat st {};
    if (!clock_ || ::pwrite(clock_.get(), "", 1, 0) != 1 ||
        !stat_at(clock_.get(), "", st, AT_EMPTY_PATH)) {
        return 0;
    }
    return mtime_micros(st);
}

std::string FileStore::next_version_id(const std::string& key,
                                       const std::optional<Located>& current) const {
    std::int64_t t = store_now();
    if (t == 0) t = system_now();
    if (current) t = std::max(t, version_time(current->meta.version_id) + 1);
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator(versions_dir(key), ec)) {
        if (entry.path().extension() == ".json")
            t = std::max(t, version_time(entry.path().stem().string()) + 1);
    }
    return format_version_id(t);
}

stdfs::path FileStore::data_path(const std::string& key) const {
    return root_ / key;
}
stdfs::path FileStore::meta_path(const std::string& key) const {
    return internal_ / "meta" / (key + ".json");
}
stdfs::path FileStore::versions_dir(const std::string& key) const {
    return internal_ / "versions" / key;
}

std::string FileStore::url_for(const std::string& key) const {
    return "file://" + (root_ / key).string();
}

std::optional<FileStore::Located> FileStore::locate(
    const std::string& key, const std::optional<std::string>& version) const {
    const stdfs::path data = data_path(key);
    struct stat st {};
    const bool exists = stat_at(AT_FDCWD, data.c_str(), st) && S_ISREG(st.st_mode);
    std::optional<Meta> meta;
    if (exists) {
        std::error_code ec;
        if (stdfs::exists(meta_path(key), ec)) meta = meta_from_json(fs::read_file(meta_path(key)));
        if (meta && meta->inode == st.st_ino &&
            meta->size != static_cast<std::uint64_t>(st.st_size)) {
            throw StoreError(ErrorKind::Corrupt,
                             "object " + url_for(key) + " is " + std::to_string(st.st_size) +
                                 " bytes but was stored as " + std::to_string(meta->size) +
                                 ": the file was changed outside k9 (use k9db --upload to replace "
                                 "a database) or the disk is damaged");
        }
        if (!meta || meta->inode != st.st_ino) {
            // Replaced outside k9, or a crash between the two renames of a put.
            log::warning("file store: recomputing the checksum of an object whose meta is stale",
                         {{"object", url_for(key)}});
            Meta fresh;
            fresh.checksum = xxh128_file_hex(data);
            fresh.etag = etag_of(fresh.checksum);
            fresh.size = static_cast<std::uint64_t>(st.st_size);
            fresh.inode = st.st_ino;
            meta = fresh;
        }
        meta->last_modified = mtime_micros(st);
    }
    if (!version || (meta && meta->version_id == *version)) {
        if (!exists) return std::nullopt;
        return Located{*meta, data};
    }
    // An archived version.
    validate_version_id(*version);
    const stdfs::path vdir = versions_dir(key);
    std::error_code ec;
    if (!stdfs::exists(vdir / (*version + ".json"), ec)) return std::nullopt;
    auto vmeta = meta_from_json(fs::read_file(vdir / (*version + ".json")));
    if (!vmeta || vmeta->delete_marker) return std::nullopt;
    vmeta->last_modified = file_mtime(vdir / *version);  // a hard link to the bytes as written
    return Located{*vmeta, vdir / *version};
}

ObjectInfo FileStore::head(const std::string& key) {
    validate_key(key);
    fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Shared);
    auto found = locate(key, std::nullopt);
    if (!found) throw StoreError(ErrorKind::NotFound, "no object at " + url_for(key));
    return info_of(key, found->meta, store_now());
}

ObjectInfo FileStore::get_file(const std::string& key, const stdfs::path& dest,
                               const GetOptions& options) {
    validate_key(key);
    Located found;
    fs::Fd in;
    {
        fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Shared);
        auto located = locate(key, options.version_id);
        if (!located) {
            throw StoreError(
                ErrorKind::NotFound,
                "no object at " + url_for(key) +
                    (options.version_id ? " with version " + *options.version_id : ""));
        }
        found = std::move(*located);
        in = fs::open_read(found.file);  // keeps these bytes even if a put replaces them
    }
    if (options.if_match && *options.if_match != found.meta.etag) {
        throw StoreError(ErrorKind::PreconditionFailed, "object " + url_for(key) +
                                                            " changed: ETag is " + found.meta.etag +
                                                            ", expected " + *options.if_match);
    }
    fs::Fd out = open_dest(dest);
    const std::uint64_t size = found.meta.size;
    if (options.range) {
        auto [first, last] = *options.range;
        if (first > last || first >= size) {
            throw StoreError(ErrorKind::InvalidArgument,
                             "byte range " + std::to_string(first) + "-" + std::to_string(last) +
                                 " is outside object " + url_for(key) + " of " +
                                 std::to_string(size) + " bytes");
        }
        last = std::min(last, size - 1);
        copy_span(in.get(), found.file, out.get(), dest, first, last - first + 1, nullptr,
                  options.progress);
    } else {
        Xxh128 hash;
        const std::uint64_t copied =
            copy_span(in.get(), found.file, out.get(), dest, 0, size, &hash, options.progress);
        if (copied != size || hash.hex() != found.meta.checksum) {
            throw StoreError(ErrorKind::Corrupt,
                             "object " + url_for(key) +
                                 " does not match its checksum (the file was changed outside k9 "
                                 "or the disk is damaged); restore it from a version or re-upload");
        }
    }
    return info_of(key, found.meta, store_now());
}

std::string FileStore::get_bytes(const std::string& key, ObjectInfo* info) {
    validate_key(key);
    Located found;
    fs::Fd in;
    {
        fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Shared);
        auto located = locate(key, std::nullopt);
        if (!located) throw StoreError(ErrorKind::NotFound, "no object at " + url_for(key));
        found = std::move(*located);
        in = fs::open_read(found.file);
    }
    std::string bytes(found.meta.size, '\0');
    const std::size_t n = fs::pread_full(in.get(), bytes.data(), bytes.size(), 0, found.file);
    if (n != bytes.size() || xxh128_hex(bytes) != found.meta.checksum) {
        throw StoreError(ErrorKind::Corrupt,
                         "object " + url_for(key) + " does not match its checksum");
    }
    if (info != nullptr) *info = info_of(key, found.meta, store_now());
    return bytes;
}

ObjectInfo FileStore::put_file(const stdfs::path& src, const std::string& key,
                               const PutOptions& options) {
    validate_key(key);
    validate_metadata(options.metadata);
    Staged staged{fs::TempFile(internal_ / "tmp", "put"), {}, 0};
    fs::Fd in;
    try {
        in = fs::open_read(src);
    } catch (const fs::IoError& e) {
        throw StoreError(ErrorKind::InvalidArgument,
                         std::string("cannot read upload source: ") + e.what());
    }
    struct stat st {};
    if (::fstat(in.get(), &st) != 0) fs::throw_errno("stat", src);
    Xxh128 hash;
    staged.size = copy_span(in.get(), src, staged.file.fd(), staged.file.path(), 0,
                            static_cast<std::uint64_t>(st.st_size), &hash, options.progress);
    staged.checksum = hash.hex();
    return commit(std::move(staged), key, options);
}

ObjectInfo FileStore::put_bytes(std::string_view bytes, const std::string& key,
                                const PutOptions& options) {
    validate_key(key);
    validate_metadata(options.metadata);
    Staged staged{fs::TempFile(internal_ / "tmp", "put"), xxh128_hex(bytes), bytes.size()};
    fs::write_all(staged.file.fd(), bytes.data(), bytes.size(), staged.file.path());
    return commit(std::move(staged), key, options);
}

ObjectInfo FileStore::commit(Staged staged, const std::string& key, const PutOptions& options) {
    ::fchmod(staged.file.fd(), 0644);  // objects are plain readable files, like cp makes
    fs::fsync_fd(staged.file.fd(), staged.file.path());
    struct stat st {};
    if (!stat_at(staged.file.fd(), "", st, AT_EMPTY_PATH))
        fs::throw_errno("stat", staged.file.path());

    Meta meta;
    meta.checksum = staged.checksum;
    meta.etag = etag_of(staged.checksum);
    meta.size = staged.size;
    meta.inode = st.st_ino;
    meta.last_modified = mtime_micros(st);  // when the kernel took the bytes: the store's clock
    meta.metadata = options.metadata;

    const stdfs::path data = data_path(key);
    const stdfs::path metap = meta_path(key);
    fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Exclusive);
    const auto current = locate(key, std::nullopt);
    const Precondition& pre = options.precondition;
    if (pre.kind == Precondition::Kind::IfNoneMatchAny && current) {
        throw StoreError(ErrorKind::PreconditionFailed,
                         "object " + url_for(key) + " already exists (create-only write refused)");
    }
    if (pre.kind == Precondition::Kind::IfMatch && (!current || current->meta.etag != pre.etag)) {
        throw StoreError(ErrorKind::PreconditionFailed,
                         "object " + url_for(key) + " changed: expected ETag " + pre.etag +
                             ", found " +
                             (current ? current->meta.etag : std::string("no object")));
    }
    std::error_code ec;
    if (stdfs::is_directory(data, ec)) {
        throw StoreError(ErrorKind::InvalidArgument,
                         "key '" + key +
                             "' cannot be stored in the file store: other keys start with '" + key +
                             "/'");
    }
    stdfs::create_directories(data.parent_path(), ec);
    if (!ec) stdfs::create_directories(metap.parent_path(), ec);
    if (ec) {
        throw StoreError(ErrorKind::InvalidArgument,
                         "key '" + key +
                             "' cannot be stored in the file store: a part of its path is "
                             "already an object (" +
                             ec.message() + ")");
    }
    if (options_.keep_versions) {
        meta.version_id = next_version_id(key, current);
        if (current) archive_current(key, *current);
    }

    // Data first: a crash before the meta rename leaves a meta whose inode does not
    // match, which locate() detects and repairs from the bytes. The temp file stays
    // locked until renamed, so no other process takes it for a dead writer's.
    staged.file.commit_to(data);
    fs::atomic_write(metap, to_json(meta).dump());
    return info_of(key, meta, store_now());
}

void FileStore::archive_current(const std::string& key, const Located& current) {
    const stdfs::path vdir = versions_dir(key);
    stdfs::create_directories(vdir);
    Meta archived = current.meta;
    if (archived.version_id.empty()) archived.version_id = "null";  // written before versions
    const stdfs::path target = vdir / archived.version_id;
    ::unlink(target.c_str());
    if (::link(current.file.c_str(), target.c_str()) != 0) fs::throw_errno("link version", target);
    fs::atomic_write(vdir / (archived.version_id + ".json"), to_json(archived).dump());
}

void FileStore::remove(const std::string& key) {
    validate_key(key);
    fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Exclusive);
    const auto current = locate(key, std::nullopt);
    if (!current) return;
    if (options_.keep_versions) {
        Meta marker;
        marker.version_id = next_version_id(key, current);
        archive_current(key, *current);
        marker.last_modified = store_now();  // reported: the mtime of the marker's file
        marker.delete_marker = true;
        fs::atomic_write(versions_dir(key) / (marker.version_id + ".json"), to_json(marker).dump());
    }
    const stdfs::path data = data_path(key);
    if (::unlink(data.c_str()) != 0 && errno != ENOENT) fs::throw_errno("delete", data);
    ::unlink(meta_path(key).c_str());
    fs::fsync_dir(data.parent_path());
    remove_empty_parents(data.parent_path(), root_);
    remove_empty_parents(meta_path(key).parent_path(), internal_ / "meta");
}

void FileStore::remove_empty_parents(stdfs::path dir, const stdfs::path& stop) const {
    while (dir != stop && dir.string().size() > stop.string().size()) {
        if (::rmdir(dir.c_str()) != 0) return;  // not empty (or gone): stop
        dir = dir.parent_path();
    }
}

std::vector<std::string> FileStore::keys_with_prefix(const std::string& prefix,
                                                     const std::string& start_after) const {
    if (prefix.find('\0') != std::string::npos) {
        throw StoreError(ErrorKind::InvalidArgument, "list prefix must not contain NUL");
    }
    // Walk only the folder the prefix names; filter the rest by string comparison.
    const std::size_t slash = prefix.rfind('/');
    const std::string dir_part = slash == std::string::npos ? "" : prefix.substr(0, slash);
    if (dir_part.find("..") != std::string::npos) return {};
    const stdfs::path start = dir_part.empty() ? root_ : root_ / dir_part;

    std::vector<std::string> keys;
    std::error_code ec;
    stdfs::recursive_directory_iterator it(start, ec), end;
    for (; !ec && it != end; it.increment(ec)) {
        if (it->path() == internal_) {
            it.disable_recursion_pending();
            continue;
        }
        if (!it->is_regular_file(ec)) continue;
        std::string key = it->path().lexically_relative(root_).generic_string();
        if (key.compare(0, prefix.size(), prefix) != 0 || key <= start_after) continue;
        keys.push_back(std::move(key));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
}

std::vector<ObjectInfo> FileStore::list(const std::string& prefix, const std::string& start_after,
                                        std::size_t max_keys) {
    fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Shared);
    std::vector<std::string> keys = keys_with_prefix(prefix, start_after);
    if (max_keys != 0 && keys.size() > max_keys) keys.resize(max_keys);
    std::vector<ObjectInfo> out;
    out.reserve(keys.size());
    for (const auto& key : keys) {
        if (auto found = locate(key, std::nullopt)) {
            ObjectInfo info = info_of(key, found->meta);
            info.metadata.clear();
            out.push_back(std::move(info));
        }
    }
    return out;
}

std::vector<VersionInfo> FileStore::list_versions(const std::string& key) {
    validate_key(key);
    fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Shared);
    return versions_of(key);
}

std::vector<VersionInfo> FileStore::list_all_versions(const std::string& prefix) {
    if (!options_.keep_versions) return {};
    fs::FileLock lock(internal_ / "lock", fs::FileLock::Mode::Shared);
    const std::vector<std::string> current = keys_with_prefix(prefix, "");
    std::set<std::string> keys(current.begin(), current.end());
    // Keys whose versions outlive them: DIR/.k9store/versions/<key>/<id>.json.
    const stdfs::path versions_root = internal_ / "versions";
    std::error_code ec;
    for (stdfs::recursive_directory_iterator it(versions_root, ec), end; !ec && it != end;
         it.increment(ec)) {
        if (it->path().extension() != ".json" || !it->is_regular_file(ec)) continue;
        std::string key =
            it->path().parent_path().lexically_relative(versions_root).generic_string();
        if (key.compare(0, prefix.size(), prefix) == 0) keys.insert(std::move(key));
    }
    std::vector<VersionInfo> out;
    for (const auto& key : keys) {
        auto versions = versions_of(key);
        out.insert(out.end(), std::make_move_iterator(versions.begin()),
                   std::make_move_iterator(versions.end()));
    }
    return out;
}

std::vector<VersionInfo> FileStore::versions_of(const std::string& key) const {
    std::vector<VersionInfo> out;
    if (auto current = locate(key, std::nullopt)) {
        const Meta& m = current->meta;
        out.push_back({key, m.version_id.empty() ? "null" : m.version_id, m.size, m.etag,
                       m.last_modified, true, false});
    }
    std::error_code ec;
    for (const auto& entry : stdfs::directory_iterator(versions_dir(key), ec)) {
        if (entry.path().extension() != ".json") continue;
        auto m = meta_from_json(fs::read_file(entry.path()));
        if (!m) continue;
        if (!out.empty() && out.front().is_latest && out.front().version_id == m->version_id)
            continue;
        // A version's time is its bytes' (a hard link to them); a delete marker's, its file's.
        const stdfs::path timed =
            m->delete_marker ? entry.path() : entry.path().parent_path() / m->version_id;
        out.push_back(
            {key, m->version_id, m->size, m->etag, file_mtime(timed), false, m->delete_marker});
    }
    std::sort(out.begin(), out.end(), [](const VersionInfo& a, const VersionInfo& b) {
        if (a.is_latest != b.is_latest) return a.is_latest;
        return a.version_id > b.version_id;  // ids start with the time: newest first
    });
    if (!out.empty() && !out.front().is_latest && out.front().is_delete_marker)
        out.front().is_latest = true;
    return out;
}

}  // namespace k9::store
