// Acknowledged writes on S3 (moto on loopback): writes per second and p50/p99 latency at
// 1, 4 and 16 concurrent clients, in journal mode (each write in the store before its
// answer), journal mode without group commit (one entry per write), and snapshot mode
// (the seed's design: acknowledged once in the local file, lost with the container).
//
//   build/bin/journal_bench [--seconds 5] [--clients 1,4,16] [--csv]
//
// --csv prints one row per client count instead of the table (bench/plots draws it):
//   clients,journal_wps,journal_p50_ms,journal_p99_ms,journal1_wps,journal1_p50_ms,
//   journal1_p99_ms,snapshot_wps,snapshot_p50_ms,snapshot_p99_ms
#include <atomic>
#include <cstring>
#include <thread>

#include "bench/bench_util.hpp"
#include "common/log.hpp"
#include "db/manager.hpp"
#include "repo/mutations.hpp"
#include "repo/user_repository.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"

using namespace k9;

namespace {

struct Result {
    double per_second = 0, p50 = 0, p99 = 0;
};

Result run(test::Moto& moto, const std::filesystem::path& dir, db::Durability mode,
           std::size_t max_batch, int clients, double seconds) {
    std::filesystem::create_directories(dir);
    db::ManagerOptions o;
    o.db_path = dir / "k9.db";
    o.key = "databases/k9_api_bench.db";
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = mode;
    o.max_batch = max_batch;
    auto s3 = moto.store("k9-journal-bench", test::unique_name());
    db::DatabaseManager m(o, s3);
    m.get_connection();
    repo::UserRepository users(m);
    std::atomic<bool> stop{false};
    std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
        threads.emplace_back([&, c] {
            for (int i = 0; !stop; ++i) {
                const double t = monotonic_ms();
                users.upsert_profile("c" + std::to_string(c) + "-" + std::to_string(i),
                                     {"bench", {}, {}, {}});
                latencies[static_cast<std::size_t>(c)].push_back(monotonic_ms() - t);
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& t : threads) t.join();
    std::vector<double> all;
    for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    std::sort(all.begin(), all.end());
    Result r;
    r.per_second = static_cast<double>(all.size()) / seconds;
    r.p50 = all.empty() ? 0 : all[all.size() / 2];
    r.p99 = all.empty() ? 0 : all[std::min(all.size() - 1, all.size() * 99 / 100)];
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    double seconds = 5;
    std::vector<int> clients = {1, 4, 16};
    bool csv = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--csv") == 0) {
            csv = true;
            continue;
        }
        if (i + 1 >= argc) break;
        if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::stod(argv[i + 1]);
        if (std::strcmp(argv[i], "--clients") == 0) clients = bench::parse_int_list(argv[i + 1]);
        ++i;
    }
    log::set_threshold(log::Level::Error);
    auto& moto = test::Moto::instance();
    moto.create_bucket("k9-journal-bench");
    test::TempDir tmp;
    if (csv) {
        std::printf(
            "clients,journal_wps,journal_p50_ms,journal_p99_ms,journal1_wps,journal1_p50_ms,"
            "journal1_p99_ms,"
            "snapshot_wps,snapshot_p50_ms,snapshot_p99_ms\n");
    } else {
        std::printf("%-8s | %-25s | %-25s | %-25s | %s\n", "clients", "journal (group commit)",
                    "journal, 1 write/entry", "snapshot (local only)", "group commit gain");
        std::printf("%-8s | %8s %7s %8s | %8s %7s %8s | %8s %7s %8s |\n", "", "w/s", "p50 ms",
                    "p99 ms", "w/s", "p50 ms", "p99 ms", "w/s", "p50 ms", "p99 ms");
    }
    int run_id = 0;
    for (int c : clients) {
        auto dir = [&] { return tmp / ("run" + std::to_string(run_id++)); };
        const Result j = run(moto, dir(), db::Durability::Journal, 256, c, seconds);
        const Result j1 = run(moto, dir(), db::Durability::Journal, 1, c, seconds);
        const Result s = run(moto, dir(), db::Durability::Snapshot, 256, c, seconds);
        if (csv) {
            std::printf("%d,%.1f,%.2f,%.2f,%.1f,%.2f,%.2f,%.1f,%.2f,%.2f\n", c, j.per_second, j.p50,
                        j.p99, j1.per_second, j1.p50, j1.p99, s.per_second, s.p50, s.p99);
        } else {
            std::printf(
                "%-8d | %8.0f %7.1f %8.1f | %8.0f %7.1f %8.1f | %8.0f %7.1f %8.1f | %.2fx\n", c,
                j.per_second, j.p50, j.p99, j1.per_second, j1.p50, j1.p99, s.per_second, s.p50,
                s.p99, j.per_second / std::max(1.0, j1.per_second));
        }
        std::fflush(stdout);
    }
    if (!csv) {
        std::printf(
            "(%.0f s per cell; an acknowledged write in journal mode is in the store, in snapshot "
            "mode only "
            "in the local file)\n",
            seconds);
    }
    return 0;
}
