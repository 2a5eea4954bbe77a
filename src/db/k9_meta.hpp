#pragma once
// k9's bookkeeping inside a database file, in one place: which tables hold it and every
// statement that reads or writes them.
//   k9_meta        the row 'seq': snapshot mode's write counter; a store still on the
//                  single journal: the last entry this file holds
//   k9_partitions  journal mode: one row per partition, the last seq this file holds
//                  (empty until the journal's layout is known)
// Neither table has an index, on purpose: every write updates a seq row, and an UPDATE
// on an indexed table costs DuckDB several times more.
// The application's schema (users, reports) is not here: it comes in with the manager's
// options (ManagerOptions::schema), the way its mutations do.

#include <cstdint>
#include <optional>
#include <vector>

#include "db/duck.hpp"

namespace k9::db::meta {

// Creates both tables (and the 'seq' row) where they are missing; a no-op otherwise.
void create_tables(duck::Connection& conn);

// The 'seq' row; nullopt when the file has no k9_meta (a file k9 did not make).
std::optional<std::int64_t> read_seq(duck::Connection& conn);
void write_seq(duck::Connection& conn, std::int64_t seq);
void count_write(duck::Connection& conn);  // seq + 1: snapshot mode's counter

// Every partition's seq, partition 0 first; empty when the layout is not known yet.
// Throws std::runtime_error when rows are missing (the table is damaged).
std::vector<std::int64_t> read_partition_seqs(duck::Connection& conn);
void write_partition_seq(duck::Connection& conn, int partition, std::int64_t seq);
// Replaces every row: partition p at seqs[p].
void write_partition_seqs(duck::Connection& conn, const std::vector<std::int64_t>& seqs);

}  // namespace k9::db::meta
