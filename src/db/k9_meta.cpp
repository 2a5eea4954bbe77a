#include "db/k9_meta.hpp"

#include <stdexcept>
#include <string>

namespace k9::db::meta {

void create_tables(duck::Connection& conn) {
    // Looked up first: most opens find both, and then nothing is written.
    auto found = conn.query(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' "
        "AND table_name IN ('k9_meta', 'k9_partitions')");
    if (found.int64(0, 0) == 2) return;
    conn.execute(R"sql(
CREATE TABLE IF NOT EXISTS k9_meta (
    name  VARCHAR NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO k9_meta (name, value) SELECT 'seq', 0
    WHERE NOT EXISTS (SELECT 1 FROM k9_meta WHERE name = 'seq');
CREATE TABLE IF NOT EXISTS k9_partitions (
    p   INTEGER NOT NULL,
    seq BIGINT NOT NULL
);
)sql");
}

std::optional<std::int64_t> read_seq(duck::Connection& conn) {
    auto exists = conn.query(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE schema_name = 'main' AND table_name = 'k9_meta'");
    if (exists.int64(0, 0) == 0) return std::nullopt;
    auto r = conn.query("SELECT CAST(value AS BIGINT) FROM k9_meta WHERE name = 'seq'");
    return r.rows() == 0 ? 0 : r.int64(0, 0);
}

void write_seq(duck::Connection& conn, std::int64_t seq) {
    conn.prepared("UPDATE k9_meta SET value = ? WHERE name = 'seq'").bind(1, seq).execute();
}

void count_write(duck::Connection& conn) {
    conn.prepared("UPDATE k9_meta SET value = value + 1 WHERE name = 'seq'").execute();
}

std::vector<std::int64_t> read_partition_seqs(duck::Connection& conn) {
    auto rows = conn.query("SELECT p, seq FROM k9_partitions ORDER BY p");
    std::vector<std::int64_t> seqs;
    seqs.reserve(rows.rows());
    for (std::size_t i = 0; i < rows.rows(); ++i) {
        if (rows.int64(0, i) != static_cast<std::int64_t>(i)) {
            throw std::runtime_error("k9_partitions is damaged (partition " + std::to_string(i) +
                                     " missing)");
        }
        seqs.push_back(rows.int64(1, i));
    }
    return seqs;
}

void write_partition_seq(duck::Connection& conn, int partition, std::int64_t seq) {
    conn.prepared("UPDATE k9_partitions SET seq = ? WHERE p = ?")
        .bind(1, seq)
        .bind(2, partition)
        .execute();
}

void write_partition_seqs(duck::Connection& conn, const std::vector<std::int64_t>& seqs) {
    conn.execute("DELETE FROM k9_partitions");
    for (std::size_t p = 0; p < seqs.size(); ++p) {
        conn.prepare("INSERT INTO k9_partitions (p, seq) VALUES (?, ?)")
            .bind(1, static_cast<std::int64_t>(p))
            .bind(2, seqs[p])
            .execute();
    }
}

}  // namespace k9::db::meta
