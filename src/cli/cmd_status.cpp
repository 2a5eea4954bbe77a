#include "cli/commands.hpp"

#include <iomanip>

#include "cli/format.hpp"
#include "common/fs.hpp"

namespace k9::cli {

int run_status(Context& ctx, bool as_json, std::ostream& out) {
    const auto& cfg = ctx.config();
    const auto remote = ctx.store().head_if_exists(cfg.key);
    nlohmann::json j;
    if (fs::file_size_or_negative(cfg.db_path) < 0) {
        // Do not download just to report: say what a cold start would do.
        j = {{"db_path", cfg.db_path.string()}, {"local_bytes", nullptr}, {"remote", ctx.remote_url()}};
    } else {
        j = ctx.manager().status().to_json();
    }
    j["remote_now"] = remote ? nlohmann::json(remote->etag) : nlohmann::json(nullptr);
    j["remote_bytes"] = remote ? nlohmann::json(remote->size) : nlohmann::json(nullptr);
    if (as_json) {
        out << j.dump(2) << "\n";
        return kOk;
    }
    auto row = [&](const std::string& name, const std::string& value) {
        out << std::left << std::setw(18) << name << value << "\n";
    };
    auto text = [](const nlohmann::json& v, const std::string& none) {
        return v.is_null() ? none : (v.is_string() ? v.get<std::string>() : v.dump());
    };
    if (j["local_bytes"].is_null()) {
        row("Local database", cfg.db_path.string() + " (none yet: a cold start will " +
                                  (remote ? "download the snapshot)" : "create a new database)"));
    } else {
        row("Local database", cfg.db_path.string() + " (" + human_bytes(j["local_bytes"].get<std::uint64_t>()) + ")");
        row("Origin", text(j["origin"], "unknown"));
        row("Schema version", std::to_string(j["schema_version"].get<int>()));
        row("Pending writes", std::to_string(j["pending_writes"].get<std::int64_t>()));
        row("Last persist", text(j["last_persist"], "never"));
        row("Based on ETag", text(j["remote_etag"], "(none)"));
    }
    row("Snapshot", ctx.remote_url());
    if (remote) {
        std::string now = remote->etag + ", " + human_bytes(remote->size);
        if (!j["local_bytes"].is_null()) {
            now += j["remote_etag"] == j["remote_now"] ? " (unchanged)"
                                                       : " (changed since: persist will conflict)";
        }
        row("Snapshot ETag", now);
    } else {
        row("Snapshot ETag", "(no snapshot yet)");
    }
    return kOk;
}

}  // namespace k9::cli
