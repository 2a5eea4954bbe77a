#include "db/manager.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <future>
#include <thread>

#include "common/checksum.hpp"
#include "common/crash_point.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/migrations.hpp"
#include "db/snapshot.hpp"
#include "db/sql_determinism.hpp"
#include "db/store_probe.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::StoreError;

namespace {

std::string sibling(const stdfs::path& db_path, std::string_view suffix) {
    return db_path.string() + std::string(suffix);
}

std::uint64_t size_or_zero(const stdfs::path& p) {
    const std::int64_t n = fs::file_size_or_negative(p);
    return n < 0 ? 0 : static_cast<std::uint64_t>(n);
}

// CHECKPOINT, waiting out DuckDB's "other write transactions active": a transaction that
// committed while a reader was open can hold DuckDB's checkpoint lock until that reader
// finishes. The caller holds write_mutex_, so k9 starts no write meanwhile and the wait is
// short; after about two seconds the error goes up and the persist fails (and is retried).
void checkpoint(duck::Connection& conn) {
    constexpr int kAttempts = 12;  // 1 + 2 + 4 + ... + 1024 ms, about 2 s in all
    for (int attempt = 0;; ++attempt) {
        try {
            conn.execute("CHECKPOINT");
            return;
        } catch (const duck::Error& e) {
            if (attempt + 1 >= kAttempts || std::string_view(e.what()).find("other write transactions") ==
                                                    std::string_view::npos) {
                throw;
            }
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(1 << attempt));
    }
}

// Temp files k9 makes beside the database (downloads, snapshot copies, state files) that
// a killed process left: database-sized each, and /tmp on Lambda is 512 MB. Only files
// whose lock nobody holds go (their owner is dead); the caller holds the database's lock.
void remove_stale_temp_files(const stdfs::path& db_path) {
    const std::string name = db_path.filename().string();
    const std::string stems[] = {"k9-download", "k9-replace", name + ".snapshot", name + ".k9state"};
    const auto removed = fs::remove_stale_temp_files(db_path.parent_path(), stems);
    if (removed.files > 0) {
        log::info("Removed temp files left by a process that died",
                  {{"dir", db_path.parent_path().string()}, {"files", removed.files}, {"bytes", removed.bytes}});
    }
}

// Moves an unusable local file (and its WAL) aside instead of deleting it.
void move_aside(const stdfs::path& db_path, Micros now) {
    const std::string suffix = ".corrupt-" + std::to_string(now);
    for (const std::string ext : {"", ".wal"}) {
        const std::string from = db_path.string() + ext;
        if (::access(from.c_str(), F_OK) == 0) {
            if (::rename(from.c_str(), (from + suffix).c_str()) != 0) fs::throw_errno("rename", from);
        }
    }
    log::warning("Moved the unusable local database aside", {{"path", db_path.string() + suffix}});
}

nlohmann::json opt_time(const std::optional<std::int64_t>& t) {
    return t ? nlohmann::json(format_iso8601(*t)) : nlohmann::json(nullptr);
}

nlohmann::json warnings_json(const std::vector<HealthIssue>& warnings) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : warnings) out.push_back({{"code", w.code}, {"message", w.hint}});
    return out;
}

}  // namespace

nlohmann::json ManagerStatus::to_json() const {
    return {{"durability", durability},
            {"last_refresh", opt_time(last_refresh)},
            {"refresh_lag_ms", refresh_lag_ms ? nlohmann::json(*refresh_lag_ms) : nlohmann::json(nullptr)},
            {"db_path", db_path},
            {"local_bytes", local_bytes},
            {"remote", remote},
            {"origin", origin},
            {"remote_etag", base_etag ? nlohmann::json(*base_etag) : nlohmann::json(nullptr)},
            {"schema_version", schema_version},
            {"seq", seq},
            {"persisted_seq", base_seq},
            {"pending_writes", pending_writes},
            {"snapshot_seq", base_seq},
            {"last_persist", opt_time(last_persist)},
            {"last_download", opt_time(last_download)},
            {"problem", problem ? nlohmann::json{{"code", problem->code}, {"message", problem->hint}}
                                : nlohmann::json(nullptr)},
            {"warnings", warnings_json(warnings)}};
}

