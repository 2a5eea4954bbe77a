// DuckDB's floor under the API's reads: the query behind GET /user/profile, prepared once
// and run in a loop through DuckDB's C API, one connection per thread, with every column of
// the row read out. No k9 code runs: what k9-api serve's GET /user/profile does per second
// is printed by bench/api_bench.sh as a ratio of this.
//
//   build/bin/duckdb_floor [--seconds 3] [--rows 1000] [--threads 1,2] [--duckdb-threads N]
//
// Prints one line per thread count: "FLOOR threads=T queries_per_s=Q us_per_query=U".
#include <duckdb.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

void check(duckdb_state state, const char* what) {
    if (state != DuckDBSuccess) throw std::runtime_error(std::string("DuckDB: ") + what);
}

void run_sql(duckdb_connection conn, const std::string& sql) {
    duckdb_result result;
    const bool ok = duckdb_query(conn, sql.c_str(), &result) == DuckDBSuccess;
    const std::string error = ok ? "" : duckdb_result_error(&result);
    duckdb_destroy_result(&result);
    if (!ok) throw std::runtime_error("DuckDB: " + error + " in " + sql);
}

// Point queries by one connection for `seconds`; returns how many ran.
long long point_queries(duckdb_database db, int rows, double seconds, std::atomic<bool>& go) {
    duckdb_connection conn = nullptr;
    check(duckdb_connect(db, &conn), "connect");
    duckdb_prepared_statement stmt = nullptr;
    check(duckdb_prepare(conn,
                         "SELECT user_id, name, email, avatar_url, CAST(preferences AS VARCHAR), "
                         "epoch_us(created_at), epoch_us(updated_at) FROM users WHERE user_id = ?",
                         &stmt),
          "prepare");
    while (!go) std::this_thread::yield();
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    long long done = 0;
    unsigned seed = static_cast<unsigned>(reinterpret_cast<std::uintptr_t>(&done));
    while (std::chrono::steady_clock::now() < until) {
        const std::string id = "user-" + std::to_string(rand_r(&seed) % rows);
        duckdb_bind_varchar(stmt, 1, id.c_str());
        duckdb_result result;
        check(duckdb_execute_prepared(stmt, &result), "execute");
        if (duckdb_row_count(&result) != 1) throw std::runtime_error("no row for " + id);
        for (idx_t col = 0; col < 5; ++col) {
            char* v = duckdb_value_varchar(&result, col, 0);
            duckdb_free(v);
        }
        (void)duckdb_value_int64(&result, 5, 0);
        (void)duckdb_value_int64(&result, 6, 0);
        duckdb_destroy_result(&result);
        ++done;
    }
    duckdb_destroy_prepare(&stmt);
    duckdb_disconnect(&conn);
    return done;
}

std::vector<int> parse_list(const char* text) {
    std::vector<int> out;
    for (const char* p = text; *p != '\0';) {
        out.push_back(std::atoi(p));
        p = std::strchr(p, ',');
        if (p == nullptr) break;
        ++p;
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 3;
    int rows = 1000;
    std::vector<int> thread_counts{1, 2};
    std::string duckdb_threads;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string flag = argv[i];
        if (flag == "--seconds") {
            seconds = std::atof(argv[i + 1]);
        } else if (flag == "--rows") {
            rows = std::atoi(argv[i + 1]);
        } else if (flag == "--threads") {
            thread_counts = parse_list(argv[i + 1]);
        } else if (flag == "--duckdb-threads") {
            duckdb_threads = argv[i + 1];
        } else {
            std::fprintf(stderr, "unknown flag %s\n", argv[i]);
            return 2;
        }
    }
    try {
        const auto dir = std::filesystem::temp_directory_path() /
                         ("k9-duckdb-floor-" + std::to_string(::getpid()));
        std::filesystem::create_directories(dir);
        const std::string path = (dir / "floor.db").string();
        duckdb_config config = nullptr;
        check(duckdb_create_config(&config), "config");
        if (!duckdb_threads.empty()) duckdb_set_config(config, "threads", duckdb_threads.c_str());
        duckdb_database db = nullptr;
        char* error = nullptr;
        if (duckdb_open_ext(path.c_str(), &db, config, &error) != DuckDBSuccess)
            throw std::runtime_error(std::string("open: ") + (error != nullptr ? error : "?"));
        duckdb_destroy_config(&config);
        duckdb_connection setup = nullptr;
        check(duckdb_connect(db, &setup), "connect");
        run_sql(setup,
                "CREATE TABLE users (user_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, "
                "email VARCHAR, avatar_url VARCHAR, preferences JSON, created_at TIMESTAMP NOT "
                "NULL, updated_at TIMESTAMP NOT NULL)");
        run_sql(setup,
                "INSERT INTO users SELECT 'user-' || i, 'Name ' || i, 'u' || i || "
                "'@example.com', NULL, '{\"units\":\"metric\"}', now(), now() FROM "
                "range(" +
                    std::to_string(rows) + ") t(i)");
        run_sql(setup, "CHECKPOINT");
        duckdb_disconnect(&setup);

        for (const int threads : thread_counts) {
            std::atomic<bool> go{false};
            std::vector<long long> done(static_cast<std::size_t>(threads));
            std::vector<std::thread> workers;
            for (int t = 0; t < threads; ++t) {
                workers.emplace_back([&, t] {
                    done[static_cast<std::size_t>(t)] = point_queries(db, rows, seconds, go);
                });
            }
            go = true;
            for (auto& w : workers) w.join();
            long long total = 0;
            for (auto d : done) total += d;
            const double qps = static_cast<double>(total) / seconds;
            std::printf("FLOOR threads=%d queries_per_s=%.0f us_per_query=%.1f\n", threads, qps,
                        1e6 * threads / qps);
        }
        duckdb_close(&db);
        std::filesystem::remove_all(dir);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "duckdb_floor: %s\n", e.what());
        return 1;
    }
    return 0;
}
