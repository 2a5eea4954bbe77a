#pragma once
// A thin RAII layer over DuckDB's C API (duckdb.h). Every handle is owned by exactly
// one object and released in its destructor. Errors end the operation: they throw
// duck::Error with DuckDB's message. A Connection must be used by one thread at a
// time; a Database may have many Connections.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <duckdb.h>

namespace k9::duck {

class Error : public std::runtime_error {
  public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

class Database {
  public:
    // Opens (or creates) `path` with DuckDB configuration options (name -> value),
    // e.g. {"home_directory", "/tmp"}, {"access_mode", "READ_ONLY"}. On Lambda HOME is
    // unset: home_directory is applied to every Connection made from this Database.
    Database(const std::filesystem::path& path, const std::map<std::string, std::string>& options);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;
    duckdb_database handle() { return db_; }
    // "SET home_directory = ..." for each new connection, or "".
    const std::string& home_setting() const { return home_setting_; }

  private:
    duckdb_database db_ = nullptr;
    std::string home_setting_;
};

// A materialised query result. Values are read by (column, row).
class Result {
  public:
    Result() = default;
    explicit Result(duckdb_result result) : result_(result), valid_(true) {}
    Result(Result&& other) noexcept;
    Result& operator=(Result&& other) noexcept;
    Result(const Result&) = delete;
    Result& operator=(const Result&) = delete;
    ~Result();

    std::size_t rows() const;
    std::size_t columns() const;
    std::string column_name(std::size_t col) const;
    std::size_t rows_changed() const;
    bool is_null(std::size_t col, std::size_t row) const;
    // Any value rendered as text (DuckDB's own cast); "" for NULL.
    std::string text(std::size_t col, std::size_t row) const;
    std::optional<std::string> optional_text(std::size_t col, std::size_t row) const;
    std::int64_t int64(std::size_t col, std::size_t row) const;
    bool boolean(std::size_t col, std::size_t row) const;

  private:
    duckdb_result* raw() const { return const_cast<duckdb_result*>(&result_); }
    duckdb_result result_{};
    bool valid_ = false;
};

class Statement {
  public:
    Statement(duckdb_prepared_statement stmt) : stmt_(stmt) {}
    Statement(Statement&& other) noexcept : stmt_(other.stmt_) { other.stmt_ = nullptr; }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement();

    // Parameters are 1-based, as in DuckDB.
    Statement& bind(std::size_t index, std::string_view value);
    Statement& bind(std::size_t index, const char* value) {
        return bind(index, std::string_view(value));
    }
    Statement& bind(std::size_t index, const std::string& value) {
        return bind(index, std::string_view(value));
    }
    Statement& bind(std::size_t index, std::int64_t value);
    Statement& bind(std::size_t index, int value) {
        return bind(index, static_cast<std::int64_t>(value));
    }
    Statement& bind(std::size_t index, bool value);
    Statement& bind_null(std::size_t index);
    Statement& bind(std::size_t index, const std::optional<std::string>& value);
    // Microseconds since the epoch, as a TIMESTAMP.
    Statement& bind_timestamp(std::size_t index, std::int64_t micros);
    Result execute();
    std::size_t parameter_count() const;
    duckdb_statement_type type() const;

  private:
    void check(duckdb_state state, std::size_t index);
    duckdb_prepared_statement stmt_ = nullptr;
};

class Connection {
  public:
    explicit Connection(Database& db);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // Runs SQL (possibly several statements); returns the last result.
    Result query(std::string_view sql);
    void execute(std::string_view sql) { query(sql); }
    Statement prepare(std::string_view sql);
    // A statement prepared once per connection and reused (parsing and planning cost
    // more than running a point query). Bind every parameter before each execute().
    Statement& prepared(const std::string& sql);
    // Splits a SQL text into prepared statements, one per statement it holds.
    std::vector<Statement> prepare_all(std::string_view sql);
    duckdb_connection handle() { return conn_; }

  private:
    duckdb_connection conn_ = nullptr;
    std::map<std::string, Statement> cache_;
};

// BEGIN on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
  public:
    explicit Transaction(Connection& conn);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

  private:
    Connection& conn_;
    bool open_ = true;
};

// Quotes an identifier for SQL text ("name" with inner quotes doubled).
std::string quote_identifier(std::string_view name);

}  // namespace k9::duck
