// A bounded soak: `k9-api serve` (journal mode) under mixed read/write wrk load, with
// moto behind the fault-injecting proxy (503 SlowDown, connection resets, stalls shorter
// and longer than k9's stall timeout), compacting and pruning the journal throughout.
// Prints the server's RSS at the start and the end, responses by status (wrk), the
// server's log lines by level and message, then stops the server (SIGTERM), cold-starts
// a fresh DatabaseManager from the store (moto directly, no proxy) and checks that every
// acknowledged write (a 201 from POST /reports, recorded by bench/soak.lua) is there.
//
//   build/bin/soak [--minutes 10 | --seconds N] [--connections 16] [--threads 2]
//                  [--lua bench/soak.lua] [--slowdown 0.05] [--no-faults] [--keep]
//
// Exit code: 0 every acknowledged write is present, 1 one is missing or the server died,
// 2 usage. Not a test: it runs for minutes and nothing runs it in CI.
#include <signal.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include "api/wiring.hpp"
#include "bench/bench_util.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "db/manager.hpp"
#include "repo/mutations.hpp"
#include "store/open_store.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"

using namespace k9;
namespace stdfs = std::filesystem;

namespace {

// The faults, per S3 request seen by the proxy (a spared request meets the next rule).
constexpr double kSlowDownProbability = 0.05;
constexpr double kResetProbability = 0.01;
constexpr double kShortStallProbability = 0.01;
constexpr int kShortStallMs = 1000;  // below the stall timeout: only slow
constexpr double kLongStallProbability = 0.002;
constexpr int kLongStallMs = 3000;  // above it: k9 gives up on the attempt and retries
constexpr int kStallTimeoutS = 2;   // K9_S3_STALL_TIMEOUT_S

// Compaction every few seconds under load, and entries pruned 60 s after their snapshot.
constexpr const char* kPersistWrites = "500";
constexpr const char* kPersistIntervalS = "10";
constexpr const char* kJournalRetentionS = "60";  // the minimum K9_JOURNAL_RETENTION
constexpr const char* kRetryBaseMs = "50";
constexpr int kUsers = 4;
constexpr const char* kBucket = "k9-soak";

struct Options {
    int seconds = 600;
    int connections = 16;
    int threads = 2;
    stdfs::path lua = stdfs::path(K9_SOURCE_DIR) / "bench/soak.lua";
    bool keep = false;
    bool faults = true;                      // --no-faults: the same load on a clean path
    double slowdown = kSlowDownProbability;  // --slowdown P
};

double rss_mb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
    }
    return 0;
}

// Samples the server's RSS every second; prints a progress line every minute.
class Monitor {
  public:
    explicit Monitor(test::BackgroundProcess& server)
        : server_(server), thread_([this] { loop(); }) {}
    ~Monitor() { stop(); }
    void stop() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    double peak_mb() const { return peak_; }
    bool died() const { return died_; }
    const std::vector<double>& per_minute() const { return per_minute_; }

  private:
    void loop() {
        std::unique_lock lock(mutex_);
        for (int s = 1;
             !wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; }); ++s) {
            if (!server_.running()) {
                died_ = true;
                std::printf("  [%4d s] the server is gone (exit code %d)\n", s,
                            server_.stop(SIGKILL));
                std::fflush(stdout);
                return;
            }
            const double mb = rss_mb(server_.pid());
            peak_ = std::max(peak_, mb);
            if (s % 60 == 0) {
                per_minute_.push_back(mb);
                std::printf("  [%4d s] server RSS %.1f MB\n", s, mb);
                std::fflush(stdout);
            }
        }
    }

    test::BackgroundProcess& server_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    double peak_ = 0;
    bool died_ = false;
    std::vector<double> per_minute_;
    std::thread thread_;
};

