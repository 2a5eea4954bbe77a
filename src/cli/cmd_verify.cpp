#include "cli/commands.hpp"

#include "cli/format.hpp"
#include "common/fs.hpp"
#include "db/journal.hpp"
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

// The journal after the snapshot: in every partition every entry present (no hole) and
// readable, and each position created once (seen on stores that keep versions).
// Returns false when it is damaged.
bool verify_journal(Context& ctx, const std::optional<store::ObjectInfo>& snapshot,
                    std::ostream& out) {
    const auto& cfg = ctx.config();
    db::Journal journal(ctx.store(), cfg.key);
    out << "Journal " << ctx.store().url_for(journal.prefix()) << "\n";
    const auto seqs = snapshot ? db::snapshot_partition_seqs(*snapshot) : std::nullopt;
    const auto listing = journal.list_all();
    bool ok = true;
    std::size_t entries = 0, partitions_used = 0;
    int unreadable = 0;
    for (const auto& [partition, listed] : listing) {
        if (partition < 0) {
            out << "  " << listed.size() << " entr" << (listed.size() == 1 ? "y" : "ies")
                << " of the single journal of older k9"
                << (seqs ? " (superseded; removed by a compaction)" : "") << "\n";
            continue;
        }
        const std::int64_t after = seqs && partition < static_cast<int>(seqs->size())
                                       ? (*seqs)[static_cast<std::size_t>(partition)]
                                       : 0;
        std::vector<std::int64_t> above;
        for (const auto s : listed) {
            if (s > after) above.push_back(s);
        }
        if (const auto hole = db::first_hole(partition, after, above)) {
            out << "  DAMAGED: " << db::hole_message(ctx.remote_url(), *hole, after) << "\n";
            ok = false;
        }
        for (const auto s : above) {
            try {
                journal.read(partition, s);
            } catch (const store::StoreError& e) {
                if (unreadable++ < 5) out << "  DAMAGED: " << e.what() << "\n";
                ok = false;
            }
        }
        entries += above.size();
        if (!above.empty()) ++partitions_used;
    }
    const auto doubled = journal.doubly_owned();
    if (!doubled.empty()) {
        out << "  DAMAGED: entries (partition/seq)";
        for (const auto& d : doubled) out << " " << d.partition << "/" << d.seq;
        out << " were created by two writers (the store did not hold If-None-Match: *); the writes "
               "of the "
               "overwritten versions are missing\n";
        ok = false;
    }
    if (ok) {
        out << "  ok: " << entries << " entr" << (entries == 1 ? "y" : "ies")
            << " after the snapshot in " << partitions_used << " of "
            << (seqs ? std::to_string(seqs->size()) : std::string("?"))
            << " partitions, all readable\n";
    }
    return ok;
}

}  // namespace

// Checks that the local file and the remote snapshot are sound DuckDB databases, that
// the journal after the snapshot is whole (journal mode), and says whether local and
// remote hold the same data. Exit 1 when any of them is damaged.
int run_verify(Context& ctx, std::ostream& out) {
    const auto& cfg = ctx.config();
    bool damaged = false;
    std::optional<Summary> local, remote;
    std::optional<store::ObjectInfo> snapshot;

    out << "Local " << cfg.db_path.string() << "\n";
    if (!fs::file_size_if_exists(cfg.db_path)) {
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
        snapshot = fetched.info;
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

    if (cfg.durability.journal) {
        try {
            if (!verify_journal(ctx, snapshot, out)) damaged = true;
        } catch (const store::StoreError& e) {
            out << "  UNREACHABLE: " << e.what() << "\n";
            damaged = true;
        }
    }

    if (local && remote) {
        out << (*local == *remote
                    ? "Local and remote hold the same data\n"
                    : "Local and remote differ (unpersisted writes, or the remote moved on)\n");
    }
    return damaged ? kFailed : kOk;
}

}  // namespace k9::cli
