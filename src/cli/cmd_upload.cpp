#include "cli/commands.hpp"

#include "cli/format.hpp"
#include "cli/progress.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "db/k9_meta.hpp"
#include "db/local_database.hpp"
#include "db/local_state.hpp"
#include "db/migrations.hpp"
#include "db/replace_snapshot.hpp"
#include "db/snapshot.hpp"
#include "repo/mutations.hpp"

namespace k9::cli {
namespace stdfs = std::filesystem;

namespace {

// Commits still in FILE.wal are not in FILE: fold them in before the upload.
void fold_wal(const stdfs::path& file) {
    if (fs::file_size_if_exists(file.string() + ".wal").value_or(0) == 0) return;
    try {
        duck::Database db(file, db::duckdb_options(file));
        duck::Connection conn(db);
        conn.execute("CHECKPOINT");
    } catch (const duck::Error& e) {
        throw std::runtime_error(file.string() + ".wal holds commits that are not in " +
                                 file.string() + " and DuckDB could not fold them in (" + e.what() +
                                 "); stop the program using the database and retry");
    }
    log::info("Folded the .wal into the database before uploading", {{"file", file.string()}});
}

struct FileFacts {
    std::int64_t seq = 0;
    int schema = 0;
};

FileFacts read_facts(const stdfs::path& file) {
    duck::Database db(file, db::duckdb_options(file, db::FileAccess::ReadOnly));
    duck::Connection conn(db);
    FileFacts f;
    f.schema = db::schema_version(conn);
    f.seq = db::meta::read_seq(conn).value_or(0);
    return f;
}

}  // namespace

int run_upload(Context& ctx, const stdfs::path& file_arg, bool force, std::ostream& out) {
    const stdfs::path file = stdfs::absolute(file_arg);
    if (!fs::file_size_if_exists(file)) {
        log::error("No file to upload at " + file.string());
        return kFailed;
    }
    const bool is_managed = file == ctx.config().db_path;
    std::optional<fs::FileLock> lock;
    if (is_managed) {
        lock = fs::FileLock::try_lock(file.string() + ".lock", fs::FileLock::Mode::Exclusive);
        if (!lock->owns()) {
            log::error(file.string() +
                       " is in use by another k9 process; stop it, or use k9db persist");
            return kFailed;
        }
    }
    if (!db::has_duckdb_magic(file)) {
        log::error("Refusing to upload " + file.string() + ": it is not a DuckDB database");
        return kFailed;
    }
    fold_wal(file);
    FileFacts facts;
    try {
        facts = read_facts(file);
    } catch (const duck::Error& e) {
        log::error("Refusing to upload " + file.string() + ": DuckDB cannot open it: " + e.what());
        return kFailed;
    }
    if (facts.schema > db::latest_schema_version(repo::k9_schema())) {
        log::warning(
            "The file's schema is newer than this k9 supports; k9 of this version will refuse it",
            {{"schema_version", facts.schema}});
    }

    const std::string url = ctx.remote_url();
    const auto remote = ctx.store().head_if_exists(ctx.config().key);
    if (remote && !force) {
        log::error("Refusing to replace the existing database at " + url + " (ETag " +
                   remote->etag + ", " + human_bytes(remote->size) + ", modified " +
                   format_iso8601(remote->last_modified) + "); pass --force to replace it");
        return kFailed;
    }
    db::ReplaceOptions replace;
    if (remote) replace.expected_etag = remote->etag;
    replace.metadata = {{db::kMetaSeq, std::to_string(facts.seq)},
                        {db::kMetaSchema, std::to_string(facts.schema)}};
    replace.journal = ctx.config().durability.journal;
    replace.partitions = ctx.config().durability.partitions;
    Progress progress("upload");
    replace.progress = progress.callback();
    store::ObjectInfo info;
    try {
        info = db::replace_snapshot(ctx.store(), ctx.config().key, file, replace);
        progress.finish();
    } catch (const store::StoreError& e) {
        if (!e.is_precondition_failed()) throw;
        log::error("The database at " + url +
                   " changed during the upload; nothing was overwritten. "
                   "Check who else writes it, then retry");
        return kConflict;
    }
    if (is_managed) {
        // The managed file now equals the remote: persist continues from this ETag.
        auto state = db::LocalState::load(file).value_or(db::LocalState{});
        state.remote = url;
        state.base_etag = info.etag;
        state.base_seq = db::snapshot_seq(info.metadata).value_or(0);
        state.base_schema = facts.schema;
        state.last_persist = system_now();
        state.save(file);
    }
    out << "Uploaded " << file.string() << " to " << url << " (" << human_bytes(info.size)
        << ", ETag " << info.etag << ")\n";
    return kOk;
}

}  // namespace k9::cli