void apply_durability(const config::DurabilitySettings& settings, ManagerOptions& options) {
    options.durability = settings.journal ? Durability::Journal : Durability::Snapshot;
    options.journal_retention_s = settings.retention_s;
    options.max_staleness_ms = settings.max_staleness_ms;
    options.max_batch = settings.max_batch;
}

std::map<std::string, std::string> DatabaseManager::duckdb_options(const stdfs::path& db_path) {
    const stdfs::path dir = db_path.parent_path().empty() ? stdfs::path(".") : db_path.parent_path();
    // On Lambda HOME is unset and only /tmp is writable: say where DuckDB may write.
    return {{"home_directory", dir.string()},
            {"temp_directory", sibling(db_path, ".tmp")},
            {"autoinstall_known_extensions", "false"},
            {"autoload_known_extensions", "false"}};
}

DatabaseManager::DatabaseManager(ManagerOptions options, std::shared_ptr<store::ObjectStore> store)
    : options_(std::move(options)), store_(std::move(store)) {
    if (options_.db_path.is_relative()) options_.db_path = stdfs::absolute(options_.db_path);
    if (options_.writer_id.empty()) options_.writer_id = new_uuid_v7(system_now() / 1000);
    if (options_.max_batch == 0) options_.max_batch = 1;
    if (options_.durability == Durability::Journal) journal_ = std::make_unique<Journal>(*store_, options_.key);
}

DatabaseManager::~DatabaseManager() { close(); }

void DatabaseManager::close() {
    close_local();
    process_lock_.reset();
}

void DatabaseManager::close_local() {
    std::lock_guard lock(pool_mutex_);
    idle_.clear();
    conn_.reset();
    db_.reset();
}

void DatabaseManager::open_local() {
    const stdfs::path& path = options_.db_path;
    db_ = std::make_unique<duck::Database>(path, duckdb_options(path));
    conn_ = std::make_unique<duck::Connection>(*db_);
    seq_ = read_seq(*conn_);
    migrate(*conn_);
    schema_ = schema_version(*conn_);
}

bool DatabaseManager::is_open() const { return db_ != nullptr; }

void DatabaseManager::open() {
    std::lock_guard lock(open_mutex_);
    if (db_) return;
    cold_start();
}

duck::Connection& DatabaseManager::get_connection() {
    open();
    ensure_usable();
    return *conn_;
}

