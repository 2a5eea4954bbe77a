// k9db: operate the K9 API's database and its snapshot in the object store.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "store/error.hpp"

namespace {

constexpr const char* kFooter = R"(
Configuration comes from the environment: ENVIRONMENT, DATABASE_S3_BUCKET,
DATABASE_S3_KEY, K9_DB_PATH, K9_STORE_URL (see k9db --config).

Exit codes:
  0  success
  1  the operation failed (the message on stderr says why and what to do)
  2  usage or configuration error
  3  persist conflict: the remote database changed; nothing was overwritten
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace k9::cli;
    k9::log::configure_from_environment();

    CLI::App app{"k9db - the K9 API database and its snapshot in S3 (or a local file store)",
                 "k9db"};
    app.footer(kFooter);
    bool show_config = false, download = false, upload = false, manager = false, all = false,
         force = false;
    std::string file;
    app.add_flag("--config", show_config, "Show the configuration and where each value came from");
    app.add_flag("--download", download,
                 "Download the snapshot to --file (default /tmp/k9_api_test.db)");
    app.add_flag("--upload", upload,
                 "Upload --file as the snapshot (refuses to replace one without --force)");
    app.add_option("--file", file, "Local file for --download / --upload");
    app.add_flag("--force", force,
                 "With --upload: replace an existing snapshot (still If-Match on it)");
    app.add_flag("--manager", manager,
                 "Cold start the managed database, list its tables, persist it");
    app.add_flag("--all", all, "--config, then --download, then --manager");

    auto* status =
        app.add_subcommand("status", "Local database, snapshot, pending writes, last persist");
    bool status_json = false;
    status->add_flag("--json", status_json, "Print the status as JSON");
    auto* persist = app.add_subcommand("persist", "Upload pending writes as a new snapshot");
    auto* sql =
        app.add_subcommand("sql", "Run SQL on the managed database (writes count as pending)");
    std::string query;
    sql->add_option("QUERY", query, "SQL text")->required();
    std::string sql_user;
    sql->add_option(
        "--user", sql_user,
        "The user whose data a write changes (journal mode: its partition of the journal)");
    auto* verify = app.add_subcommand("verify", "Check the local database and the snapshot");
    auto* versions =
        app.add_subcommand("versions", "List the snapshot's versions (id, time, size)");
    auto* restore = app.add_subcommand("restore", "Make an earlier version the current snapshot");
    std::string version_id;
    restore->add_option("--version-id", version_id, "The version to restore (see k9db versions)")
        ->required();
    auto* token =
        app.add_subcommand("token", "Print a development token (HS256, K9_JWT_SECRET) for k9-api");
    std::string token_user;
    long token_ttl = 3600;
    token->add_option("--user", token_user, "The user id (the token's sub)")->required();
    token->add_option("--ttl", token_ttl, "Lifetime in seconds")
        ->capture_default_str()
        ->check(CLI::Range(1L, 31L * 86400));
    bool token_admin = false;
    token->add_flag(
        "--admin", token_admin,
        "An administrator's token (member of K9_ADMIN_GROUP): /admin/*, /health's details");
    app.require_subcommand(0, 1);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? kOk : kUsage;
    }
    const bool any_flag = show_config || download || upload || manager || all;
    if (!any_flag && app.get_subcommands().empty()) {
        std::cout << app.help();
        return kUsage;
    }
    if (upload && file.empty()) {
        std::cerr << "--upload needs --file PATH (the database file to upload)\n";
        return kUsage;
    }
    if (force && !upload) {
        std::cerr << "--force only applies to --upload\n";
        return kUsage;
    }

    Context ctx(k9::process_env());
    auto& out = std::cout;
    try {
        int rc = kOk;
        auto step = [&](int r) {
            if (rc == kOk) rc = r;
        };
        if (show_config || all) step(run_config(ctx, out));
        if (download || all)
            step(run_download(ctx, file.empty() ? kDefaultDownloadFile : file, all && !download,
                              out));
        if (upload) step(run_upload(ctx, file, force, out));
        if (manager || all) step(run_manager(ctx, out));
        if (status->parsed()) step(run_status(ctx, status_json, out));
        if (persist->parsed()) step(run_persist(ctx, out));
        if (sql->parsed()) step(run_sql(ctx, query, sql_user, out));
        if (verify->parsed()) step(run_verify(ctx, out));
        if (versions->parsed()) step(run_versions(ctx, out));
        if (restore->parsed()) step(run_restore(ctx, version_id, out));
        if (token->parsed()) step(run_token(ctx, token_user, token_ttl, token_admin, out));
        return rc;
    } catch (const k9::ConfigError& e) {
        k9::log::error(std::string("Configuration error: ") + e.what(), {{"variable", e.variable}});
        return kUsage;
    } catch (const k9::db::PersistConflict& e) {
        k9::log::error(e.what());
        return kConflict;
    } catch (const std::invalid_argument& e) {
        k9::log::error(e.what());
        return kUsage;
    } catch (const std::exception& e) {
        k9::log::error(e.what());
        return kFailed;
    }
}
