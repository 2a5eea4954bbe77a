// DatabaseManager's cold start: the local file as it is, or the snapshot downloaded,
// verified and installed, or a new database when there is none; in journal mode the
// partitions the snapshot records (a store of older k9 is upgraded here). Nothing of the
// journal is read: each partition catches up when first used.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <future>

#include "common/log.hpp"
#include "db/journal_upgrade.hpp"
#include "db/manager.hpp"
#include "db/snapshot.hpp"
#include "db/store_probe.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::StoreError;

namespace {

constexpr int kColdStartRounds = 3;  // another container's upgrade won: start again

// Temp files k9 makes beside the database (downloads, snapshot copies, state files) that
// a killed process left: database-sized each, and /tmp on Lambda is 512 MB. Only files
// whose lock nobody holds go (their owner is dead); the caller holds the database's lock.
void remove_stale_temp_files(const stdfs::path& db_path) {
    const std::string name = db_path.filename().string();
    const std::string stems[] = {"k9-download", "k9-replace", name + ".snapshot",
                                 name + ".k9state"};
    const auto removed = fs::remove_stale_temp_files(db_path.parent_path(), stems);
    if (removed.files > 0) {
        log::info("Removed temp files left by a process that died",
                  {{"dir", db_path.parent_path().string()},
                   {"files", removed.files},
                   {"bytes", removed.bytes}});
    }
}

// Moves an unusable local file (and its WAL) aside instead of deleting it.
void move_aside(const stdfs::path& db_path, Micros now) {
    const std::string suffix = ".corrupt-" + std::to_string(now);
    for (const std::string ext : {"", ".wal"}) {
        const std::string from = db_path.string() + ext;
        if (::access(from.c_str(), F_OK) == 0) {
            if (::rename(from.c_str(), (from + suffix).c_str()) != 0)
                fs::throw_errno("rename", from);
        }
    }
    log::warning("Moved the unusable local database aside", {{"path", db_path.string() + suffix}});
}

void remove_local_file(const stdfs::path& db_path) {
    for (const std::string ext : {"", ".wal"}) {
        std::error_code ec;
        stdfs::remove(db_path.string() + ext, ec);
    }
}

}  // namespace