void DatabaseManager::cold_start() {
    const double started = monotonic_ms();
    const stdfs::path& path = options_.db_path;
    const std::string remote = remote_url();

    auto lock = fs::FileLock::try_lock(sibling(path, ".lock"), fs::FileLock::Mode::Exclusive);
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
    if (journal_) probe = std::async(std::launch::async, [this] { require_conditional_writes(*store_, options_.key); });
    auto probe_verdict = [&probe] {  // an unsafe store is the error to report, whatever else failed
        if (probe.valid()) probe.get();
    };

    const bool local_exists = ::access(path.c_str(), F_OK) == 0;
    std::string source;
    if (local_exists && has_duckdb_magic(path)) {
        source = "local";
        if (!state) {
            log::warning("The local database has no k9 state file: its origin is unknown, so it "
                         "will only be persisted where no remote database exists yet",
                         {{"path", path.string()}});
            state = LocalState{remote, LocalState::Origin::Unknown, std::nullopt, 0, 0, {}, {}};
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
            obs::metrics().duration_ms(obs::kDownloadDurationMs, monotonic_ms() - download_started);
            if (local_exists) move_aside(path, options_.clock());
            install_snapshot(fetched, path);
            // Saved once it is open (with its seq and schema). A crash before that leaves a
            // file of unknown origin, which persist treats conservatively: never an overwrite.
            state = LocalState{remote, LocalState::Origin::Downloaded, fetched.info.etag, 0, 0,
                               {}, options_.clock()};
            source = "downloaded";
        } catch (const fs::IoError& e) {
            probe_verdict();
            obs::metrics().count(obs::kDatabaseDownloadFailures);
            const bool full = e.errno_value() == ENOSPC || e.errno_value() == EDQUOT;
            log::error("Failed to write the downloaded database", {{"path", path.string()}, {"error", e.what()}});
            throw ColdStartError("cannot start: " + (full ? disk_full_message(e) : std::string(e.what())) +
                                 ". No local database was created or changed.");
        } catch (const StoreError& e) {
            if (!e.is_not_found()) {
                probe_verdict();
                obs::metrics().count(obs::kDatabaseDownloadFailures);
                log::error("Failed to download from " + store_->display_name() + ": " + e.what(),
                           {{"remote", remote}, {"error_kind", store::to_string(e.kind())}});
                throw ColdStartError("cannot start: downloading " + remote + " failed: " + e.what() +
                                     ". No local database was created; fix the cause and retry.");
            }
            log::warning("Database not found in " + store_->display_name() + ": " + remote);
            log::info("Will create new database locally", {{"path", path.string()}});
            if (local_exists) move_aside(path, options_.clock());
            state = LocalState{remote, LocalState::Origin::Created, std::nullopt, 0, 0, {}, {}};
            state->save(path);  // before the file exists: a crash leaves no orphan of unknown origin
            source = "created";
        }
    }

    std::unique_ptr<duck::Database> db;
    std::unique_ptr<duck::Connection> conn;
    try {
        db = std::make_unique<duck::Database>(path, duckdb_options(path));
        conn = std::make_unique<duck::Connection>(*db);
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
    const int schema_before = schema_version(*conn);
    if (source == "downloaded") {
        state->base_seq = read_seq(*conn);
        state->base_schema = schema_before;
        state->save(path);
    }
    migrate(*conn);  // SchemaTooNew: the database is left as it is
    const int schema_now = schema_version(*conn);
    probe_verdict();

    seq_ = read_seq(*conn);
    schema_ = schema_now;
    process_lock_ = std::move(lock);
    state_ = *state;
    db_ = std::move(db);
    conn_ = std::move(conn);
    if (journal_) {
        // Snapshot + every later journal entry: the state all acknowledged writes made.
        std::lock_guard write_lock(write_mutex_);
        try {
            catch_up_locked();
        } catch (const std::exception& e) {
            close();
            log::error("Cold start failed while reading the journal", {{"remote", remote}, {"error", e.what()}});
            throw ColdStartError(std::string("cannot start: ") + e.what());
        }
    }
    const double cold_start_ms = monotonic_ms() - started;
    obs::metrics().duration_ms(obs::kColdStartDurationMs, cold_start_ms);
    obs::metrics().gauge(obs::kDatabaseSizeBytes, static_cast<double>(size_or_zero(path)), obs::Unit::Bytes);
    log::info("Database ready", {{"source", source},
                                 {"path", path.string()},
                                 {"remote", remote},
                                 {"bytes", size_or_zero(path)},
                                 {"schema_version", schema_now},
                                 {"duration_ms", cold_start_ms}});
}

std::int64_t DatabaseManager::read_seq(duck::Connection& conn) {
    auto exists = conn.query(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND table_name = 'k9_meta'");
    if (exists.int64(0, 0) == 0) return 0;
    auto r = conn.query("SELECT CAST(value AS BIGINT) FROM k9_meta WHERE name = 'seq'");
    return r.rows() == 0 ? 0 : r.int64(0, 0);
}

const MutationFn& DatabaseManager::mutation_fn(const std::string& name) const {
    static const MutationFn sql_fn = apply_sql_mutation;
    if (name == "sql") return sql_fn;
    if (options_.mutations != nullptr && options_.mutations->contains(name)) return options_.mutations->find(name);
    throw std::invalid_argument("unknown mutation '" + name + "'");
}

nlohmann::json DatabaseManager::apply(const Mutation& mutation) {
    open();
    ensure_usable();
    const MutationFn& fn = mutation_fn(mutation.name);
    if (journal_) {
        if (mutation.name == "sql") {
            const std::string sql = mutation.params.value("sql", "");
            if (auto call = nondeterministic_call(sql)) {
                throw std::invalid_argument(
                    "refused: the statement uses " + *call + "(), whose value differs every time it runs. "
                    "In journal mode (K9_DURABILITY=journal) each write is replayed from its text on the other "
                    "copies of the database, so it must be deterministic: write the value as a literal instead");
            }
        }
        return apply_journaled(mutation);
    }
    std::lock_guard lock(write_mutex_);
    ensure_usable_locked();
    duck::Transaction tx(*conn_);
    nlohmann::json result = fn(*conn_, mutation.params);
    conn_->prepared("UPDATE k9_meta SET value = value + 1 WHERE name = 'seq'").execute();
    try {
        tx.commit();
    } catch (const std::exception& e) {
        // Not acknowledged; DuckDB may be left unusable (a failed WAL write): reopen it.
        throw mark_local_unusable(std::string("committing a write to the local database failed: ") + e.what());
    }
    ++seq_;  // the same count the database now holds, without asking it
    return result;
}

DatabaseManager::SnapshotCopy DatabaseManager::snapshot_copy() {
    const stdfs::path& path = options_.db_path;
    SnapshotCopy copy;
    // No write may commit between CHECKPOINT and the end of the copy.
    std::lock_guard write_lock(write_mutex_);
    copy.seq = seq_;
    copy.schema = schema_;
    // Recent commits live in <db>.wal; CHECKPOINT writes them into the file.
    checkpoint(*conn_);
    if (size_or_zero(sibling(path, ".wal")) > 0) {
        throw std::runtime_error("CHECKPOINT left commits in " + sibling(path, ".wal") +
                                 "; refusing to upload a snapshot that would miss them");
    }
    copy.file.emplace(path.parent_path(), path.filename().string() + ".snapshot");
    fs::copy_into(path, copy.file->fd(), copy.file->path());
    return copy;
}

PersistResult DatabaseManager::persist_to_s3() {
    open();
    ensure_usable();
    std::lock_guard persist_lock(persist_mutex_);
    const double started = monotonic_ms();
    const stdfs::path& path = options_.db_path;
    LocalState state;
    {
        std::lock_guard lock(state_mutex_);
        state = state_;
    }

    if (journal_) return compact();
    if (state.base_etag && seq_ == state.base_seq && schema_ == state.base_schema) {
        log::info("Nothing to persist", {{"remote", remote_url()}, {"seq", seq_.load()}});
        return PersistResult{false, *state.base_etag, seq_, 0, monotonic_ms() - started};
    }
    SnapshotCopy copy = snapshot_copy();
    const std::int64_t seq = copy.seq;
    const int schema = copy.schema;
    std::optional<fs::TempFile> snapshot = std::move(copy.file);

    store::PutOptions put;
    put.precondition = state.base_etag ? store::Precondition::if_match(*state.base_etag)
                                       : store::Precondition::if_none_match_any();
    put.metadata = {{kMetaSeq, std::to_string(seq)}, {kMetaSchema, std::to_string(schema)}};
    put.progress = options_.upload_progress;
    store::ObjectInfo info;
    try {
        info = store_->put_file(snapshot->path(), options_.key, put);
    } catch (const StoreError& e) {
        if (!e.is_precondition_failed()) {
            obs::metrics().count(obs::kDatabaseUploadFailures);
            throw;
        }
        // A retry after a lost response finds its own upload: same bytes, same checksum.
        auto remote = store_->head_if_exists(options_.key);
        const bool ours = remote && !remote->checksum.empty() &&
                          remote->checksum == xxh128_file_hex(snapshot->path());
        if (!ours) {
            const std::string why =
                state.base_etag
                    ? remote_url() + " changed since this database was downloaded (it was " +
                          *state.base_etag + ", now " + (remote ? remote->etag : "deleted") + ")"
                    : (state.origin == LocalState::Origin::Created
                           ? remote_url() + " was created by someone else after this database was"
                                            " created here"
                           : "this local database's origin is unknown and " + remote_url() +
                                 " already exists");
            obs::metrics().count(obs::kPersistConflicts);
            log::error("Persist conflict", {{"remote", remote_url()}, {"pending_writes", seq - state.base_seq}});
            throw PersistConflict(
                "persist refused: " + why + ". Nothing was overwritten; your " +
                std::to_string(seq - state.base_seq) + " pending write(s) are still in " +
                path.string() + ". To replace the remote with this file: k9db --upload --file " +
                path.string() + " --force");
        }
        info = *remote;
    }

    state.base_etag = info.etag;
    state.base_seq = seq;
    state.base_schema = schema;
    state.last_persist = options_.clock();
    state.save(path);
    {
        std::lock_guard lock(state_mutex_);
        state_ = state;
    }
    crash_point("snapshot.uploaded");
    PersistResult result{true, info.etag, seq, info.size, monotonic_ms() - started};
    obs::metrics().duration_ms(obs::kPersistDurationMs, result.duration_ms);
    obs::metrics().gauge(obs::kDatabaseSizeBytes, static_cast<double>(info.size), obs::Unit::Bytes);
    log::info("Persisted database", {{"remote", remote_url()},
                                     {"etag", info.etag},
                                     {"seq", seq},
                                     {"bytes", info.size},
                                     {"duration_ms", result.duration_ms}});
    return result;
}

std::int64_t DatabaseManager::pending_writes() {
    open();
    const std::int64_t seq = seq_;
    std::lock_guard lock(state_mutex_);
    return seq - state_.base_seq;
}

ManagerStatus DatabaseManager::status() {
    open();
    ManagerStatus s;
    s.seq = seq_;
    s.schema_version = schema_;
    {
        std::lock_guard lock(state_mutex_);
        s.origin = to_string(state_.origin);
        s.base_etag = state_.base_etag;
        s.base_seq = state_.base_seq;
        s.last_persist = state_.last_persist;
        s.last_download = state_.last_download;
    }
    s.durability = journal_ ? "journal" : "snapshot";
    if (last_refresh_at_ > 0) {
        s.last_refresh = last_refresh_at_.load();
        s.refresh_lag_ms = monotonic_ms() - last_refresh_ms_;
    }
    s.problem = health_.blocking();
    s.warnings = health_.warnings();
    s.db_path = options_.db_path.string();
    s.local_bytes = size_or_zero(options_.db_path) + size_or_zero(sibling(options_.db_path, ".wal"));
    s.remote = remote_url();
    s.pending_writes = s.seq - s.base_seq;
    return s;
}

DatabaseManager::Lease::Lease(DatabaseManager& m) : manager(m) {
    m.open();
    m.ensure_usable();
    db_lock = std::shared_lock(m.db_mutex_);
    if (!m.db_) throw Unavailable("local_copy_unusable", "this copy of the database is being reloaded; retry shortly",
                                  "the local database is closed after a failed reload");
    std::lock_guard lock(m.pool_mutex_);
    if (!m.idle_.empty()) {
        conn = std::move(m.idle_.back());
        m.idle_.pop_back();
    } else {
        conn = std::make_unique<duck::Connection>(*m.db_);
    }
}

DatabaseManager::Lease::~Lease() {
    std::lock_guard lock(manager.pool_mutex_);
    manager.idle_.push_back(std::move(conn));
}

}  // namespace k9::db