// "PUT http://127.0.0.1:40123/k9-soak/...: Operation too slow. Less than 1024 bytes/sec
// ... 2 seconds" -> "PUT <url>: Operation too slow. Less than # bytes/sec ... # seconds".
std::string error_kind(const std::string& text) {
    std::istringstream words(text);
    std::string out;
    for (std::string w; words >> w;) {
        if (w.rfind("http://", 0) == 0 || w.rfind("s3://", 0) == 0)
            w = w.back() == ':' ? "<url>:" : "<url>";
        std::string digits_folded;
        for (char c : w) {
            const bool digit = c >= '0' && c <= '9';
            if (!digit || digits_folded.empty() || digits_folded.back() != '#')
                digits_folded += digit ? '#' : c;
        }
        out += (out.empty() ? "" : " ") + digits_folded;
    }
    return out.size() > 140 ? out.substr(0, 140) + "..." : out;
}

void print_counts(const std::map<std::string, long>& counts) {
    std::vector<std::pair<long, std::string>> sorted;
    for (const auto& [k, n] : counts) sorted.emplace_back(n, k);
    std::sort(sorted.rbegin(), sorted.rend());
    for (const auto& [n, k] : sorted) std::printf("  %8ld  %s\n", n, k.c_str());
}

struct Minute {
    long requests = 0, server_errors = 0, retries = 0;
};

// Counts the server's JSON log lines by level and message (WARN and ERROR also by the
// kind of their "problem"/"error" field), its request lines by route and status, and per
// minute the requests, 5xx answers and S3 retries. Returns the number of 500 answers.
long summarise_log(const stdfs::path& log_file) {
    std::map<std::string, long> by_message, by_route;
    std::map<long, Minute> minutes;
    std::optional<Micros> first;
    long internal_errors = 0;
    std::ifstream in(log_file);
    for (std::string line; std::getline(in, line);) {
        if (line.empty() || line[0] != '{') continue;
        const auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_discarded()) continue;
        const std::string level = j.value("level", "?"), message = j.value("message", "?");
        const auto at = parse_iso8601(j.value("timestamp", ""));
        if (at && !first) first = at;
        Minute& minute = minutes[at ? static_cast<long>((*at - *first) / 60'000'000) : 0];
        if (message == "Retrying S3 request") ++minute.retries;
        if (message == "request") {
            const int status = j.value("status", 0);
            if (status == 500) ++internal_errors;
            ++minute.requests;
            if (status >= 500) ++minute.server_errors;
            ++by_route[j.value("route", "?") + " -> " + std::to_string(status)];
            continue;
        }
        std::string key = level + "  " + message;
        for (const char* field : {"problem", "error"}) {
            if (level != "INFO" && j.contains(field) && j[field].is_string()) {
                key += "  [" + error_kind(j[field].get<std::string>()) + "]";
            }
        }
        ++by_message[key];
    }
    std::printf("server log lines by level and message (request lines below):\n");
    print_counts(by_message);
    std::printf("requests by route and status (server log):\n");
    print_counts(by_route);
    std::printf("per minute (server log): requests, 5xx answers, S3 retries\n");
    for (const auto& [m, c] : minutes) {
        std::printf("  minute %3ld: %7ld %6ld %6ld\n", m + 1, c.requests, c.server_errors,
                    c.retries);
    }
    return internal_errors;
}

std::set<std::string> acknowledged_ids(const stdfs::path& dir, long& lines) {
    std::set<std::string> ids;
    lines = 0;
    for (const auto& f : stdfs::directory_iterator(dir)) {
        if (f.path().filename().string().rfind("ids-", 0) != 0) continue;
        std::ifstream in(f.path());
        for (std::string id; std::getline(in, id);) {
            if (id.empty()) continue;
            ids.insert(id);
            ++lines;
        }
    }
    return ids;
}

// A cold start on a fresh local folder from the store, through moto directly.
std::set<std::string> ids_in_store(const test::Env& server_env, const test::Moto& moto,
                                   const stdfs::path& dir, std::string& where) {
    std::map<std::string, std::string> vars(server_env.begin(), server_env.end());
    vars["AWS_ENDPOINT_URL_S3"] = moto.endpoint();
    vars["K9_DB_PATH"] = (dir / "k9_api.db").string();
    const auto env = k9::map_env(vars);
    const auto cfg = config::load_config(env);
    db::DatabaseManager m(api::manager_options(cfg), store::open_store(cfg.store, cfg.s3, env));
    m.open();
    where = m.remote_url();
    return m.read([](duck::Connection& c) {
        std::set<std::string> out;
        auto r = c.query("SELECT id FROM reports");
        for (std::size_t i = 0; i < r.rows(); ++i) out.insert(r.text(0, i));
        return out;
    });
}

