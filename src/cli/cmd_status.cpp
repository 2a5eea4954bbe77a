#include "cli/commands.hpp"

#include <vector>

#include "cli/format.hpp"
#include "common/fs.hpp"

namespace k9::cli {
namespace {

std::string text(const nlohmann::json& v, const std::string& none) {
    return v.is_null() ? none : (v.is_string() ? v.get<std::string>() : v.dump());
}

// What `k9db status` says of the durability mode.
std::string durability_text(bool journal) {
    return journal ? "journal (every write is in the store before it is acknowledged)"
                   : "snapshot (writes stay in the local file until a persist)";
}

// Where the pending writes are: in journal mode they are already durable.
std::string pending_text(std::int64_t pending, bool journal) {
    std::string s = std::to_string(pending);
    if (pending == 0) return s;
    return s + (journal ? " (in the journal; the next persist folds them into a snapshot)"
                        : " (only in the local file until a persist)");
}

// What a snapshot newer than the local file's base means for the next persist. Journal
// mode: another copy compacted; the journal holds every write and a persist (a
// compaction) never conflicts. Snapshot mode: a persist of pending writes conflicts.
std::string changed_snapshot_text(bool journal, std::int64_t pending) {
    if (journal) {
        return " (changed since: another copy compacted; this copy catches up from the journal, "
               "and a persist never conflicts)";
    }
    if (pending > 0) return " (changed since: persist will conflict)";
    return " (changed since: nothing to persist here; a new cold start downloads it)";
}

}  // namespace

int run_status(Context& ctx, bool as_json, std::ostream& out) {
    const auto& cfg = ctx.config();
    const bool journal = cfg.durability.journal;
    const auto remote = ctx.store().head_if_exists(cfg.key);
    nlohmann::json j;
    if (!fs::file_size_if_exists(cfg.db_path)) {
        // Do not download just to report: say what a cold start would do.
        j = {{"durability", journal ? "journal" : "snapshot"},
             {"db_path", cfg.db_path.string()},
             {"local_bytes", nullptr},
             {"remote", ctx.remote_url()}};
    } else {
        j = ctx.manager().status().to_json();
    }
    j["remote_now"] = remote ? nlohmann::json(remote->etag) : nlohmann::json(nullptr);
    j["remote_bytes"] = remote ? nlohmann::json(remote->size) : nlohmann::json(nullptr);
    if (as_json) {
        out << j.dump(2) << "\n";
        return kOk;
    }
    std::vector<std::vector<std::string>> rows;
    auto row = [&](const std::string& name, const std::string& value) {
        rows.push_back({name, value});
    };
    row("Durability", durability_text(journal));
    const bool local = !j["local_bytes"].is_null();
    const std::int64_t pending = local ? j["pending_writes"].get<std::int64_t>() : 0;
    if (!local) {
        row("Local database", cfg.db_path.string() + " (none yet: a cold start will " +
                                  (remote ? "download the snapshot)" : "create a new database)"));
    } else {
        row("Local database",
            cfg.db_path.string() + " (" + human_bytes(j["local_bytes"].get<std::uint64_t>()) + ")");
        row("Origin", text(j["origin"], "unknown"));
        row("Schema version", std::to_string(j["schema_version"].get<int>()));
        row("Pending writes", pending_text(pending, journal));
        row("Last persist", text(j["last_persist"], "never"));
        row("Based on ETag", text(j["remote_etag"], "(none)"));
    }
    row("Snapshot", ctx.remote_url());
    if (remote) {
        std::string now = remote->etag + ", " + human_bytes(remote->size);
        if (local)
            now += j["remote_etag"] == j["remote_now"] ? " (unchanged)"
                                                       : changed_snapshot_text(journal, pending);
        row("Snapshot ETag", now);
    } else {
        row("Snapshot ETag", "(no snapshot yet)");
    }
    print_columns(rows, out);
    return kOk;
}

}  // namespace k9::cli
