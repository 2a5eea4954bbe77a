// S3 transfers on one moto server, one run: k9 download and upload beside `aws s3 cp`
// and a single `curl` GET of the same object (the ceiling for a download).
//
//   build/bin/s3_bench [--sizes-mb 100,1000] [--runs 3]
//
// Prints throughput (MB/s) and ratios. Aims: k9 download >= 0.9x the single curl GET
// and faster than the AWS CLI; k9 upload faster than the AWS CLI.
#include <cstring>
#include <iostream>

#include "bench/bench_util.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"

using namespace k9;

int main(int argc, char** argv) {
    std::vector<int> sizes = {100, 1000};
    int runs = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (std::strcmp(argv[i], "--sizes-mb") == 0) sizes = bench::parse_int_list(argv[i + 1]);
        if (std::strcmp(argv[i], "--runs") == 0) runs = std::stoi(argv[i + 1]);
    }
    log::set_threshold(log::Level::Error);
    auto& moto = test::Moto::instance();
    const std::string bucket = "k9-bench";
    moto.create_bucket(bucket);
    auto settings = moto.settings();
    if (const char* v = std::getenv("K9_S3_PARALLEL_BELOW_MBPS"))
        settings.parallel_below_mbps = std::atoi(v);  // NOLINT
    auto store = moto.store(bucket, "", settings);
    test::TempDir tmp;
    const std::string aws = bench::aws_cli(moto.aws_env(), moto.endpoint());

    std::printf("%-8s | %-34s | %-24s\n", "", "download MB/s (ratio k9/peer)",
                "upload MB/s (ratio k9/aws)");
    std::printf("%-8s | %8s %8s %8s %6s %6s | %8s %8s %6s\n", "size", "k9", "curl", "aws", "/curl",
                "/aws", "k9", "aws", "/aws");
    for (int mb : sizes) {
        const auto src = tmp / ("src-" + std::to_string(mb));
        bench::run("head -c " + std::to_string(static_cast<long long>(mb) * 1'000'000) +
                   " /dev/urandom > " + bench::shell_quote(src.string()));
        const double bytes = static_cast<double>(std::filesystem::file_size(src));
        const std::string key = "bench/" + std::to_string(mb) + ".bin";
        const std::string s3url = "s3://" + bucket + "/" + key;
        const int n = mb >= 1000 ? 1 : runs;
        std::vector<double> k9_up, aws_up, k9_down, curl_down, aws_down;
        for (int r = 0; r < n; ++r) {
            aws_up.push_back(bench::time_ms([&] {
                bench::run(aws + "s3 cp --quiet " + bench::shell_quote(src.string()) + " " + s3url);
            }));
            k9_up.push_back(bench::time_ms([&] { store->put_file(src, key); }));
            // Each download writes a new file (truncating a 1 GB file would be timed too).
            const auto out = tmp / "out";
            std::filesystem::remove(out);
            curl_down.push_back(bench::time_ms([&] {
                bench::run("curl -sf -o " + bench::shell_quote(out.string()) + " " +
                           moto.endpoint() + "/" + bucket + "/" + key);
            }));
            std::filesystem::remove(out);
            aws_down.push_back(bench::time_ms([&] {
                bench::run(aws + "s3 cp --quiet " + s3url + " " + bench::shell_quote(out.string()));
            }));
            std::filesystem::remove(out);
            k9_down.push_back(bench::time_ms([&] { store->get_file(key, out); }));
            std::filesystem::remove(out);
        }
        auto mbps = [&](const std::vector<double>& ms) {
            return bytes / 1e6 / (bench::median(ms) / 1000.0);
        };
        const double kd = mbps(k9_down), cd = mbps(curl_down), ad = mbps(aws_down);
        const double ku = mbps(k9_up), au = mbps(aws_up);
        std::printf("%-8s | %8.0f %8.0f %8.0f %5.2fx %5.2fx | %8.0f %8.0f %5.2fx\n",
                    (std::to_string(mb) + " MB").c_str(), kd, cd, ad, kd / cd, kd / ad, ku, au,
                    ku / au);
        std::fflush(stdout);
        store->remove(key);
        std::filesystem::remove(src);
    }
    std::printf("(median of %d runs, 1 run for 1 GB and more; ratio > 1: k9 is faster)\n", runs);
    return 0;
}