std::string token_for(const test::Env& env, const std::string& user, bool admin = false) {
    std::vector<std::string> argv{(test::bin_dir() / "k9db").string(), "token", "--user", user};
    if (admin) argv.push_back("--admin");  // /health's details are for administrators
    auto r = test::run_process(argv, env);
    if (r.exit_code != 0) throw std::runtime_error("k9db token failed: " + r.err);
    while (!r.out.empty() && (r.out.back() == '\n' || r.out.back() == '\r')) r.out.pop_back();
    return r.out;
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--keep") {
            o.keep = true;
        } else if (a == "--no-faults") {
            o.faults = false;
        } else if (a == "--slowdown" && has_value) {
            o.slowdown = std::stod(argv[++i]);
        } else if (a == "--minutes" && has_value) {
            o.seconds = std::stoi(argv[++i]) * 60;
        } else if (a == "--seconds" && has_value) {
            o.seconds = std::stoi(argv[++i]);
        } else if (a == "--connections" && has_value) {
            o.connections = std::stoi(argv[++i]);
        } else if (a == "--threads" && has_value) {
            o.threads = std::stoi(argv[++i]);
        } else if (a == "--lua" && has_value) {
            o.lua = stdfs::absolute(argv[++i]);
        } else {
            std::fprintf(
                stderr,
                "usage: soak [--minutes 10 | --seconds N] [--connections 16] [--threads 2] "
                "[--lua bench/soak.lua] [--slowdown 0.05] [--no-faults] [--keep]\n");
            std::exit(2);
        }
    }
    if (o.seconds <= 0 || o.connections < o.threads || o.threads <= 0 || !stdfs::exists(o.lua)) {
        std::fprintf(stderr,
                     "soak: need seconds > 0, connections >= threads > 0 and the Lua script (%s)\n",
                     o.lua.c_str());
        std::exit(2);
    }
    return o;
}

// A rule for every S3 request, applied with `probability` (503 SlowDown for Status).
test::FaultRule everywhere(test::Fault fault, double probability, int stall_ms = 0) {
    test::FaultRule r;
    r.fault = fault;
    r.times = -1;
    r.stall_ms = stall_ms;
    r.probability = probability;
    return r;
}

void add_faults(test::FaultProxy& proxy, double slowdown) {
    proxy.add(everywhere(test::Fault::Status, slowdown));
    proxy.add(everywhere(test::Fault::Reset, kResetProbability));
    proxy.add(everywhere(test::Fault::Stall, kShortStallProbability, kShortStallMs));
    proxy.add(everywhere(test::Fault::Stall, kLongStallProbability, kLongStallMs));
}

