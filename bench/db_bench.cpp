// Cold start and persist on the embedded file store, for 1, 10 and 100 MB databases,
// each beside `cp` of the same file in the same run.
//
//   build/bin/db_bench [--sizes 1,10,100] [--runs 5]
//
// cold start = a new DatabaseManager on an empty local folder: download the snapshot
//              from the store, verify it (size, magic, SHA-256, DuckDB opens it),
//              install it, open it and check migrations.
// persist    = one write, then CHECKPOINT, snapshot copy, SHA-256, upload into the store
//              with If-Match (temp file, fsync, rename, fsync directory).
// cp         = `cp` of the database file, then `sync` of the copy (persist writes durably).
// open       = DuckDB opening that file and answering its first catalog query: the floor
//              under any cold start that ends with a usable database.
#include <cstring>
#include <iostream>

#include "bench/bench_util.hpp"
#include "common/log.hpp"
#include "db/manager.hpp"
#include "repo/mutations.hpp"
#include "repo/user_repository.hpp"
#include "store/file_store.hpp"

using namespace k9;

namespace {

std::vector<int> parse_sizes(const char* text) {
    std::vector<int> out;
    std::string s(text);
    std::size_t pos = 0;
    while (pos <= s.size()) {
        const auto comma = s.find(',', pos);
        out.push_back(std::stoi(s.substr(pos, comma - pos)));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

std::unique_ptr<db::DatabaseManager> manager(const std::filesystem::path& db_path,
                                             std::shared_ptr<store::ObjectStore> store) {
    db::ManagerOptions o;
    o.db_path = db_path;
    o.key = "databases/k9_api_bench.db";
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Snapshot;  // the seed's design: the local file's speed
    return std::make_unique<db::DatabaseManager>(o, std::move(store));
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> sizes = {1, 10, 100};
    int runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--sizes") == 0) sizes = parse_sizes(argv[i + 1]);
        if (std::strcmp(argv[i], "--runs") == 0) runs = std::stoi(argv[i + 1]);
    }
    log::set_threshold(log::Level::Error);
    const auto root =
        std::filesystem::temp_directory_path() / ("k9-db-bench-" + std::to_string(::getpid()));
    std::filesystem::create_directories(root);

    std::printf("%-8s %12s %10s %8s %10s %12s %10s %8s\n", "size", "cold start", "cp", "ratio",
                "open", "persist", "cp+sync", "ratio");
    for (int mb : sizes) {
        const auto dir = root / (std::to_string(mb) + "mb");
        std::filesystem::create_directories(dir / "seed");
        auto store = std::make_shared<store::FileStore>(dir / "store");
        {
            // The seed: a managed database with the K9 schema plus filler, persisted.
            auto m = manager(dir / "seed/k9.db", store);
            m->get_connection();
            m.reset();
            bench::make_database(dir / "seed/k9.db", static_cast<std::uint64_t>(mb) << 20);
            m = manager(dir / "seed/k9.db", store);
            repo::UserRepository(*m).upsert_profile("bench", {"Bench", {}, {}, {}});
            m->persist();
        }
        const auto object = dir / "store/databases/k9_api_bench.db";
        const auto bytes = std::filesystem::file_size(object);

        std::vector<double> cold, cp_cold, persist, cp_persist, open;
        for (int r = 0; r < runs; ++r) {
            const auto local = dir / ("run" + std::to_string(r));
            std::filesystem::remove_all(local);
            std::filesystem::create_directories(local);
            std::unique_ptr<db::DatabaseManager> m;
            cold.push_back(bench::time_ms([&] {
                m = manager(local / "k9.db", store);
                m->get_connection();
            }));
            cp_cold.push_back(bench::time_ms([&] {
                bench::run("cp " + bench::shell_quote(object.string()) + " " +
                           bench::shell_quote((local / "cp.db").string()));
            }));
            open.push_back(bench::time_ms([&] {
                duck::Database db(local / "cp.db", {});
                duck::Connection c(db);
                c.query("SELECT count(*) FROM duckdb_tables()");
            }));
            repo::UserRepository(*m).upsert_profile("run" + std::to_string(r), {"Run", {}, {}, {}});
            persist.push_back(bench::time_ms([&] { m->persist(); }));
            cp_persist.push_back(bench::time_ms([&] {
                bench::run("cp " + bench::shell_quote((local / "k9.db").string()) + " " +
                           bench::shell_quote((local / "cp2.db").string()) + " && sync " +
                           bench::shell_quote((local / "cp2.db").string()));
            }));
            m.reset();
            std::filesystem::remove_all(local);
        }
        const double c = bench::median(cold), cc = bench::median(cp_cold);
        const double p = bench::median(persist), pc = bench::median(cp_persist);
        std::printf("%-8s %10.1fms %8.1fms %7.2fx %8.1fms %10.1fms %8.1fms %7.2fx\n",
                    (std::to_string(bytes >> 20) + " MB").c_str(), c, cc, c / cc,
                    bench::median(open), p, pc, p / pc);
        std::fflush(stdout);
    }
    std::filesystem::remove_all(root);
    std::printf("(median of %d runs; ratio = k9 time / peer time, lower is better)\n", runs);
    return 0;
}
