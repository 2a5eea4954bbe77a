#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "cli/progress.hpp"
#include "common/fs.hpp"
#include "common/log.hpp"
#include "db/replace_snapshot.hpp"
#include "db/snapshot.hpp"

namespace k9::cli {

// Makes an earlier version the current snapshot: download it, verify it, upload it
// with If-Match on the current ETag, so a concurrent persist is never clobbered.
int run_restore(Context& ctx, const std::string& version_id, std::ostream& out) {
    const auto& cfg = ctx.config();
    auto& store = ctx.store();
    const auto current = store.head_if_exists(cfg.key);
    if (current && current->version_id == version_id) {
        out << "Version " << version_id << " is already the current snapshot of "
            << ctx.remote_url() << "\n";
        return kOk;
    }
    fs::TempFile tmp(cfg.db_path.parent_path(), "k9-restore");
    store::ObjectInfo old;
    {
        Progress progress("restore: download");
        store::GetOptions get;
        get.version_id = version_id;
        get.progress = progress.callback();
        try {
            old = store.get_file(cfg.key, tmp.path(), get);
        } catch (const store::StoreError& e) {
            if (!e.is_not_found()) throw;
            log::error("No version " + version_id + " of " + ctx.remote_url() +
                       "; k9db versions lists them");
            return kFailed;
        }
    }
    db::verify_snapshot_file(tmp.path(), old, ctx.remote_url() + " version " + version_id);
    db::ReplaceOptions replace;
    if (current) replace.expected_etag = current->etag;
    replace.metadata = old.metadata;
    replace.journal = cfg.durability.journal;
    replace.partitions = cfg.durability.partitions;
    Progress progress("restore: upload");
    replace.progress = progress.callback();
    store::ObjectInfo info;
    try {
        info = db::replace_snapshot(store, cfg.key, tmp.path(), replace);
    } catch (const store::StoreError& e) {
        if (!e.is_precondition_failed()) throw;
        log::error(
            "The snapshot changed while restoring; nothing was overwritten. Check who writes it "
            "and retry");
        return kConflict;
    }
    progress.finish();
    out << "Restored version " << version_id << " (" << human_bytes(old.size)
        << ") as the current snapshot of " << ctx.remote_url() << " (ETag " << info.etag << ")\n";
    if (fs::file_size_if_exists(cfg.db_path) && !cfg.durability.journal) {
        out << "Note: the local database " << cfg.db_path.string()
            << " is based on the snapshot before the restore; its next persist will conflict. "
               "Remove it and its .k9state file to start from the restored snapshot.\n";
    }
    return kOk;
}

}  // namespace k9::cli
