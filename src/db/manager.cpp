#include "db/manager.hpp"

#include <numeric>

#include "common/checksum.hpp"
#include "common/crash_point.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/k9_meta.hpp"
#include "db/migrations.hpp"
#include "db/snapshot.hpp"
#include "db/sql_determinism.hpp"
#include "obs/metrics.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::StoreError;

namespace {

std::string sibling(const stdfs::path& db_path, std::string_view suffix) {
    return db_path.string() + std::string(suffix);
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
    nlohmann::json j = {
        {"durability", durability},
        {"last_refresh", opt_time(last_refresh)},
        {"refresh_lag_ms",
         refresh_lag_ms ? nlohmann::json(*refresh_lag_ms) : nlohmann::json(nullptr)},
        {"db_path", db_path},
        {"local_bytes", local_bytes},
        {"remote", remote},
        {"origin", origin},
        {"remote_etag", base_etag ? nlohmann::json(*base_etag) : nlohmann::json(nullptr)},
        {"schema_version", schema_version},
        {"seq", seq},
        {"snapshot_seq", base_seq},
        {"pending_writes", pending_writes},
        {"last_persist", opt_time(last_persist)},
        {"last_download", opt_time(last_download)},
        {"problem", problem ? nlohmann::json{{"code", problem->code}, {"message", problem->hint}}
                            : nlohmann::json(nullptr)},
        {"warnings", warnings_json(warnings)}};
    if (durability == "journal") {
        j["partitions"] = partitions;
        j["longest_tail"] = longest_tail;
    }
    return j;
}

DatabaseManager::DatabaseManager(ManagerOptions options, std::shared_ptr<store::ObjectStore> store)
    : options_(std::move(options)),
      store_(std::move(store)),
      db_(options_.db_path.is_relative() ? stdfs::absolute(options_.db_path) : options_.db_path,
          options_.duckdb, options_.schema) {
    options_.db_path = db_.path();
    if (options_.writer_id.empty()) options_.writer_id = new_uuid_v7(system_now() / 1000);
    if (options_.max_batch == 0) options_.max_batch = 1;
    if (options_.partitions < 1 || options_.partitions > kMaxPartitions)
        options_.partitions = kDefaultPartitions;
    if (options_.durability == Durability::Journal) {
        JournalHost& host = *this;
        journal_ = std::make_unique<PartitionedJournal>(
            *store_, options_.key, db_, health_,
            JournalSettings{options_.journal_retention_s, options_.max_staleness_ms,
                            options_.max_batch, options_.writer_id},
            host);
        compactor_ = std::make_unique<Compactor>(
            *store_, options_.key, db_, *journal_, health_,
            CompactorSettings{options_.journal_retention_s, options_.writer_id,
                              options_.upload_progress},
            [this] { reload(); });
    }
}

DatabaseManager::~DatabaseManager() {
    db_.close();
    process_lock_.reset();
}

bool DatabaseManager::is_open() const {
    return db_.is_open();
}

void DatabaseManager::open() {
    std::lock_guard lock(open_mutex_);
    if (db_.is_open() || unusable_) return;
    cold_start();
}

duck::Connection& DatabaseManager::get_connection() {
    open();
    ensure_usable();
    return db_.own_connection();
}

int DatabaseManager::partition_of(const std::string& owner) const {
    return db::partition_of(owner, db_.partitions());
}

// ---- Writes and reads -------------------------------------------------------------------

const MutationFn& DatabaseManager::mutation_fn(const std::string& name) const {
    static const MutationFn sql_fn = apply_sql_mutation;
    if (name == "sql") return sql_fn;
    if (options_.mutations != nullptr && options_.mutations->contains(name))
        return options_.mutations->find(name);
    throw std::invalid_argument("unknown mutation '" + name + "'");
}

const BatchFn* DatabaseManager::batch_fn(const std::string& name) const {
    return options_.mutations != nullptr ? options_.mutations->find_batch(name) : nullptr;
}

nlohmann::json DatabaseManager::apply(const Mutation& mutation) {
    const MutationFn& fn = mutation_fn(mutation.name);  // unknown names: refused at once
    return std::any_cast<nlohmann::json>(apply_erased(
        mutation,
        [&fn, &mutation](duck::Connection& conn) { return std::any(fn(conn, mutation.params)); }));
}

std::any DatabaseManager::apply_erased(const Mutation& mutation, const LocalApply& run) {
    open();
    ensure_usable();
    if (!journal_) return apply_snapshot_mode(run);
    if (mutation.owner.empty()) {
        throw std::invalid_argument(
            "refused: a write must name the user whose data it changes (k9db sql --user ID): in "
            "journal mode "
            "(K9_DURABILITY=journal) each user's writes go to one partition of the journal, and a "
            "write of "
            "the whole database has no partition. Run one statement per user, or replace the whole "
            "database "
            "with k9db --upload --file DB --force");
    }
    if (mutation.name == "sql") {
        const std::string sql = mutation.params.value("sql", "");
        if (auto call = nondeterministic_call(sql)) {
            throw std::invalid_argument("refused: the statement uses " + *call +
                                        "(), whose value differs every time it runs. "
                                        "In journal mode (K9_DURABILITY=journal) each write is "
                                        "replayed from its text on the other "
                                        "copies of the database, so it must be deterministic: "
                                        "write the value as a literal instead");
        }
    }
    return journal_->apply(mutation, run);
}

std::any DatabaseManager::apply_snapshot_mode(const LocalApply& run) {
    std::lock_guard lock(snapshot_write_mutex_);
    std::shared_lock gate(db_.write_gate());
    LocalDatabase::Lease lease(db_);
    duck::Connection& conn = lease.conn();
    duck::Transaction tx(conn);
    std::any result = run(conn);
    meta::count_write(conn);
    try {
        tx.commit();
    } catch (const std::exception& e) {
        // Not acknowledged; DuckDB may be left unusable (a failed WAL write): reopen it.
        throw local_failure(std::string("committing a write to the local database failed: ") +
                            e.what());
    }
    db_.note_write();
    return result;
}

std::optional<DataVersion> DatabaseManager::data_version(const std::string& owner) {
    if (!is_open()) return std::nullopt;
    const DataVersion v{db_.epoch(), journal_ ? db_.partition_seq(partition_of(owner)) : db_.seq()};
    if (unusable_) return std::nullopt;  // read after the version: a failure since moved it
    return v;
}

void DatabaseManager::refresh(const std::string& owner) {
    if (!journal_) return;
    open();
    ensure_usable();
    journal_->refresh(partition_of(owner));
}

void DatabaseManager::refresh_all() {
    if (!journal_) return;
    open();
    ensure_usable();
    journal_->refresh_all();
}

// ---- Persist ----------------------------------------------------------------------------

PersistResult DatabaseManager::persist() {
    open();
    ensure_usable();
    std::lock_guard persist_lock(persist_mutex_);
    return journal_ ? compact() : persist_snapshot_mode();
}

void DatabaseManager::remember_snapshot(const store::ObjectInfo& info, std::int64_t seq,
                                        const PartitionSeqs& seqs, int schema, bool persisted) {
    std::lock_guard lock(state_mutex_);
    state_.base_etag = info.etag;
    state_.base_seq = seq;
    state_.base_seqs = journal_ ? encode_seqs(seqs) : "";
    state_.base_schema = schema;
    if (persisted) state_.last_persist = options_.clock();
    state_.save(options_.db_path);
}

PersistResult DatabaseManager::compact() {
    const double started = monotonic_ms();
    const Compaction c = compactor_->compact();
    const std::int64_t total = std::accumulate(c.seqs.begin(), c.seqs.end(), std::int64_t{0});
    if (!c.seqs.empty()) remember_snapshot(c.snapshot, total, c.seqs, c.schema, c.uploaded);
    PersistResult result{c.uploaded, c.snapshot.etag, c.seqs.empty() ? db_.total_seq() : total,
                         c.uploaded ? c.snapshot.size : 0, monotonic_ms() - started};
    if (c.uploaded) {
        obs::metrics().duration_ms(obs::kPersistDurationMs, result.duration_ms);
        obs::metrics().gauge(obs::kDatabaseSizeBytes, static_cast<double>(c.snapshot.size),
                             obs::Unit::Bytes);
        log::info("Uploaded a snapshot", {{"remote", remote_url()},
                                          {"seq", total},
                                          {"etag", c.snapshot.etag},
                                          {"bytes", c.snapshot.size},
                                          {"duration_ms", result.duration_ms}});
    }
    return result;
}

PersistResult DatabaseManager::persist_snapshot_mode() {
    const double started = monotonic_ms();
    const stdfs::path& path = options_.db_path;
    LocalState state;
    {
        std::lock_guard lock(state_mutex_);
        state = state_;
    }
    if (state.base_etag && db_.seq() == state.base_seq && db_.schema() == state.base_schema) {
        log::info("Nothing to persist", {{"remote", remote_url()}, {"seq", db_.seq()}});
        return PersistResult{false, *state.base_etag, db_.seq(), 0, monotonic_ms() - started};
    }
    LocalDatabase::SnapshotCopy copy = [&] {
        std::lock_guard write_lock(snapshot_write_mutex_);
        return db_.copy_for_snapshot();
    }();
    store::PutOptions put;
    put.precondition = state.base_etag ? store::Precondition::if_match(*state.base_etag)
                                       : store::Precondition::if_none_match_any();
    put.metadata = {{kMetaSeq, std::to_string(copy.seq)},
                    {kMetaSchema, std::to_string(copy.schema)}};
    put.progress = options_.upload_progress;
    store::ObjectInfo info;
    try {
        info = store_->put_file(copy.file.path(), options_.key, put);
    } catch (const StoreError& e) {
        if (!e.is_precondition_failed()) {
            obs::metrics().count(obs::kDatabaseUploadFailures);
            throw;
        }
        // A retry after a lost response finds its own upload: same bytes, same checksum.
        auto remote = store_->head_if_exists(options_.key);
        const bool ours = remote && !remote->checksum.empty() &&
                          remote->checksum == xxh128_file_hex(copy.file.path());
        if (!ours) {
            const std::string why =
                state.base_etag
                    ? remote_url() + " changed since this database was downloaded (it was " +
                          *state.base_etag + ", now " + (remote ? remote->etag : "deleted") + ")"
                    : (state.origin == LocalState::Origin::Created
                           ? remote_url() +
                                 " was created by someone else after this database was created here"
                           : "this local database's origin is unknown and " + remote_url() +
                                 " already exists");
            obs::metrics().count(obs::kPersistConflicts);
            log::error("Persist conflict",
                       {{"remote", remote_url()}, {"pending_writes", copy.seq - state.base_seq}});
            throw PersistConflict("persist refused: " + why + ". Nothing was overwritten; your " +
                                  std::to_string(copy.seq - state.base_seq) +
                                  " pending write(s) are still in " + path.string() +
                                  ". To replace the remote with this file: k9db --upload --file " +
                                  path.string() + " --force");
        }
        info = *remote;
    }
    remember_snapshot(info, copy.seq, {}, copy.schema, true);
    crash_point("snapshot.uploaded");
    PersistResult result{true, info.etag, copy.seq, info.size, monotonic_ms() - started};
    obs::metrics().duration_ms(obs::kPersistDurationMs, result.duration_ms);
    obs::metrics().gauge(obs::kDatabaseSizeBytes, static_cast<double>(info.size), obs::Unit::Bytes);
    log::info("Persisted database", {{"remote", remote_url()},
                                     {"etag", info.etag},
                                     {"seq", copy.seq},
                                     {"bytes", info.size},
                                     {"duration_ms", result.duration_ms}});
    return result;
}

// ---- Status -----------------------------------------------------------------------------

std::int64_t DatabaseManager::pending_writes() {
    open();
    const std::int64_t seq = db_.total_seq();
    std::lock_guard lock(state_mutex_);
    return seq - state_.base_seq;
}

std::int64_t DatabaseManager::longest_tail() {
    if (!journal_) return 0;
    open();
    const PartitionSeqs seqs = db_.partition_seqs();
    std::optional<PartitionSeqs> base;
    {
        std::lock_guard lock(state_mutex_);
        base = decode_seqs(state_.base_seqs, static_cast<int>(seqs.size()));
    }
    std::int64_t longest = 0;
    for (std::size_t p = 0; p < seqs.size(); ++p)
        longest = std::max(longest, seqs[p] - (base ? (*base)[p] : seqs[p]));
    return longest;
}

ManagerStatus DatabaseManager::status() {
    open();
    ManagerStatus s;
    s.seq = db_.total_seq();
    s.schema_version = db_.schema();
    {
        std::lock_guard lock(state_mutex_);
        s.origin = to_string(state_.origin);
        s.base_etag = state_.base_etag;
        s.base_seq = state_.base_seq;
        s.last_persist = state_.last_persist;
        s.last_download = state_.last_download;
    }
    s.durability = journal_ ? "journal" : "snapshot";
    if (journal_) {
        s.partitions = db_.partitions();
        s.longest_tail = longest_tail();
        if (journal_->last_refresh() > 0) {
            s.last_refresh = journal_->last_refresh();
            s.refresh_lag_ms = monotonic_ms() - journal_->last_refresh_ms();
        }
    }
    s.problem = health_.blocking();
    s.warnings = health_.warnings();
    s.db_path = options_.db_path.string();
    s.local_bytes = fs::file_size_if_exists(options_.db_path).value_or(0) +
                    fs::file_size_if_exists(sibling(options_.db_path, ".wal")).value_or(0);
    s.remote = remote_url();
    s.pending_writes = s.seq - s.base_seq;
    return s;
}

}  // namespace k9::db
