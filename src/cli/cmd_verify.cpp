#include "cli/commands.hpp"

#include "cli/format.hpp"
#include "common/fs.hpp"
#include "db/local_state.hpp"
#include "db/snapshot.hpp"

namespace k9::cli {
namespace stdfs = std::filesystem;

namespace {

using Summary = std::map<std::string, db::TableSummary>;

void print_summary(const Summary& s, std::ostream& out) {
    for (const auto& [table, t] : s) {
        out << "    " << table << ": " << t.rows << " row(s), checksum " << t.checksum << "\n";
    }
}

}  // namespace

// Checks that the local file and the remote snapshot are sound DuckDB databases and
// says whether they hold the same data. Exit 1 when either is damaged.
int run_verify(Context& ctx, std::ostream& out) {
    const auto& cfg = ctx.config();
    bool damaged = false;
    std::optional<Summary> local, remote;

    out << "Local " << cfg.db_path.string() << "\n";
    if (fs::file_size_or_negative(cfg.db_path) < 0) {
        out << "  absent (a cold start will download or create it)\n";
    } else if (!db::has_duckdb_magic(cfg.db_path)) {
        out << "  DAMAGED: not a DuckDB database\n";
        damaged = true;
    } else {
        try {
            local = db::summarize_tables(cfg.db_path);
            out << "  ok: DuckDB opens it and reads every table\n";
            print_summary(*local, out);
        } catch (const duck::Error& e) {
            out << "  DAMAGED or busy: " << e.what() << "\n";
            damaged = true;
        }
    }

    out << "Remote " << ctx.remote_url() << "\n";
    try {
        const stdfs::path dir = cfg.db_path.parent_path();
        auto fetched = db::fetch_snapshot(ctx.store(), cfg.key, dir);
        remote = db::summarize_tables(fetched.file.path());
        out << "  ok: " << human_bytes(fetched.info.size) << ", ETag " << fetched.info.etag
            << (fetched.info.checksum.empty() ? ", no k9 checksum (not uploaded by k9)"
                                              : ", checksum matches")
            << ", DuckDB opens it\n";
        print_summary(*remote, out);
    } catch (const store::StoreError& e) {
        if (e.is_not_found()) {
            out << "  absent\n";
        } else {
            out << "  " << (e.kind() == store::ErrorKind::Corrupt ? "DAMAGED: " : "UNREACHABLE: ")
                << e.what() << "\n";
            damaged = true;
        }
    }

    if (local && remote) {
        out << (*local == *remote ? "Local and remote hold the same data\n"
                                  : "Local and remote differ (unpersisted writes, or the remote moved on)\n");
    }
    return damaged ? kFailed : kOk;
}

}  // namespace k9::cli
