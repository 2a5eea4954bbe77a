// Lambda-mode cold start: from starting the `bootstrap` process to its first response
// (a GET /health event), with a 10 MB database in the store (file store and, when
// moto_server is available, S3), beside the time to start a no-op binary (/bin/true).
//
//   build/bin/lambda_cold_start [--mb 10] [--runs 5]
#include <cstring>
#include <iostream>

#include "bench/bench_util.hpp"
#include "common/log.hpp"
#include "db/manager.hpp"
#include "repo/mutations.hpp"
#include "store/file_store.hpp"
#include "support/fake_runtime_api.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace k9;

namespace {

const char* kHealthEvent =
    R"({"version":"2.0","routeKey":"$default","rawPath":"/health","rawQueryString":"",
  "headers":{},"requestContext":{"requestId":"bench","http":{"method":"GET","path":"/health","sourceIp":"127.0.0.1"},
  "domainName":"x.lambda-url.us-east-1.on.aws"},"isBase64Encoded":false})";

// Seeds `store` with a database of about `mb` megabytes at the default key.
void seed(std::shared_ptr<store::ObjectStore> store, const std::filesystem::path& dir, int mb) {
    db::ManagerOptions o;
    o.db_path = dir / "seed.db";
    o.key = "databases/k9_api_dev.db";
    o.mutations = &repo::k9_mutations();
    o.schema = &repo::k9_schema();
    o.durability = db::Durability::Journal;  // as the bootstrap runs: its snapshot is partitioned
    {
        db::DatabaseManager m(o, store);
        m.get_connection();
    }
    bench::make_database(o.db_path, static_cast<std::uint64_t>(mb) << 20);
    db::DatabaseManager m(o, store);
    m.apply({"sql", {{"sql", "CREATE TABLE IF NOT EXISTS bench_marker (x INTEGER)"}}, "bench"});
    m.persist();
}

double cold_start_ms(const test::Env& env, const std::filesystem::path& log) {
    test::FakeRuntimeApi api;
    test::Env e = env;
    e["AWS_LAMBDA_RUNTIME_API"] = api.endpoint();
    api.push(kHealthEvent);
    double ms = 0;
    {
        const double start = monotonic_ms();
        test::BackgroundProcess p({(test::bin_dir() / "bootstrap").string()}, e, log);
        if (!api.wait_for_results(1, std::chrono::seconds(60))) {
            std::fprintf(stderr, "bootstrap gave no response; see %s\n", log.c_str());
            std::exit(1);
        }
        ms = monotonic_ms() - start;
    }
    return ms;
}

}  // namespace

int main(int argc, char** argv) {
    int mb = 10, runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--mb") == 0) mb = std::stoi(argv[i + 1]);
        if (std::strcmp(argv[i], "--runs") == 0) runs = std::stoi(argv[i + 1]);
    }
    log::set_threshold(log::Level::Error);
    test::TempDir tmp;

    std::vector<double> noop;
    for (int r = 0; r < runs; ++r) {
        noop.push_back(bench::time_ms([] { test::run_process({"/bin/true"}, {}); }));
    }
    const double noop_ms = bench::median(noop);
    std::printf("%-26s %12s %14s %8s\n", "store", "cold start", "no-op binary", "ratio");

    auto measure = [&](const std::string& name, const test::Env& base) {
        std::vector<double> times;
        for (int r = 0; r < runs; ++r) {
            const auto dir = tmp / (name + std::to_string(r));
            std::filesystem::create_directories(dir);
            test::Env env = base;
            env["K9_DB_PATH"] = (dir / "k9_api.db").string();
            env["K9_LOG_LEVEL"] =
                std::getenv("K9_BENCH_LOG") != nullptr ? "DEBUG" : "ERROR";  // NOLINT
            times.push_back(cold_start_ms(env, dir / "bootstrap.log"));
            if (std::getenv("K9_BENCH_LOG") != nullptr &&
                r == 0) {  // NOLINT(concurrency-mt-unsafe)
                std::cerr << test::slurp(dir / "bootstrap.log");
            }
        }
        const double t = bench::median(times);
        std::printf("%-26s %10.1fms %12.1fms %7.1fx\n", name.c_str(), t, noop_ms, t / noop_ms);
        std::fflush(stdout);
    };

    auto file_store = std::make_shared<store::FileStore>(tmp / "store");
    seed(file_store, tmp.path(), mb);
    measure("file:// " + std::to_string(mb) + " MB",
            {{"K9_STORE_URL", "file://" + (tmp / "store").string()}});

    try {
        auto& moto = test::Moto::instance();
        moto.create_bucket("k9-cold-start");
        std::filesystem::create_directories(tmp / "s3seed");
        seed(moto.store("k9-cold-start"), tmp / "s3seed", mb);
        test::Env env = moto.aws_env();
        env["DATABASE_S3_BUCKET"] = "k9-cold-start";
        measure("s3:// (moto) " + std::to_string(mb) + " MB", env);
    } catch (const std::exception& e) {
        std::printf("s3:// skipped: %s\n", e.what());
    }
    std::printf(
        "(median of %d runs: process start to the first response posted to the Runtime API)\n",
        runs);
    return 0;
}
