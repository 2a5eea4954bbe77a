// Writes the generated seeds of fuzz_database_file: small real DuckDB files (an empty one, one
// with k9's schema and a few rows, stored in 16 KiB blocks to stay small) and damaged copies
// (truncated, bit-flipped headers). The other corpora are plain files written by hand.
//   build-asan/bin/fuzz_make_corpus tests/fuzz/corpus

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "db/duck.hpp"
#include "db/k9_meta.hpp"
#include "db/migrations.hpp"
#include "repo/mutations.hpp"

namespace {

namespace stdfs = std::filesystem;
using k9::duck::Connection;
using k9::duck::Database;

constexpr std::size_t kHeaderSize = 4096;  // DuckDB: main header, then two database headers

std::string read_file(const stdfs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const stdfs::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    std::printf("%8zu %s\n", bytes.size(), path.filename().c_str());
}

enum class Content { Empty, OneTable, K9Schema };

// A database made through an in-memory DuckDB that attaches the file with small blocks.
std::string make_database(const stdfs::path& scratch, const std::string& name, Content content) {
    const stdfs::path file = scratch / name;
    stdfs::remove(file);
    {
        Database memory(":memory:", {});
        Connection conn(memory);
        conn.execute("ATTACH '" + file.string() + "' AS f (BLOCK_SIZE 16384)");
        conn.execute("USE f");
        if (content == Content::OneTable) {
            conn.execute("CREATE TABLE t (i INTEGER, s VARCHAR)");
            conn.execute("INSERT INTO t VALUES (1, 'one'), (2, NULL), (3, 'three')");
        }
        if (content == Content::K9Schema) {
            k9::db::migrate(conn, k9::repo::k9_schema());
            k9::db::meta::create_tables(conn);
            conn.execute(
                "INSERT INTO users (user_id, name, email, created_at, updated_at) VALUES "
                "('user-a', 'Ann', 'ann@example.com', now(), now())");
            conn.execute(
                "INSERT INTO reports (id, title, author, date, user_id, reference, favorites, "
                "created_at, updated_at) VALUES ('r1', 'Weekly', 'Ann', DATE '2024-05-01', "
                "'user-a', '{\"product\":\"p1\"}', '[\"p1\",\"p2\"]', now(), now())");
        }
        conn.execute("CHECKPOINT f");
        conn.execute("USE memory");
        conn.execute("DETACH f");
    }
    return read_file(file);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR (e.g. tests/fuzz/corpus)\n", argv[0]);
        return 2;
    }
    const stdfs::path out = stdfs::path(argv[1]) / "fuzz_database_file";
    const stdfs::path scratch = stdfs::temp_directory_path() / "k9-fuzz-make-corpus";
    stdfs::create_directories(out);
    stdfs::create_directories(scratch);

    write_file(out / "duckdb_empty.db", make_database(scratch, "empty.db", Content::Empty));
    write_file(out / "duckdb_k9_schema.db", make_database(scratch, "k9.db", Content::K9Schema));
    // The damaged copies start from the smallest database with data.
    const std::string db = make_database(scratch, "one.db", Content::OneTable);
    write_file(out / "duckdb_one_table.db", db);

    write_file(out / "truncated_magic_only.db", db.substr(0, 12));
    write_file(out / "truncated_main_header.db", db.substr(0, kHeaderSize));
    write_file(out / "truncated_mid_db_header.db", db.substr(0, 2 * kHeaderSize + 100));
    write_file(out / "truncated_after_headers.db", db.substr(0, 3 * kHeaderSize));
    write_file(out / "truncated_half.db", db.substr(0, db.size() / 2));
    auto flipped = [&](const std::string& name, std::size_t at) {
        std::string copy = db;
        if (at < copy.size()) copy[at] = static_cast<char>(copy[at] ^ 0x01);
        write_file(out / name, copy);
    };
    flipped("flip_main_checksum.db", 0);
    flipped("flip_version.db", 12);
    flipped("flip_db_header_1.db", kHeaderSize + 16);
    flipped("flip_db_header_2.db", 2 * kHeaderSize + 16);
    flipped("flip_first_block.db", 3 * kHeaderSize + 100);
    flipped("flip_last_byte.db", db.size() - 1);
    write_file(out / "not_duckdb_sqlite.db",
               std::string("SQLite format 3\0", 16) + std::string(84, '\0'));
    write_file(out / "magic_only_padded.db",
               std::string(8, '\0') + "DUCK" + std::string(3 * kHeaderSize - 12, '\0'));
    stdfs::remove_all(scratch);
    return 0;
}