test::Env server_env(const test::Moto& moto, const test::FaultProxy& proxy,
                     const stdfs::path& work) {
    const std::string secret = random_bytes(32);
    test::Env env = moto.aws_env();
    env["AWS_ENDPOINT_URL_S3"] = proxy.endpoint();
    env["K9_S3_RETRY_BASE_MS"] = kRetryBaseMs;
    env["K9_S3_STALL_TIMEOUT_S"] = std::to_string(kStallTimeoutS);
    env["DATABASE_S3_BUCKET"] = kBucket;
    env["K9_STORE_URL"] = std::string("s3://") + kBucket + "/" + test::unique_name();
    env["K9_DB_PATH"] = (work / "server/k9_api.db").string();
    env["K9_JWT_SECRET"] =
        to_hex(reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
    env["K9_PERSIST_WRITES"] = kPersistWrites;
    env["K9_PERSIST_INTERVAL"] = kPersistIntervalS;
    env["K9_JOURNAL_RETENTION"] = kJournalRetentionS;
    env["K9_LOG_LEVEL"] = "INFO";
    env["K9_METRICS"] = "off";
    return env;
}

void print_setup(const Options& opt, const stdfs::path& work) {
    std::printf(
        "soak: %d s of wrk (%d threads, %d connections, bench/soak.lua mix) on k9-api serve "
        "(journal)\n",
        opt.seconds, opt.threads, opt.connections);
    if (opt.faults) {
        std::printf(
            "      -> fault proxy -> moto_server; faults per S3 request: %.1f%% 503 SlowDown, "
            "%.1f%% resets, "
            "%.1f%% stalls of %d ms, %.1f%% stalls of %d ms (K9_S3_STALL_TIMEOUT_S=%d)\n",
            opt.slowdown * 100, kResetProbability * 100, kShortStallProbability * 100,
            kShortStallMs, kLongStallProbability * 100, kLongStallMs, kStallTimeoutS);
    } else {
        std::printf("      -> fault proxy (no faults) -> moto_server\n");
    }
    std::printf(
        "      K9_PERSIST_WRITES=%s K9_PERSIST_INTERVAL=%s K9_JOURNAL_RETENTION=%s; work dir %s\n",
        kPersistWrites, kPersistIntervalS, kJournalRetentionS, work.c_str());
    std::fflush(stdout);
}

// The wrk command line; gives each user a profile first (so reading it is never a 404).
std::vector<std::string> wrk_command(const Options& opt, const std::string& base,
                                     const test::Env& env, const stdfs::path& ids) {
    std::vector<std::string> wrk = {"wrk",
                                    "-t",
                                    std::to_string(opt.threads),
                                    "-c",
                                    std::to_string(opt.connections),
                                    "-d",
                                    std::to_string(opt.seconds) + "s",
                                    "--timeout",
                                    "30s",
                                    "-s",
                                    opt.lua.string(),
                                    base,
                                    "--",
                                    ids.string()};
    for (int u = 0; u < kUsers; ++u) {
        const std::string token = token_for(env, "soak-user-" + std::to_string(u));
        bench::run("curl -sf -o /dev/null -X PATCH -H 'Authorization: Bearer " + token +
                   "' -d '{\"name\":\"Soak\"}' " + base + "/user/profile");
        wrk.push_back(token);
    }
    return wrk;
}

// "status", the persist counters and the seqs from GET /health.
std::string health_summary(const std::string& body) {
    const auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return body;
    const auto& db = j.value("database", nlohmann::json::object());
    return j.value("status", "?") + "; persist " +
           j.value("persist", nlohmann::json::object()).dump() + "; seq " +
           db.value("seq", nlohmann::json()).dump() + ", snapshot_seq " +
           db.value("snapshot_seq", nlohmann::json()).dump();
}

// Every recorded id must be in a fresh cold start from the store. Returns the exit code.
int verify(const test::Env& env, const test::Moto& moto, const stdfs::path& work) {
    long lines = 0;
    const auto acked = acknowledged_ids(work / "ids", lines);
    std::string where;
    std::set<std::string> stored;
    try {
        stored = ids_in_store(env, moto, work / "verify", where);
    } catch (const std::exception& e) {
        std::printf("verify: the cold start from the store failed: %s\n", e.what());
        return 1;
    }
    std::printf("verify: fresh cold start from %s (moto directly): %zu reports\n", where.c_str(),
                stored.size());
    if (lines != static_cast<long>(acked.size())) {
        std::printf("verify: %ld ids recorded but %zu distinct: a 201 repeated an id\n", lines,
                    acked.size());
    }
    std::vector<std::string> missing;
    for (const auto& id : acked) {
        if (!stored.count(id)) missing.push_back(id);
    }
    if (missing.empty()) {
        std::printf("%zu acknowledged writes, all present\n", acked.size());
        return 0;
    }
    std::printf("%zu of %zu acknowledged writes MISSING:", missing.size(), acked.size());
    for (std::size_t i = 0; i < missing.size() && i < 50; ++i)
        std::printf(" %s", missing[i].c_str());
    std::printf("%s\n", missing.size() > 50 ? " ..." : "");
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    if (test::run_process({"sh", "-c", "command -v wrk"}, {}).exit_code != 0) {
        std::fprintf(stderr, "soak: wrk is missing (apt-get install wrk)\n");
        return 2;
    }
    log::set_threshold(log::Level::Error);
    const stdfs::path work =
        stdfs::temp_directory_path() / ("k9-soak-" + std::to_string(::getpid()));
    for (const char* sub : {"server", "ids", "verify"}) stdfs::create_directories(work / sub);
    auto& moto = test::Moto::instance();
    moto.create_bucket(kBucket);
    auto proxy = std::make_unique<test::FaultProxy>(moto.port());
    const test::Env env = server_env(moto, *proxy, work);
    print_setup(opt, work);

    const int port = test::free_port();
    const stdfs::path server_log = work / "server.log";
    test::BackgroundProcess server(
        {(test::bin_dir() / "k9-api").string(), "serve", "--port", std::to_string(port)}, env,
        server_log);
    if (!test::wait_for_port(port, std::chrono::seconds(60))) {
        std::fprintf(stderr, "soak: k9-api did not start; its log: %s\n", server_log.c_str());
        return 1;
    }
    const std::string base = "http://127.0.0.1:" + std::to_string(port);
    const auto wrk = wrk_command(opt, base, env, work / "ids");
    const double rss_start = rss_mb(server.pid());
    if (opt.faults) add_faults(*proxy, opt.slowdown);

    const double started = monotonic_ms();
    Monitor monitor(server);
    const auto load =
        test::run_process(wrk, {}, stdfs::current_path(), std::chrono::seconds(opt.seconds + 300));
    monitor.stop();
    const double rss_end = monitor.died() ? 0 : rss_mb(server.pid());
    const auto health = test::run_process(
        {"curl", "-s", "-m", "30", "-H",
         "Authorization: Bearer " + token_for(env, "soak-admin", true), base + "/health"},
        {});
    const double stop_started = monotonic_ms();
    const int server_exit = server.stop(SIGTERM, std::chrono::seconds(180));
    const double stop_ms = monotonic_ms() - stop_started;
    const int faults = proxy->faults_injected(), seen = proxy->requests_seen();
    proxy.reset();

    std::printf("\nwrk (%.0f s, exit code %d):\n", (monotonic_ms() - started) / 1000,
                load.exit_code);
    std::istringstream wrk_out(load.out);
    for (std::string line; std::getline(wrk_out, line);) std::printf("  %s\n", line.c_str());
    if (!load.err.empty()) std::printf("  wrk stderr: %s\n", load.err.c_str());
    std::printf("server RSS: start %.1f MB, end %.1f MB, peak %.1f MB; each minute:", rss_start,
                rss_end, monitor.peak_mb());
    for (double mb : monitor.per_minute()) std::printf(" %.1f", mb);
    std::printf("\nproxy: %d S3 requests, %d faults injected (%.1f%%)\n", seen, faults,
                seen > 0 ? 100.0 * faults / seen : 0.0);
    std::printf("GET /health at the end: %s\n", health_summary(health.out).c_str());
    std::printf(
        "server stopped by SIGTERM in %.0f ms: exit code %d%s\n", stop_ms, server_exit,
        server_exit == 0 ? "" : " (1: the shutdown persist failed, 3: conflict; see the log)");
    const long internal_errors = summarise_log(server_log);

    int rc = verify(env, moto, work);
    if (monitor.died()) {
        std::printf("the server died during the run (see %s)\n", server_log.c_str());
        rc = 1;
    }
    if (internal_errors > 0)
        std::printf("%ld responses were 500 internal_error (see the log)\n", internal_errors);
    if (opt.keep || rc != 0) {
        std::printf("kept %s (server.log, ids/)\n", work.c_str());
    } else {
        stdfs::remove_all(work);
    }
    return rc;
}
