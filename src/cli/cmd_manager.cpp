#include "cli/commands.hpp"

#include "cli/format.hpp"

namespace k9::cli {

// The seed's --manager check: cold start, list the tables, persist.
int run_manager(Context& ctx, std::ostream& out) {
    auto& manager = ctx.manager();
    auto& conn = manager.get_connection();
    out << "Database ready at " << ctx.config().db_path.string() << " (snapshot "
        << ctx.remote_url() << ")\n";
    auto tables = conn.query(
        "SELECT table_name, estimated_size AS estimated_rows, column_count FROM duckdb_tables() "
        "WHERE NOT internal ORDER BY table_name");
    print_table(tables, out);
    return run_persist(ctx, out);
}

}  // namespace k9::cli
