#include "cli/commands.hpp"

#include "cli/format.hpp"

namespace k9::cli {

namespace {

bool is_read(duckdb_statement_type type) {
    switch (type) {
        case DUCKDB_STATEMENT_TYPE_SELECT:
        case DUCKDB_STATEMENT_TYPE_EXPLAIN:
        case DUCKDB_STATEMENT_TYPE_PRAGMA:
        case DUCKDB_STATEMENT_TYPE_CALL:
        case DUCKDB_STATEMENT_TYPE_SET:
        case DUCKDB_STATEMENT_TYPE_VARIABLE_SET:
            return true;
        default:
            return false;
    }
}

bool is_refused(duckdb_statement_type type) {
    switch (type) {
        case DUCKDB_STATEMENT_TYPE_TRANSACTION:  // k9 runs each write in its own transaction
        case DUCKDB_STATEMENT_TYPE_ATTACH:
        case DUCKDB_STATEMENT_TYPE_DETACH:
        case DUCKDB_STATEMENT_TYPE_LOAD:
        case DUCKDB_STATEMENT_TYPE_EXTENSION:
        case DUCKDB_STATEMENT_TYPE_EXPORT:
            return true;
        default:
            return false;
    }
}

}  // namespace

// Reads print their rows, on a copy that has read the whole journal first. A text
// holding any write runs as one "sql" mutation (one transaction); in journal mode it
// names the user whose data it changes (--user) and goes to that user's partition.
int run_sql(Context& ctx, const std::string& sql, const std::string& user, std::ostream& out) {
    auto& manager = ctx.manager();
    manager.refresh_all();
    auto& conn = manager.get_connection();
    auto statements = conn.prepare_all(sql);
    bool writes = false;
    for (const auto& stmt : statements) {
        if (is_refused(stmt.type())) {
            throw std::invalid_argument(
                "k9db sql does not run transaction control, ATTACH/DETACH, LOAD/INSTALL or EXPORT "
                "statements: each write already runs in its own transaction on the managed "
                "database");
        }
        writes = writes || !is_read(stmt.type());
    }
    if (!writes) {
        for (auto& stmt : statements) print_table(stmt.execute(), out);
        return kOk;
    }
    statements.clear();
    const auto result = manager.apply({"sql", {{"sql", sql}}, user});
    out << "OK, " << result.value("rows_changed", 0) << " row(s) changed; ";
    if (manager.options().durability == db::Durability::Journal) {
        out << "in the journal (partition " << manager.partition_of(user) << ")\n";
    } else {
        out << manager.pending_writes() << " pending write(s) (k9db persist uploads them)\n";
    }
    return kOk;
}

}  // namespace k9::cli
