#include "db/duck.hpp"

#include <string>

namespace k9::duck {

Database::Database(const std::filesystem::path& path,
                   const std::map<std::string, std::string>& options) {
    duckdb_config config = nullptr;
    if (duckdb_create_config(&config) != DuckDBSuccess)
        throw Error("DuckDB: cannot create a configuration");
    std::optional<std::string> home;
    for (const auto& [name, value] : options) {
        if (name == "home_directory") {  // a per-connection setting: each Connection SETs it
            home = value;
            continue;
        }
        if (duckdb_set_config(config, name.c_str(), value.c_str()) != DuckDBSuccess) {
            duckdb_destroy_config(&config);
            throw Error("DuckDB: invalid option " + name + "=" + value);
        }
    }
    char* error = nullptr;
    const duckdb_state state = duckdb_open_ext(path.c_str(), &db_, config, &error);
    duckdb_destroy_config(&config);
    if (state != DuckDBSuccess) {
        std::string message = error != nullptr ? error : "unknown error";
        duckdb_free(error);
        db_ = nullptr;
        throw Error("cannot open database " + path.string() + ": " + message);
    }
    if (home) {
        std::string quoted;
        for (char c : *home) quoted += c == '\'' ? std::string("''") : std::string(1, c);
        home_setting_ = "SET home_directory = '" + quoted + "'";
    }
}

Database::~Database() {
    if (db_ != nullptr) duckdb_close(&db_);
}

Result::Result(Result&& other) noexcept : result_(other.result_), valid_(other.valid_) {
    other.valid_ = false;
}

Result& Result::operator=(Result&& other) noexcept {
    if (this != &other) {
        if (valid_) duckdb_destroy_result(&result_);
        result_ = other.result_;
        valid_ = other.valid_;
        other.valid_ = false;
    }
    return *this;
}

Result::~Result() {
    if (valid_) duckdb_destroy_result(&result_);
}

std::size_t Result::rows() const {
    return valid_ ? duckdb_row_count(raw()) : 0;
}
std::size_t Result::columns() const {
    return valid_ ? duckdb_column_count(raw()) : 0;
}
std::string Result::column_name(std::size_t col) const {
    const char* name = duckdb_column_name(raw(), col);
    return name != nullptr ? name : "";
}
std::size_t Result::rows_changed() const {
    return valid_ ? duckdb_rows_changed(raw()) : 0;
}
bool Result::is_null(std::size_t col, std::size_t row) const {
    return duckdb_value_is_null(raw(), col, row);
}

std::string Result::text(std::size_t col, std::size_t row) const {
    char* value = duckdb_value_varchar(raw(), col, row);
    if (value == nullptr) return {};
    std::string out(value);
    duckdb_free(value);
    return out;
}

std::optional<std::string> Result::optional_text(std::size_t col, std::size_t row) const {
    if (is_null(col, row)) return std::nullopt;
    return text(col, row);
}

std::int64_t Result::int64(std::size_t col, std::size_t row) const {
    return duckdb_value_int64(raw(), col, row);
}

bool Result::boolean(std::size_t col, std::size_t row) const {
    return duckdb_value_boolean(raw(), col, row);
}

Statement::~Statement() {
    if (stmt_ != nullptr) duckdb_destroy_prepare(&stmt_);
}

void Statement::check(duckdb_state state, std::size_t index) {
    if (state != DuckDBSuccess) {
        const char* error = duckdb_prepare_error(stmt_);
        throw Error("cannot bind parameter " + std::to_string(index) + ": " +
                    (error != nullptr
                         ? error
                         : "a bad index, or a value DuckDB refuses (e.g. invalid UTF-8)"));
    }
}

Statement& Statement::bind(std::size_t index, std::string_view value) {
    check(duckdb_bind_varchar_length(stmt_, index, value.data(), value.size()), index);
    return *this;
}
Statement& Statement::bind(std::size_t index, std::int64_t value) {
    check(duckdb_bind_int64(stmt_, index, value), index);
    return *this;
}
Statement& Statement::bind(std::size_t index, bool value) {
    check(duckdb_bind_boolean(stmt_, index, value), index);
    return *this;
}
Statement& Statement::bind_null(std::size_t index) {
    check(duckdb_bind_null(stmt_, index), index);
    return *this;
}
Statement& Statement::bind(std::size_t index, const std::optional<std::string>& value) {
    return value ? bind(index, std::string_view(*value)) : bind_null(index);
}
Statement& Statement::bind_timestamp(std::size_t index, std::int64_t micros) {
    check(duckdb_bind_timestamp(stmt_, index, duckdb_timestamp{micros}), index);
    return *this;
}

Result Statement::execute() {
    duckdb_result result;
    if (duckdb_execute_prepared(stmt_, &result) != DuckDBSuccess) {
        const char* error = duckdb_result_error(&result);
        std::string message = error != nullptr ? error : "unknown error";
        duckdb_destroy_result(&result);
        throw Error(message);
    }
    return Result(result);
}

std::size_t Statement::parameter_count() const {
    return duckdb_nparams(stmt_);
}
duckdb_statement_type Statement::type() const {
    return duckdb_prepared_statement_type(stmt_);
}

Connection::Connection(Database& db) {
    if (duckdb_connect(db.handle(), &conn_) != DuckDBSuccess) throw Error("DuckDB: cannot connect");
    if (db.home_setting().empty()) return;
    try {
        execute(db.home_setting());
    } catch (const Error&) {
        duckdb_disconnect(&conn_);
        throw;
    }
}

Connection::~Connection() {
    cache_.clear();  // statements before their connection
    if (conn_ != nullptr) duckdb_disconnect(&conn_);
}

Result Connection::query(std::string_view sql) {
    const std::string text(sql);
    duckdb_result result;
    if (duckdb_query(conn_, text.c_str(), &result) != DuckDBSuccess) {
        const char* error = duckdb_result_error(&result);
        std::string message = error != nullptr ? error : "unknown error";
        duckdb_destroy_result(&result);
        throw Error(message);
    }
    return Result(result);
}

Statement Connection::prepare(std::string_view sql) {
    const std::string text(sql);
    duckdb_prepared_statement stmt = nullptr;
    if (duckdb_prepare(conn_, text.c_str(), &stmt) != DuckDBSuccess) {
        const char* error = duckdb_prepare_error(stmt);
        std::string message = error != nullptr ? error : "unknown error";
        duckdb_destroy_prepare(&stmt);
        throw Error(message);
    }
    return Statement(stmt);
}

Statement& Connection::prepared(const std::string& sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end()) it = cache_.emplace(sql, prepare(sql)).first;
    return it->second;
}

