// Cold start against database size on S3 (moto on loopback): for each size, k9's cold
// start beside `aws s3 cp` and one `curl` GET of the same snapshot object.
//
//   build/bin/cold_start_sizes [--sizes-mb 1,10,100,1000] [--runs 3]
//
// k9   = a new DatabaseManager (journal mode, the default) on an empty local folder,
//        until open() returns: download the snapshot, verify it (size, magic, checksum,
//        DuckDB opens it), install it, open it, check migrations, read the journal.
// aws  = `aws s3 cp` of the snapshot to a file (a download only; Python start included).
// curl = one signed GET of the snapshot to a file (a download only: the floor).
//
// Prints CSV on stdout (median of --runs runs; one run from 1000 MB up), progress on
// stderr:  size_mb,bytes,k9_ms,aws_ms,curl_ms
#include <cstring>
#include <iostream>

#include "bench/bench_util.hpp"
#include "common/log.hpp"
#include "db/manager.hpp"
#include "repo/mutations.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"

using namespace k9;

namespace {

constexpr const char* kBucket = "k9-cold-start-sizes";
constexpr const char* kKey = "databases/k9_api_bench.db";
constexpr int kSingleRunFromMb = 1000;

db::ManagerOptions options(const std::filesystem::path& db_path, db::Durability durability) {
    db::ManagerOptions o;
    o.db_path = db_path;
    o.key = kKey;
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = durability;
    return o;
}

// Puts a managed database of about `mb` MiB (the K9 schema plus filler) at kKey under `prefix`.
std::uint64_t seed(const test::Moto& moto, const std::string& prefix,
                   const std::filesystem::path& dir, int mb) {
    auto store = moto.store(kBucket, prefix);
    const auto path = dir / "seed.db";
    {
        db::DatabaseManager m(options(path, db::Durability::Journal), store);
        m.get_connection();
    }
    bench::make_database(path, static_cast<std::uint64_t>(mb) << 20);
    db::DatabaseManager m(options(path, db::Durability::Journal), store);
    m.apply({"sql", {{"sql", "CREATE TABLE IF NOT EXISTS bench_marker (x INTEGER)"}}, "bench"});
    return m.persist().bytes;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<int> sizes = {1, 10, 100, 1000};
    int runs = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--sizes-mb") == 0) sizes = bench::parse_int_list(argv[i + 1]);
        if (std::strcmp(argv[i], "--runs") == 0) runs = std::stoi(argv[i + 1]);
    }
    log::set_threshold(log::Level::Error);
    auto& moto = test::Moto::instance();
    moto.create_bucket(kBucket);
    test::TempDir tmp;
    const std::string aws = bench::aws_cli(moto.aws_env(), moto.endpoint());
    // Signed (moto refuses anonymous GETs), with moto's test credentials.
    const std::string curl = "curl -sSf --aws-sigv4 aws:amz:us-east-1:s3 --user test:test -o ";

    std::printf("size_mb,bytes,k9_ms,aws_ms,curl_ms\n");
    std::fflush(stdout);
    for (int mb : sizes) {
        const std::string prefix = test::unique_name();
        const auto dir = tmp / ("size" + std::to_string(mb));
        std::filesystem::create_directories(dir);
        std::cerr << "cold_start_sizes: seeding " << mb << " MB" << std::endl;
        const std::uint64_t bytes = seed(moto, prefix, dir, mb);
        std::filesystem::remove(dir / "seed.db");
        const std::string s3url = "s3://" + std::string(kBucket) + "/" + prefix + "/" + kKey;
        const std::string http = moto.endpoint() + "/" + kBucket + "/" + prefix + "/" + kKey;
        const auto out = dir / "download.db";
        const int n = mb >= kSingleRunFromMb ? 1 : runs;
        std::vector<double> k9_ms, aws_ms, curl_ms;
        for (int r = 0; r < n; ++r) {
            std::cerr << "cold_start_sizes: " << mb << " MB, run " << r + 1 << " of " << n
                      << std::endl;
            const auto local = dir / ("run" + std::to_string(r));
            std::filesystem::create_directories(local);
            {
                std::unique_ptr<db::DatabaseManager> m;
                k9_ms.push_back(bench::time_ms([&] {
                    m = std::make_unique<db::DatabaseManager>(
                        options(local / "k9.db", db::Durability::Journal),
                        moto.store(kBucket, prefix));
                    m->open();
                }));
            }
            std::filesystem::remove_all(local);
            curl_ms.push_back(bench::time_ms(
                [&] { bench::run(curl + bench::shell_quote(out.string()) + " " + http); }));
            std::filesystem::remove(out);
            aws_ms.push_back(bench::time_ms([&] {
                bench::run(aws + "s3 cp --quiet " + s3url + " " + bench::shell_quote(out.string()));
            }));
            std::filesystem::remove(out);
        }
        std::printf("%d,%llu,%.1f,%.1f,%.1f\n", mb, static_cast<unsigned long long>(bytes),
                    bench::median(k9_ms), bench::median(aws_ms), bench::median(curl_ms));
        std::fflush(stdout);
        moto.store(kBucket, prefix)->remove(kKey);
    }
    return 0;
}
