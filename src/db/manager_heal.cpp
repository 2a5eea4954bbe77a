// DatabaseManager: a local copy that cannot apply what is in the store heals. In journal
// mode every acknowledged write is in the store, so the local file is a cache: it is
// dropped and loaded again from the snapshot (each partition then catches up when it is
// next used). In snapshot mode the local file holds the pending writes, so it is only
// reopened. Until that works, requests get Unavailable (503) and /health says why; a
// failing reload is retried at most once a second, by the requests that come.
#include <sys/statvfs.h>

#include <cerrno>

#include "common/log.hpp"
#include "db/manager.hpp"
#include "db/snapshot.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::StoreError;

namespace {
constexpr double kHealIntervalMs = 1000;  // between reload attempts while they fail
constexpr const char* kUnusableHint = "this copy of the database is being reloaded; retry shortly";

bool disk_full(const std::exception& e) {
    const auto* io = dynamic_cast<const fs::IoError*>(&e);
    if (io != nullptr) return io->errno_value() == ENOSPC || io->errno_value() == EDQUOT;
    return std::string_view(e.what()).find("No space left on device") != std::string_view::npos;
}

std::string mib(std::uint64_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}

void remove_file_and_wal(const stdfs::path& path) {
    for (const std::string ext : {"", ".wal"}) {
        std::error_code ec;
        stdfs::remove(path.string() + ext, ec);
    }
}
}  // namespace

Unavailable DatabaseManager::local_failure(const std::string& detail) {
    if (!unusable_) {
        log::error("The local database cannot apply what is in the store; it will be reloaded",
                   {{"db_path", options_.db_path.string()}, {"error", detail}});
    }
    unusable_ = true;
    db_.note_epoch();
    return health_.fail(HealthBoard::Slot::Local, {"local_copy_unusable", kUnusableHint, detail});
}

void DatabaseManager::ensure_usable() {
    if (!unusable_) return;
    std::lock_guard lock(heal_mutex_);
    if (!unusable_) return;
    if (last_heal_attempt_.is_set() && last_heal_attempt_.elapsed_ms() < kHealIntervalMs) {
        const auto issue = health_.get(HealthBoard::Slot::Local);
        throw Unavailable("local_copy_unusable", kUnusableHint,
                          issue ? issue->detail : "the local copy is unusable");
    }
    last_heal_attempt_ = Instant::now();
    try {
        if (journal_) {
            reload_file(true);
        } else {
            std::unique_lock gate(db_.write_gate());
            db_.close();
            db_.open();
        }
    } catch (const Unavailable&) {
        throw;  // on the board already
    } catch (const std::exception& e) {
        throw local_failure(disk_full(e) ? disk_full_message(e)
                                         : std::string("reloading failed: ") + e.what());
    }
    unusable_ = false;
    health_.clear(HealthBoard::Slot::Local);
    obs::metrics().count(obs::kCopyReloads);
    log::info("The local database was reloaded from the store",
              {{"seq", db_.total_seq()}, {"remote", remote_url()}});
}

void DatabaseManager::reload() {
    std::lock_guard lock(heal_mutex_);
    reload_file(false);
}

void DatabaseManager::reload_file(bool discard_local) {
    const stdfs::path& path = options_.db_path;
    if (discard_local) {
        // Everything in it is in the store; its space may be what the download needs.
        std::unique_lock gate(db_.write_gate());
        db_.close();
        remove_file_and_wal(path);
    }
    const Instant fetched_at = Instant::now();
    std::optional<FetchedSnapshot> fetched;  // readers and other partitions go on meanwhile
    try {
        fetched.emplace(fetch_snapshot(*store_, options_.key, path.parent_path(), {}, true));
    } catch (const StoreError& e) {
        if (!e.is_not_found())
            throw;  // no snapshot: a journal can only be this far behind with one
        throw std::runtime_error("the snapshot " + remote_url() +
                                 " is gone; restore a version (k9db versions)");
    }
    if (!snapshot_partitions(fetched->info)) {
        throw std::runtime_error(
            remote_url() + " is not a snapshot of the partitioned journal (k9-journal is not " +
            std::string(kJournalFormat) + "); restore a good version");
    }
    std::unique_lock gate(db_.write_gate());  // no transaction is open now
    db_.close();
    try {
        install_snapshot(*fetched, path);
        db_.open();
    } catch (const std::exception& e) {
        throw local_failure(disk_full(e)
                                ? disk_full_message(e)
                                : std::string("installing the snapshot failed: ") + e.what());
    }
    journal_->loaded(fetched_at);
    std::lock_guard lock(state_mutex_);
    state_.origin = LocalState::Origin::Downloaded;
    state_.base_etag = fetched->info.etag;
    state_.base_seq = db_.total_seq();
    state_.base_seqs = encode_seqs(db_.partition_seqs());
    state_.base_schema = db_.schema();
    state_.last_download = options_.clock();
    state_.save(path);
    log::info("Reloaded the snapshot", {{"remote", remote_url()}, {"seq", db_.total_seq()}});
}

std::string DatabaseManager::disk_full_message(const std::exception& e) {
    const stdfs::path dir = options_.db_path.parent_path();
    std::string sizes;
    try {
        if (const auto snapshot = store_->head_if_exists(options_.key))
            sizes = ": the snapshot is " + mib(snapshot->size);
    } catch (const StoreError&) {
    }
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) == 0) {
        sizes += (sizes.empty() ? ": " : ", and ") +
                 mib(static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize) + " are free";
    }
    return "not enough disk space in " + dir.string() + " for the database" + sizes + " (" +
           e.what() +
           "). It needs the snapshot's size plus room for its growth: free space, set K9_DB_PATH "
           "to a "
           "larger disk, or on Lambda raise the function's EphemeralStorage";
}

}  // namespace k9::db