std::vector<Statement> Connection::prepare_all(std::string_view sql) {
    const std::string text(sql);
    duckdb_extracted_statements extracted = nullptr;
    const idx_t count = duckdb_extract_statements(conn_, text.c_str(), &extracted);
    if (count == 0) {
        const char* error = duckdb_extract_statements_error(extracted);
        std::string message = error != nullptr ? error : "no SQL statement found";
        duckdb_destroy_extracted(&extracted);
        throw Error(message);
    }
    std::vector<Statement> out;
    for (idx_t i = 0; i < count; ++i) {
        duckdb_prepared_statement stmt = nullptr;
        if (duckdb_prepare_extracted_statement(conn_, extracted, i, &stmt) != DuckDBSuccess) {
            const char* error = duckdb_prepare_error(stmt);
            std::string message = error != nullptr ? error : "unknown error";
            duckdb_destroy_prepare(&stmt);
            duckdb_destroy_extracted(&extracted);
            throw Error(message);
        }
        out.emplace_back(stmt);
    }
    duckdb_destroy_extracted(&extracted);
    return out;
}

Transaction::Transaction(Connection& conn) : conn_(conn) {
    conn_.execute("BEGIN TRANSACTION");
}

Transaction::~Transaction() {
    if (!open_) return;
    try {
        conn_.execute("ROLLBACK");
    } catch (const Error&) {
        // The transaction is already aborted; nothing left to undo.
    }
}

void Transaction::commit() {
    conn_.execute("COMMIT");
    open_ = false;
}

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out += '"';
        out += c;
    }
    return out + "\"";
}

}  // namespace k9::duck
