#pragma once
// Shared helpers for k9's benchmarks: timing, medians, running a peer command, and
// building DuckDB databases of a given size. Benchmarks print ratios against a peer
// measured in the same run, because absolute times on shared machines are noisy.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "db/duck.hpp"

namespace k9::bench {

inline double time_ms(const std::function<void()>& fn) {
    const auto start = std::chrono::steady_clock::now();
    fn();
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
        .count();
}

inline double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0 : v[v.size() / 2];
}

// Runs a shell command; exits the benchmark if it fails.
inline void run(const std::string& command) {
    if (std::system(command.c_str()) != 0) {  // NOLINT(concurrency-mt-unsafe,cert-env33-c)
        std::fprintf(stderr, "benchmark: command failed: %s\n", command.c_str());
        std::exit(1);
    }
}

inline std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// "1,10,100" -> {1, 10, 100}, for the list options (--sizes-mb, --clients).
inline std::vector<int> parse_int_list(const std::string& text) {
    std::vector<int> out;
    for (std::size_t pos = 0; pos <= text.size();) {
        const auto comma = text.find(',', pos);
        out.push_back(std::stoi(text.substr(pos, comma - pos)));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return out;
}

// The start of an `aws` command line against `endpoint` with only the credentials in `env`
// (no profile or config file of this machine).
inline std::string aws_cli(const std::map<std::string, std::string>& env,
                           const std::string& endpoint) {
    std::string line;
    for (const auto& [name, value] : env) line += name + "=" + shell_quote(value) + " ";
    return line +
           "AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null aws --endpoint-url " +
           endpoint + " ";
}

// Fills `path` with incompressible rows until the file is about `bytes` long.
inline void make_database(const std::filesystem::path& path, std::uint64_t bytes) {
    duck::Database db(path, {});
    duck::Connection conn(db);
    conn.execute("CREATE TABLE IF NOT EXISTS filler (id BIGINT, payload VARCHAR)");
    std::int64_t next = 0;
    const std::int64_t batch = 50'000;
    while (std::filesystem::file_size(path) < bytes) {
        conn.execute(
            "INSERT INTO filler SELECT range, md5(random()::VARCHAR) || md5(random()::VARCHAR) "
            "FROM range(" +
            std::to_string(next) + ", " + std::to_string(next + batch) + ")");
        conn.execute("CHECKPOINT");
        next += batch;
    }
}

}  // namespace k9::bench
