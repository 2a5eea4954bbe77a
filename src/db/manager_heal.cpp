// DatabaseManager: a local copy that cannot apply what is in the store heals. In journal
// mode every acknowledged write is in the store, so the local file is a cache: it is
// dropped and loaded again (snapshot + journal). In snapshot mode the local file holds
// the pending writes, so it is only reopened. Until that works, requests get
// Unavailable (503) and /health says why; a failing reload is retried at most once a
// second, by the requests that come.
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.hpp"
#include "db/manager.hpp"
#include "db/migrations.hpp"
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
    const std::string_view what = e.what();
    return what.find("No space left on device") != std::string_view::npos;
}

std::string mib(std::uint64_t bytes) {
    return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB";
}
}  // namespace

Unavailable DatabaseManager::mark_local_unusable(const std::string& detail) {
    if (!unusable_) {
        log::error("The local database cannot apply what is in the store; it will be reloaded",
                   {{"db_path", options_.db_path.string()}, {"error", detail}});
    }
    unusable_ = true;
    return health_.fail(HealthBoard::Slot::Local, {"local_copy_unusable", kUnusableHint, detail});
}

void DatabaseManager::ensure_usable() {
    if (!unusable_) return;
    std::lock_guard write_lock(write_mutex_);
    ensure_usable_locked();
}

void DatabaseManager::ensure_usable_locked() {
    if (!unusable_) return;
    const auto issue = health_.get(HealthBoard::Slot::Local);
    if (last_heal_attempt_.is_set() && last_heal_attempt_.elapsed_ms() < kHealIntervalMs) {
        throw Unavailable("local_copy_unusable", kUnusableHint, issue ? issue->detail : "the local copy is unusable");
    }
    last_heal_attempt_ = Instant::now();
    heal_locked();
}

void DatabaseManager::heal_locked() {
    try {
        if (journal_) {
            reload_locked(true);
            catch_up_locked();
        } else {
            std::unique_lock db_lock(db_mutex_);
            close_local();
            open_local();
        }
    } catch (const Unavailable&) {
        throw;  // on the board already (this copy's, or the journal's problem)
    } catch (const std::exception& e) {
        throw mark_local_unusable(disk_full(e) ? disk_full_message(e) : std::string("reloading failed: ") + e.what());
    }
    unusable_ = false;
    health_.clear(HealthBoard::Slot::Local);
    obs::metrics().count(obs::kCopyReloads);
    log::info("The local database was reloaded from the store", {{"seq", seq_.load()}, {"remote", remote_url()}});
}

void DatabaseManager::reload_locked(bool discard_local) {
    const stdfs::path& path = options_.db_path;
    auto drop_local_file = [&] {
        for (const std::string ext : {"", ".wal"}) {
            std::error_code ec;
            stdfs::remove(path.string() + ext, ec);
        }
    };
    if (discard_local) {
        // Everything in it is in the store; its space may be what the download needs.
        std::unique_lock db_lock(db_mutex_);
        close_local();
        drop_local_file();
    }
    std::optional<FetchedSnapshot> fetched;  // readers go on meanwhile
    try {
        fetched.emplace(fetch_snapshot(*store_, options_.key, path.parent_path(), {}, true));
    } catch (const StoreError& e) {
        if (!e.is_not_found()) throw;  // no snapshot yet: the journal alone makes the state
    }
    std::unique_lock db_lock(db_mutex_);  // no reader holds a connection now
    close_local();
    try {
        if (fetched) {
            install_snapshot(*fetched, path);
        } else {
            drop_local_file();
        }
        open_local();
    } catch (const std::exception& e) {
        throw mark_local_unusable(disk_full(e) ? disk_full_message(e)
                                               : std::string("installing the snapshot failed: ") + e.what());
    }
    std::lock_guard lock(state_mutex_);
    state_.origin = fetched ? LocalState::Origin::Downloaded : LocalState::Origin::Created;
    state_.base_etag = fetched ? std::optional<std::string>(fetched->info.etag) : std::nullopt;
    state_.base_seq = seq_;
    state_.base_schema = schema_;
    if (fetched) state_.last_download = options_.clock();
    state_.save(path);
    log::info("Reloaded the snapshot", {{"remote", remote_url()}, {"seq", seq_.load()}});
}

std::string DatabaseManager::disk_full_message(const std::exception& e) {
    const stdfs::path dir = options_.db_path.parent_path();
    std::string sizes;
    try {
        if (const auto snapshot = store_->head_if_exists(options_.key)) {
            sizes = ": the snapshot is " + mib(snapshot->size);
        }
    } catch (const StoreError&) {
    }
    struct statvfs vfs {};
    if (::statvfs(dir.c_str(), &vfs) == 0) {
        sizes += (sizes.empty() ? ": " : ", and ") + mib(static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize) +
                 " are free";
    }
    return "not enough disk space in " + dir.string() + " for the database" + sizes + " (" + e.what() +
           "). It needs the snapshot's size plus room for its growth: free space, set K9_DB_PATH to a "
           "larger disk, or on Lambda raise the function's EphemeralStorage";
}

}  // namespace k9::db