void DatabaseManager::cold_start() {
    const double started = monotonic_ms();
    const stdfs::path& path = options_.db_path;
    const std::string remote = remote_url();

    auto lock = fs::FileLock::try_lock(path.string() + ".lock", fs::FileLock::Mode::Exclusive);
    if (!lock.owns()) {
        throw ColdStartError("the local database " + path.string() +
                             " is in use by another k9 process; stop it or set K9_DB_PATH to "
                             "another file");
    }
    remove_stale_temp_files(path);

    std::optional<LocalState> state;
    try {
        state = LocalState::load(path);
    } catch (const std::runtime_error& e) {
        throw ColdStartError(e.what());
    }
    if (state && state->remote != remote) {
        throw ColdStartError("the local database " + path.string() + " belongs to " +
                             state->remote + ", not " + remote +
                             "; set K9_DB_PATH to another file, or remove it (and " +
                             LocalState::path_for(path).string() + ") to start from " + remote);
    }

    // Journal mode rests on conditional writes: check the store while the snapshot comes.
    std::future<void> probe;
    if (journal_)
        probe = std::async(std::launch::async,
                           [this] { require_conditional_writes(*store_, options_.key); });
    auto probe_verdict = [&probe] {  // an unsafe store is the error to report, whatever else failed
        if (probe.valid()) probe.get();
    };

    std::string source;
    std::optional<store::ObjectInfo> snapshot;
    for (int round = 0;; ++round) {
        const Instant fetched_at = Instant::now();
        const bool local_exists = ::access(path.c_str(), F_OK) == 0;
        if (local_exists && has_duckdb_magic(path)) {
            source = "local";
            if (!state) {
                log::warning(
                    "The local database has no k9 state file: its origin is unknown, so it "
                    "will only be persisted where no remote database exists yet",
                    {{"path", path.string()}});
                state =
                    LocalState{remote, LocalState::Origin::Unknown, std::nullopt, 0, 0, {}, {}, {}};
            }
        } else {
            if (local_exists) {
                log::warning("The local file is not a DuckDB database; downloading a fresh copy",
                             {{"path", path.string()}});
            }
            try {
                // No separate DuckDB open of the temp file: the real open below checks it.
                const double download_started = monotonic_ms();
                FetchedSnapshot fetched = fetch_snapshot(*store_, options_.key, path.parent_path(),
                                                         options_.download_progress, false);
                obs::metrics().duration_ms(obs::kDownloadDurationMs,
                                           monotonic_ms() - download_started);
                if (local_exists) move_aside(path, options_.clock());
                install_snapshot(fetched, path);
                snapshot = fetched.info;
                // Saved once it is open (with its seq and schema). A crash before that leaves a
                // file of unknown origin, which persist treats conservatively: never an overwrite.
                state = LocalState{remote,
                                   LocalState::Origin::Downloaded,
                                   fetched.info.etag,
                                   0,
                                   0,
                                   {},
                                   options_.clock(),
                                   {}};
                source = "downloaded";
            } catch (const fs::IoError& e) {
                probe_verdict();
                obs::metrics().count(obs::kDatabaseDownloadFailures);
                const bool full = e.errno_value() == ENOSPC || e.errno_value() == EDQUOT;
                log::error("Failed to write the downloaded database",
                           {{"path", path.string()}, {"error", e.what()}});
                throw ColdStartError(
                    "cannot start: " + (full ? disk_full_message(e) : std::string(e.what())) +
                    ". No local database was created or changed.");
            } catch (const StoreError& e) {
                if (!e.is_not_found()) {
                    probe_verdict();
                    obs::metrics().count(obs::kDatabaseDownloadFailures);
                    log::error(
                        "Failed to download from " + store_->display_name() + ": " + e.what(),
                        {{"remote", remote}, {"error_kind", store::to_string(e.kind())}});
                    throw ColdStartError(
                        "cannot start: downloading " + remote + " failed: " + e.what() +
                        ". No local database was created; fix the cause and retry.");
                }
                log::warning("Database not found in " + store_->display_name() + ": " + remote);
                log::info("Will create new database locally", {{"path", path.string()}});
                if (local_exists) move_aside(path, options_.clock());
                state =
                    LocalState{remote, LocalState::Origin::Created, std::nullopt, 0, 0, {}, {}, {}};
                state->save(
                    path);  // before the file exists: a crash leaves no orphan of unknown origin
                source = "created";
            }
        }

        try {
            db_.open();
        } catch (const duck::Error& e) {
            if (source == "downloaded") {
                // Checksum and magic were right, yet DuckDB refuses the file: keep it aside.
                obs::metrics().count(obs::kDatabaseDownloadFailures);
                move_aside(path, options_.clock());
                std::error_code ec;
                stdfs::remove(LocalState::path_for(path), ec);
                throw ColdStartError("cannot start: " + remote + " cannot be opened by DuckDB (" +
                                     e.what() + "); it was moved aside. Restore a good version.");
            }
            throw ColdStartError(e.what());
        }
        probe_verdict();
        if (!journal_) break;
        try {
            if (source == "local" && db_.partitions() == 0) {
                // A file from before partitions (or snapshot mode): keep it aside, load the
                // snapshot.
                db_.close();
                move_aside(path, options_.clock());
                state.reset();
                continue;
            }
            if (source == "local" || settle_partitions(snapshot)) {
                // Cold start reads nothing of the journal: each partition catches up when
                // first used. A reused local file may be far behind: its first use checks.
                journal_->loaded(source == "local" ? Instant{} : fetched_at);
                break;
            }
        } catch (const std::exception& e) {
            db_.close();
            log::error("Cold start failed while settling the journal",
                       {{"remote", remote}, {"error", e.what()}});
            throw ColdStartError(std::string("cannot start: ") + e.what());
        }
        // Another container's upgrade won, or the local file predates partitions: load
        // the snapshot again.
        db_.close();
        remove_local_file(path);
        state.reset();
        snapshot.reset();
        if (round + 1 >= kColdStartRounds) {
            throw ColdStartError("cannot start: the snapshot of " + remote +
                                 " kept changing during the cold start; retry");
        }
    }

    if (source != "local") {
        state->base_seq = db_.total_seq();
        state->base_schema = db_.schema();
        state->base_seqs = journal_ ? encode_seqs(db_.partition_seqs()) : "";
        if (snapshot) {
            state->origin = LocalState::Origin::Downloaded;
            state->base_etag = snapshot->etag;
        }
        state->save(path);
    }
    process_lock_ = std::move(lock);
    {
        std::lock_guard state_lock(state_mutex_);
        state_ = *state;
    }
    const double cold_start_ms = monotonic_ms() - started;
    obs::metrics().duration_ms(obs::kColdStartDurationMs, cold_start_ms);
    obs::metrics().gauge(obs::kDatabaseSizeBytes,
                         static_cast<double>(fs::file_size_if_exists(path).value_or(0)),
                         obs::Unit::Bytes);
    log::info("Database ready", {{"source", source},
                                 {"path", path.string()},
                                 {"remote", remote},
                                 {"bytes", fs::file_size_if_exists(path).value_or(0)},
                                 {"schema_version", db_.schema()},
                                 {"duration_ms", cold_start_ms}});
}

bool DatabaseManager::settle_partitions(std::optional<store::ObjectInfo>& snapshot) {
    if (snapshot) {
        if (const auto n = snapshot_partitions(*snapshot)) {
            if (db_.partitions() == 0) {
                // Made outside k9's journal but marked for it: the metadata's seqs hold.
                db_.init_partitions(snapshot_partition_seqs(*snapshot).value_or(
                    PartitionSeqs(static_cast<std::size_t>(*n), 0)));
            }
            if (db_.partitions() != *n) {
                throw std::runtime_error(remote_url() + " says its journal has " +
                                         std::to_string(*n) + " partitions but the file holds " +
                                         std::to_string(db_.partitions()) +
                                         "; restore a good version");
            }
            return true;
        }
    }
    // The single journal of older k9, a snapshot uploaded by hand, or a new database.
    UpgradeOptions upgrade{
        options_.partitions, options_.writer_id,
        [this](const std::string& name) -> const MutationFn& { return mutation_fn(name); }};
    const UpgradeResult r = upgrade_to_partitions(*store_, options_.key, db_, snapshot, upgrade);
    if (!r.uploaded) return false;
    snapshot = r.snapshot;  // the file now equals the snapshot it uploaded
    return true;
}

}  // namespace k9::db
