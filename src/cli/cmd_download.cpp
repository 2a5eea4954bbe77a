#include "cli/commands.hpp"

#include "cli/format.hpp"
#include "cli/progress.hpp"
#include "common/log.hpp"
#include "db/snapshot.hpp"

namespace k9::cli {

int run_download(Context& ctx, const std::filesystem::path& file, bool optional_object,
                 std::ostream& out) {
    const auto target = std::filesystem::absolute(file);
    if (target == ctx.config().db_path) {
        log::error(
            "Refusing to download over the managed database (K9_DB_PATH); choose another --file",
            {{"file", target.string()}});
        return kFailed;
    }
    try {
        Progress progress("download");
        const auto info =
            db::download_snapshot(ctx.store(), ctx.config().key, target, progress.callback());
        progress.finish();
        out << "Downloaded " << ctx.remote_url() << " to " << target.string() << " ("
            << human_bytes(info.size) << ", ETag " << info.etag << ")\n";
        return kOk;
    } catch (const store::StoreError& e) {
        if (!e.is_not_found()) {
            log::error("Failed to download from " + ctx.store().display_name() + ": " + e.what());
            return kFailed;
        }
        log::warning("Database not found in " + ctx.store().display_name() + ": " +
                     ctx.remote_url());
        out << "No database at " << ctx.remote_url() << " yet"
            << (optional_object ? " (a cold start will create one)\n" : "\n");
        return optional_object ? kOk : kFailed;
    }
}

}  // namespace k9::cli
