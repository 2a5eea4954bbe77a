// The journal under the load Lambda puts on it: a fleet of `k9-api serve` processes on one
// store (moto), each driven by ONE client (a Lambda container takes one request at a
// time), with moto behind a proxy that adds the first-byte latency of real S3 to every
// request and counts the requests by S3 operation (LIST, GET, HEAD, PUT, DELETE, POST).
//
//   writes  N servers (--servers 1,2,4,8), one client each, POST /reports back to back for
//           --seconds: writes/s of all servers, p50/p99, non-201 answers, store requests per
//           write; distinct users (no races) and one user for all (the race path). Then a
//           fresh cold start on moto directly (refresh_all) must hold every acknowledged
//           report exactly once (lost / duplicated).
//   reads   one server, GET /user/profile at K9_MAX_STALENESS_MS=0 and 1000, 1 and 16
//           clients (distinct users, and 16 on one user): reads/s, p50/p99, requests per read.
//   cold    cold start then one read of a user, with --cold-writes writes in the journal
//           since the snapshot (one per user, or all by one user) beside the same right
//           after a compaction; in-process (DatabaseManager open + refresh(user) + a query)
//           and as a process (`k9-api serve` from exec to the first 200 of GET /reports);
//           and across partition counts (--cold-partitions 1,16,64,256, a database each).
//
//   build/bin/fleet_bench [--servers 1,2,4,8] [--seconds 10] [--latency-ms 20] [--partitions 64]
//                         [--users distinct|same|both | --same-user] [--only writes|reads|cold]
//                         [--read-clients 1,16] [--cold-writes 300] [--cold-runs 3]
//                         [--cold-partitions 1,16,64,256] [--server-threads 16] [--csv] [--keep]
//
// --csv prints one row per measurement instead of the tables. Exit code 1 when an
// acknowledged write is lost or duplicated, 2 usage. Not a test: minutes, by hand.
#include <httplib.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "api/jwt.hpp"
#include "api/wiring.hpp"
#include "bench/bench_util.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "db/manager.hpp"
#include "db/partition.hpp"
#include "repo/mutations.hpp"
#include "repo/report_repository.hpp"
#include "store/error.hpp"
#include "store/open_store.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto.hpp"
#include "support/process.hpp"

using namespace k9;
namespace stdfs = std::filesystem;

namespace {

constexpr const char* kBucket = "k9-fleet";
const std::vector<std::string> kOps = {"LIST", "GET", "HEAD", "PUT", "DELETE", "POST"};

struct Options {
    std::vector<int> servers = {1, 2, 4, 8};
    double seconds = 10;
    int latency_ms = 20;
    int partitions = db::kDefaultPartitions;
    bool distinct = true, same = true;
    std::string only;  // "" = all
    std::vector<int> read_clients = {1, 16};
    int cold_writes = 300;
    int cold_runs = 3;
    std::vector<int> cold_partitions = {1, 16, 64, 256};
    int server_threads = 16;
    bool csv = false;
    bool keep = false;
    std::string command;
};

[[noreturn]] void usage() {
    std::fprintf(
        stderr,
        "usage: fleet_bench [--servers 1,2,4,8] [--seconds 10] [--latency-ms 20] [--partitions "
        "64]\n"
        "                   [--users distinct|same|both | --same-user] [--only writes|reads|cold]\n"
        "                   [--read-clients 1,16] [--cold-writes 300] [--cold-runs 3]\n"
        "                   [--cold-partitions 1,16,64,256] [--server-threads 16] [--csv] "
        "[--keep]\n");
    std::exit(2);
}

Options parse(int argc, char** argv) {
    Options o;
    o.command = "fleet_bench";
    for (int i = 1; i < argc; ++i) o.command += std::string(" ") + argv[i];
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        auto value = [&] { return std::string(argv[++i]); };
        if (a == "--csv") {
            o.csv = true;
        } else if (a == "--keep") {
            o.keep = true;
        } else if (a == "--same-user") {
            o.distinct = false, o.same = true;
        } else if (!has_value) {
            usage();
        } else if (a == "--servers") {
            o.servers = bench::parse_int_list(value());
        } else if (a == "--seconds") {
            o.seconds = std::stod(value());
        } else if (a == "--latency-ms") {
            o.latency_ms = std::stoi(value());
        } else if (a == "--partitions") {
            o.partitions = std::stoi(value());
        } else if (a == "--users") {
            const std::string u = value();
            if (u != "distinct" && u != "same" && u != "both") usage();
            o.distinct = u != "same", o.same = u != "distinct";
        } else if (a == "--only") {
            o.only = value();
            if (o.only != "writes" && o.only != "reads" && o.only != "cold") usage();
        } else if (a == "--read-clients") {
            o.read_clients = bench::parse_int_list(value());
        } else if (a == "--cold-writes") {
            o.cold_writes = std::stoi(value());
        } else if (a == "--cold-runs") {
            o.cold_runs = std::stoi(value());
        } else if (a == "--cold-partitions") {
            o.cold_partitions = bench::parse_int_list(value());
        } else if (a == "--server-threads") {
            o.server_threads = std::stoi(value());
        } else {
            usage();
        }
    }
    if (o.seconds <= 0 || o.latency_ms < 0 || o.partitions < 1 ||
        o.partitions > db::kMaxPartitions || o.cold_runs < 1 || o.cold_writes < 1 ||
        o.servers.empty()) {
        usage();
    }
    return o;
}

std::string load_average() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

double percentile(const std::vector<double>& sorted, double q) {
    if (sorted.empty()) return 0;
    return sorted[std::min(sorted.size() - 1,
                           static_cast<std::size_t>(static_cast<double>(sorted.size()) * q))];
}

// One measurement window: latencies of the answers that had the expected status, the
// others by status (0: no answer), and the store requests the proxy saw meanwhile.
struct Stats {
    std::vector<double> latencies;  // sorted, every answer
    long ok = 0, errors = 0;
    std::map<int, long> error_statuses;
    double seconds = 0;
    std::map<std::string, int> counts;
    long listen_overflows = 0;
    long client_min = 0,
         client_max = 0;        // expected answers of the least and the most served client
    double machine_busy = 0;    // share of all cores busy during the window (every process)
    double moto_cores = -1;     // moto_server's CPU during the window, in cores (-1: not found)
    double server_cpu_ms = -1;  // the k9-api servers' CPU per operation (-1: none watched)
    long ops() const { return ok + errors; }
    double per_second() const { return seconds > 0 ? static_cast<double>(ok) / seconds : 0; }
    double p50() const { return percentile(latencies, 0.50); }
    double p99() const { return percentile(latencies, 0.99); }
    double max() const { return latencies.empty() ? 0 : latencies.back(); }
    double per_op(const std::string& op) const {
        const auto it = counts.find(op);
        return ops() == 0 || it == counts.end()
                   ? 0
                   : static_cast<double>(it->second) / static_cast<double>(ops());
    }
    std::string statuses() const {
        std::string s;
        for (const auto& [status, n] : error_statuses)
            s += (s.empty() ? "" : " ") + std::to_string(n) + "x" + std::to_string(status);
        return s;
    }
    // What the row should add: unexpected statuses, listen-queue overflows.
    // ",machine_busy,moto_cores,server_cpu_ms_per_op" (blank when not measured).
    std::string cpu_csv() const {
        char buf[96];
        std::snprintf(buf, sizeof buf, ",%.3f,", machine_busy);
        std::string s = buf;
        if (moto_cores >= 0) s += (std::snprintf(buf, sizeof buf, "%.3f", moto_cores), buf);
        s += ",";
        if (server_cpu_ms >= 0) s += (std::snprintf(buf, sizeof buf, "%.2f", server_cpu_ms), buf);
        return s;
    }
    std::string notes(const char* expected) const {
        std::string s;
        if (errors > 0) s += std::string("  non-") + expected + ": " + statuses();
        if (listen_overflows > 0)
            s += "  (" + std::to_string(listen_overflows) + " TCP listen overflows on the machine)";
        char buf[160];
        if (client_max > 0 && client_min * 2 < client_max) {
            std::snprintf(buf, sizeof buf, "  per client: %ld to %ld", client_min, client_max);
            s += buf;
        }
        std::snprintf(buf, sizeof buf, "  cpu: machine %.0f%%", machine_busy * 100);
        s += buf;
        if (moto_cores >= 0) {
            std::snprintf(buf, sizeof buf, ", moto %.2f core", moto_cores);
            s += buf;
        }
        if (server_cpu_ms >= 0) {
            std::snprintf(buf, sizeof buf, ", k9-api %.1f ms/op", server_cpu_ms);
            s += buf;
        }
        return s;
    }
};

std::string per_op_cells(const std::map<std::string, int>& counts, double divisor) {
    std::string s;
    char buf[32];
    for (const auto& op : kOps) {
        const auto it = counts.find(op);
        std::snprintf(buf, sizeof buf, " %6.2f",
                      it == counts.end() || divisor <= 0 ? 0.0 : it->second / divisor);
        s += buf;
    }
    return s;
}

std::string per_op_csv(const std::map<std::string, int>& counts, double divisor) {
    std::string s;
    char buf[32];
    for (const auto& op : kOps) {
        const auto it = counts.find(op);
        std::snprintf(buf, sizeof buf, ",%.3f",
                      it == counts.end() || divisor <= 0 ? 0.0 : it->second / divisor);
        s += buf;
    }
    return s;
}

// A k9-api serve process on --port 0; its port is read from its log ("Listening on ...").
struct Server {
    std::unique_ptr<test::BackgroundProcess> process;
    stdfs::path log;
    int port = 0;
};

Server spawn_server(const test::Env& base, const stdfs::path& dir, int threads) {
    stdfs::create_directories(dir);
    test::Env env = base;
    env["K9_DB_PATH"] = (dir / "k9_api.db").string();
    Server s;
    s.log = dir / "server.log";
    s.process = std::make_unique<test::BackgroundProcess>(
        std::vector<std::string>{(test::bin_dir() / "k9-api").string(), "serve", "--port", "0",
                                 "--threads", std::to_string(threads)},
        env, s.log);
    return s;
}

std::string slurp(const stdfs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Polls the log every millisecond for the port; throws with the log when the server dies.
void wait_listening(Server& s, double timeout_ms = 60000) {
    const std::string marker = "Listening on http://127.0.0.1:";
    const double deadline = monotonic_ms() + timeout_ms;
    while (monotonic_ms() < deadline) {
        const std::string text = slurp(s.log);
        const auto at = text.find(marker);
        if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
            s.port = std::stoi(text.substr(at + marker.size()));
            return;
        }
        if (!s.process->running()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    throw std::runtime_error("k9-api did not start; its log (" + s.log.string() + "):\n" +
                             slurp(s.log));
}

std::unique_ptr<httplib::Client> http_client(int port) {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    c->set_connection_timeout(10, 0);
    c->set_read_timeout(120, 0);
    c->set_write_timeout(120, 0);
    return c;
}

std::string report_body(const std::string& title) {
    return nlohmann::json{{"title", title},
                          {"author", "fleet"},
                          {"date", "2024-05-01"},
                          {"reference", {{"product", "p1"}}}}
        .dump();
}

// An operation of one client: returns the HTTP status (0: no answer).
using Op = std::function<int(int client, long i, httplib::Client& http)>;
// One client's loop body, made on its own thread: returns the status of its i-th call.
using ClientOp = std::function<int(long i)>;

// CPU time of a process (user + system), in seconds; 0 when it is gone.
double process_cpu_s(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto close = text.rfind(')');
    if (close == std::string::npos) return 0;
    std::istringstream fields(text.substr(close + 2));
    std::string f;
    double ticks = 0;
    for (int i = 3; fields >> f && i <= 15; ++i) {
        if (i == 14 || i == 15) ticks += std::stod(f);  // utime, stime
    }
    return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The machine's CPU time so far: busy and total, in seconds over all cores.
std::pair<double, double> machine_cpu_s() {
    std::ifstream in("/proc/stat");
    std::string cpu;
    in >> cpu;
    double busy = 0, total = 0;
    for (int i = 0; i < 8; ++i) {
        double v = 0;
        in >> v;
        total += v;
        if (i != 3 && i != 4) busy += v;  // idle, iowait
    }
    const double tck = static_cast<double>(::sysconf(_SC_CLK_TCK));
    return {busy / tck, total / tck};
}

// moto_server's process: the one whose command line is moto_server ... -p <port>.
pid_t find_moto(int port) {
    for (const auto& entry : stdfs::directory_iterator("/proc")) {
        const std::string name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(entry.path() / "cmdline");
        std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        if (cmdline.find("moto_server") != std::string::npos &&
            cmdline.find("-p " + std::to_string(port) + " ") != std::string::npos) {
            return static_cast<pid_t>(std::stol(name));
        }
    }
    return -1;
}

// The machine's TCP listen-queue overflows (a SYN dropped there is retried after 1 s).
long listen_overflows() {
    std::ifstream in("/proc/net/netstat");
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        if (names.rfind("TcpExt:", 0) != 0) continue;
        std::istringstream n(names), v(values);
        for (std::string name, value; n >> name && v >> value;) {
            if (name == "ListenOverflows") return std::stol(value);
        }
    }
    return 0;
}

class Bench {
  public:
    explicit Bench(Options opt) : opt_(std::move(opt)), moto_(test::Moto::instance()) {
        work_ = stdfs::temp_directory_path() / ("k9-fleet-" + std::to_string(::getpid()));
        stdfs::create_directories(work_);
        moto_.create_bucket(kBucket);
        proxy_ = std::make_unique<test::FaultProxy>(moto_.port());
        if (opt_.latency_ms > 0) {
            test::FaultRule latency;
            latency.fault = test::Fault::Stall;  // waits stall_ms, then forwards
            latency.times = -1;
            latency.stall_ms = opt_.latency_ms;
            proxy_->add(latency);
        }
        moto_pid_ = find_moto(moto_.port());
        const std::string secret = random_bytes(32);
        secret_ = to_hex(reinterpret_cast<const unsigned char*>(secret.data()), secret.size());
    }
    ~Bench() {
        if (!opt_.keep && !failed_) stdfs::remove_all(work_);
    }

    int run() {
        header();
        if (opt_.only.empty() || opt_.only == "writes") writes();
        if (opt_.only.empty() || opt_.only == "reads") reads();
        if (opt_.only.empty() || opt_.only == "cold") cold();
        targets();
        if (opt_.csv) {
            std::printf("# finished %s, load average after: %s\n", utc_now().c_str(),
                        load_average().c_str());
        } else {
            std::printf("\nfinished %s, load average: %s\n", utc_now().c_str(),
                        load_average().c_str());
        }
        if (failed_) std::fprintf(detail(), "kept %s\n", work_.c_str());
        return failed_ ? 1 : 0;
    }

  private:
    // ---- setup ---------------------------------------------------------------------------

    void header() {
        const auto git =
            test::run_process({"git", "-C", K9_SOURCE_DIR, "rev-parse", "--short", "HEAD"}, {});
        std::string rev = git.exit_code == 0 ? git.out : "?";
        while (!rev.empty() && rev.back() == '\n') rev.pop_back();
        std::printf("# %s\n", opt_.command.c_str());
        std::printf("# started %s, k9 %s, %u cores, load average before: %s\n", utc_now().c_str(),
                    rev.c_str(), std::thread::hardware_concurrency(), load_average().c_str());
        std::printf(
            "# moto_server behind the proxy: +%d ms before every S3 request; "
            "K9_JOURNAL_PARTITIONS=%d "
            "(writes, reads); no compaction during a window (K9_PERSIST_WRITES/INTERVAL/TAIL=0); "
            "k9-api serve --threads %d; %.0f s per window\n",
            opt_.latency_ms, opt_.partitions, opt_.server_threads, opt_.seconds);
        if (opt_.csv) {
            std::printf(
                "section,variant,servers,clients,partitions,staleness_ms,ops,per_s,p50_ms,p99_ms,"
                "max_ms,"
                "errors,list_per_op,get_per_op,head_per_op,put_per_op,delete_per_op,post_per_op,"
                "lost,"
                "duplicated,machine_busy,moto_cores,server_cpu_ms_per_op\n");
        }
        std::fflush(stdout);
    }

    // The environment of a k9 on the store s3://k9-fleet/<prefix> (through the proxy or not).
    test::Env store_env(const std::string& prefix, int partitions, long staleness_ms,
                        bool via_proxy) const {
        test::Env env = moto_.aws_env();
        env["AWS_ENDPOINT_URL_S3"] = via_proxy ? proxy_->endpoint() : moto_.endpoint();
        env["DATABASE_S3_BUCKET"] = kBucket;
        env["K9_STORE_URL"] = std::string("s3://") + kBucket + "/" + prefix;
        env["K9_JWT_SECRET"] = secret_;
        env["K9_DURABILITY"] = "journal";
        env["K9_JOURNAL_PARTITIONS"] = std::to_string(partitions);
        env["K9_MAX_STALENESS_MS"] = std::to_string(staleness_ms);
        env["K9_PERSIST_WRITES"] = "0";  // no compaction inside a measurement window
        env["K9_PERSIST_INTERVAL"] = "0";
        env["K9_PERSIST_TAIL"] = "0";
        env["K9_LOG_LEVEL"] = "WARN";
        env["K9_METRICS"] = "off";
        return env;
    }

    stdfs::path fresh_dir(const std::string& name) {
        auto d = work_ / (name + "-" + std::to_string(++dirs_));
        stdfs::create_directories(d);
        return d;
    }

    std::string token(const std::string& user) const {
        const std::int64_t now = system_now() / 1'000'000;
        return api::mint_hs256(
            {{"sub", user}, {"iat", now}, {"exp", now + 3600}, {"token_use", "id"}}, secret_);
    }

    std::unique_ptr<db::DatabaseManager> manager(const test::Env& env,
                                                 const stdfs::path& dir) const {
        std::map<std::string, std::string> vars(env.begin(), env.end());
        vars["K9_DB_PATH"] = (dir / "k9_api.db").string();
        const auto lookup = k9::map_env(vars);
        const auto cfg = config::load_config(lookup);
        return std::make_unique<db::DatabaseManager>(api::manager_options(cfg),
                                                     store::open_store(cfg.store, cfg.s3, lookup));
    }

    // Where lines outside the tables go (stderr in --csv mode, to keep the CSV clean).
    FILE* detail() const { return opt_.csv ? stderr : stdout; }

    void note(const std::string& line) const {
        std::fprintf(stderr, "[fleet_bench %s] %s\n", utc_now().c_str(), line.c_str());
    }

    // N servers on one store: the first alone (it creates the database), then the rest.
    std::vector<Server> start_fleet(const test::Env& env, int n, const std::string& name) {
        std::vector<Server> servers;
        for (int i = 0; i < n; ++i) {
            servers.push_back(
                spawn_server(env, fresh_dir(name + "-s" + std::to_string(i)), opt_.server_threads));
            if (i == 0) wait_listening(servers[0]);
        }
        for (auto& s : servers) {
            if (s.port == 0) wait_listening(s);
        }
        return servers;
    }

    // ---- the load ------------------------------------------------------------------------

    // `clients` threads, client c on ports[c], each running `op` back to back: `warmup`
    // times first (not measured), then from a common start for opt_.seconds.
    Stats run_load(int clients, const std::vector<int>& ports, int expected, int warmup,
                   const Op& op) {
        return run_clients(clients, expected, warmup, [&](int c) -> ClientOp {
            std::shared_ptr<httplib::Client> http = http_client(ports[static_cast<std::size_t>(c)]);
            return [&op, c, http](long i) { return op(c, i, *http); };
        });
    }

    Stats run_clients(int clients, int expected, int warmup,
                      const std::function<ClientOp(int)>& make) {
        std::atomic<int> ready{0};
        std::atomic<bool> go{false}, stop{false};
        std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
        std::vector<std::map<int, long>> bad(static_cast<std::size_t>(clients));
        std::vector<long> good(static_cast<std::size_t>(clients), 0);
        std::vector<std::thread> threads;
        for (int c = 0; c < clients; ++c) {
            threads.emplace_back([&, c] {
                const ClientOp op = make(c);
                long i = 0;
                for (; i < warmup; ++i) op(i);
                ++ready;
                go.wait(false);
                auto& lat = latencies[static_cast<std::size_t>(c)];
                for (; !stop; ++i) {
                    const double t = monotonic_ms();
                    const int status = op(i);
                    lat.push_back(monotonic_ms() - t);
                    if (status == expected) {
                        ++good[static_cast<std::size_t>(c)];
                    } else {
                        ++bad[static_cast<std::size_t>(c)][status];
                    }
                }
            });
        }
        while (ready < clients) std::this_thread::sleep_for(std::chrono::milliseconds(5));
        proxy_->reset_counts();
        const long overflows = listen_overflows();
        const auto machine0 = machine_cpu_s();
        const double moto0 = moto_pid_ > 0 ? process_cpu_s(moto_pid_) : 0;
        double servers0 = 0;
        for (pid_t p : watch_) servers0 += process_cpu_s(p);
        const double started = monotonic_ms();
        go = true;
        go.notify_all();
        std::this_thread::sleep_for(std::chrono::duration<double>(opt_.seconds));
        stop = true;
        for (auto& t : threads) t.join();
        Stats s;
        s.seconds = (monotonic_ms() - started) / 1000;
        s.counts = proxy_->counts();
        s.listen_overflows = listen_overflows() - overflows;
        const auto machine1 = machine_cpu_s();
        s.machine_busy =
            (machine1.first - machine0.first) / std::max(1e-9, machine1.second - machine0.second);
        if (moto_pid_ > 0) s.moto_cores = (process_cpu_s(moto_pid_) - moto0) / s.seconds;
        double servers1 = 0;
        for (pid_t p : watch_) servers1 += process_cpu_s(p);
        for (int c = 0; c < clients; ++c) {
            const auto u = static_cast<std::size_t>(c);
            s.latencies.insert(s.latencies.end(), latencies[u].begin(), latencies[u].end());
            s.ok += good[u];
            s.client_min = c == 0 ? good[u] : std::min(s.client_min, good[u]);
            s.client_max = std::max(s.client_max, good[u]);
            for (const auto& [status, n] : bad[u]) {
                s.errors += n;
                s.error_statuses[status] += n;
            }
        }
        if (!watch_.empty()) s.server_cpu_ms = (servers1 - servers0) * 1000 / std::max(1L, s.ops());
        std::sort(s.latencies.begin(), s.latencies.end());
        return s;
    }

    // ---- writes --------------------------------------------------------------------------

    struct Acked {
        std::string id, title;
    };

    struct WriteRun {
        int servers = 0;
        bool same_user = false;
        Stats stats;
        long acked = 0, lost = 0, duplicated = 0, unacked_present = 0;
        std::string verify_error;
    };

    // A fresh cold start on moto directly (no proxy) with every partition caught up:
    // report titles -> ids.
    std::map<std::string, std::vector<std::string>> stored_reports(const std::string& prefix,
                                                                   int partitions) {
        auto m = manager(store_env(prefix, partitions, 0, false), fresh_dir("verify"));
        m->open();
        m->refresh_all();
        return m->read([](duck::Connection& c) {
            std::map<std::string, std::vector<std::string>> out;
            auto r = c.query("SELECT title, id FROM reports");
            for (std::size_t i = 0; i < r.rows(); ++i) out[r.text(0, i)].push_back(r.text(1, i));
            return out;
        });
    }

    WriteRun write_run(int n, bool same_user, int partitions) {
        const std::string prefix = test::unique_name();
        const std::string tag = prefix + (same_user ? "-same" : "-distinct");
        note("writes: " + std::to_string(n) + " servers, " +
             (same_user ? "one user" : "distinct users") + ", partitions " +
             std::to_string(partitions) + ", store prefix " + prefix);
        const auto env = store_env(prefix, partitions, 0, true);
        auto servers = start_fleet(env, n, "writes");
        std::vector<int> ports;
        std::vector<httplib::Headers> headers;
        for (int c = 0; c < n; ++c) {
            ports.push_back(servers[static_cast<std::size_t>(c)].port);
            const std::string user =
                same_user ? "fleet-same-user" : "fleet-user-" + std::to_string(c);
            headers.push_back({{"Authorization", "Bearer " + token(user)}});
        }
        std::vector<std::vector<Acked>> acked(static_cast<std::size_t>(n));
        const Op op = [&](int c, long i, httplib::Client& http) {
            const std::string title = tag + "-c" + std::to_string(c) + "-" + std::to_string(i);
            const auto res = http.Post("/reports", headers[static_cast<std::size_t>(c)],
                                       report_body(title), "application/json");
            if (!res) return 0;
            if (res->status == 201) {
                const auto j = nlohmann::json::parse(res->body, nullptr, false);
                acked[static_cast<std::size_t>(c)].push_back(
                    {j.is_object() ? j.value("id", "") : "", title});
            }
            return res->status;
        };
        WriteRun run;
        run.servers = n;
        run.same_user = same_user;
        watch_.clear();
        for (auto& s : servers) watch_.push_back(s.process->pid());
        run.stats = run_load(n, ports, 201, 2, op);
        watch_.clear();
        for (auto& s : servers)
            s.process->stop(SIGKILL);  // a reclaimed container: no shutdown persist
        try {
            const auto stored = stored_reports(prefix, partitions);
            std::set<std::string> acked_titles;
            for (const auto& list : acked) {
                for (const auto& a : list) {
                    ++run.acked;
                    acked_titles.insert(a.title);
                    const auto it = stored.find(a.title);
                    if (it == stored.end() ||
                        std::find(it->second.begin(), it->second.end(), a.id) == it->second.end()) {
                        ++run.lost;
                        if (run.lost <= 10)
                            std::fprintf(detail(), "  LOST: %s (id %s)\n", a.title.c_str(),
                                         a.id.c_str());
                    }
                }
            }
            for (const auto& [title, ids] : stored) {
                if (ids.size() > 1) {
                    run.duplicated += static_cast<long>(ids.size()) - 1;
                    if (run.duplicated <= 10)
                        std::fprintf(detail(), "  DUPLICATED: %s x%zu\n", title.c_str(),
                                     ids.size());
                }
                if (!acked_titles.count(title)) ++run.unacked_present;
            }
        } catch (const std::exception& e) {
            run.verify_error = e.what();
        }
        if (run.lost > 0 || run.duplicated > 0 || !run.verify_error.empty()) failed_ = true;
        return run;
    }

    void print_write_header(bool same_user, int partitions) {
        if (opt_.csv) return;
        std::printf(
            "\nwrites: N k9-api serve on one store, one client each, %s, POST /reports back to "
            "back for %.0f s "
            "(K9_JOURNAL_PARTITIONS=%d)\n",
            same_user ? "all as ONE user (the race path)" : "each client its own user",
            opt_.seconds, partitions);
        std::printf("%7s %7s %8s %7s %7s %7s %6s | %-41s | %6s %5s %4s\n", "servers", "writes",
                    "w/s", "p50 ms", "p99 ms", "max ms", "errors", "store requests per write",
                    "acked", "lost", "dup");
        std::printf("%7s %7s %8s %7s %7s %7s %6s | %6s %6s %6s %6s %6s %6s |\n", "", "", "", "", "",
                    "", "", "LIST", "GET", "HEAD", "PUT", "DELETE", "POST");
    }

    void print_write_row(const WriteRun& r, int partitions) {
        const Stats& s = r.stats;
        if (opt_.csv) {
            std::printf("writes,%s,%d,%d,%d,0,%ld,%.1f,%.1f,%.1f,%.1f,%ld%s,%ld,%ld%s\n",
                        r.same_user ? "one_user" : "distinct_users", r.servers, r.servers,
                        partitions, s.ops(), s.per_second(), s.p50(), s.p99(), s.max(), s.errors,
                        per_op_csv(s.counts, static_cast<double>(s.ops())).c_str(), r.lost,
                        r.duplicated, s.cpu_csv().c_str());
        } else {
            std::printf(
                "%7d %7ld %8.1f %7.1f %7.1f %7.1f %6ld |%s | %6ld %5ld %4ld%s%s\n", r.servers,
                s.ops(), s.per_second(), s.p50(), s.p99(), s.max(), s.errors,
                per_op_cells(s.counts, static_cast<double>(s.ops())).c_str(), r.acked, r.lost,
                r.duplicated, s.notes("201").c_str(),
                r.verify_error.empty() ? "" : ("  VERIFY FAILED: " + r.verify_error).c_str());
            if (r.unacked_present > 0) {
                std::printf("        (%ld reports in the store whose request got no 201)\n",
                            r.unacked_present);
            }
        }
        std::fflush(stdout);
    }

    void writes() {
        for (const bool same_user : {false, true}) {
            if (same_user ? !opt_.same : !opt_.distinct) continue;
            print_write_header(same_user, opt_.partitions);
            std::vector<WriteRun> runs;
            for (int n : opt_.servers) {
                runs.push_back(write_run(n, same_user, opt_.partitions));
                print_write_row(runs.back(), opt_.partitions);
            }
            if (!opt_.csv && runs.size() > 1 && runs.front().stats.per_second() > 0) {
                std::printf("%d servers / %d server%s: %.2fx the writes/s\n", runs.back().servers,
                            runs.front().servers, runs.front().servers == 1 ? "" : "s",
                            runs.back().stats.per_second() / runs.front().stats.per_second());
            }
            (same_user ? same_runs_ : distinct_runs_) = runs;
        }
        if (opt_.distinct) put_peer();
    }

    // The ceiling of the writes: what one write costs in the store (a create-only PUT of
    // a journal-sized object, If-None-Match: *) made back to back by k9's S3 client alone,
    // through the proxy, by as many threads as the fewest and the most servers.
    void put_peer() {
        const std::string prefix = test::unique_name();
        store::S3Settings settings = moto_.settings();
        settings.endpoint = proxy_->endpoint();
        const auto s3 = moto_.store(kBucket, prefix, settings);
        const std::string body(600, 'j');  // about one report's journal entry
        if (!opt_.csv) {
            std::printf(
                "peer: create-only PUT of a %zu-byte object (what a write costs the store) by k9's "
                "S3 client "
                "alone, back to back, N threads, through the proxy:\n",
                body.size());
        }
        std::vector<int> threads = {opt_.servers.front()};
        if (opt_.servers.back() != opt_.servers.front()) threads.push_back(opt_.servers.back());
        for (int n : threads) {
            const Stats s = run_clients(n, 200, 2, [&, n](int c) -> ClientOp {
                return [&s3, &body, c, n](long i) {
                    store::PutOptions put;
                    put.precondition = store::Precondition::if_none_match_any();
                    put.metadata = {{"k9-writer", "fleet-bench"}, {"k9-nonce", std::to_string(i)}};
                    try {
                        s3->put_bytes(body,
                                      "peer-" + std::to_string(n) + "/" + std::to_string(c) + "/" +
                                          std::to_string(i),
                                      put);
                        return 200;
                    } catch (const store::StoreError& e) {
                        return e.is_precondition_failed() ? 412 : 500;
                    }
                };
            });
            if (opt_.csv) {
                std::printf("writes,peer_put,0,%d,0,0,%ld,%.1f,%.1f,%.1f,%.1f,%ld%s,,%s\n", n,
                            s.ops(), s.per_second(), s.p50(), s.p99(), s.max(), s.errors,
                            per_op_csv(s.counts, static_cast<double>(s.ops())).c_str(),
                            s.cpu_csv().c_str());
            } else {
                std::printf("%7s %7ld %8.1f %7.1f %7.1f %7.1f %6ld |%s |  (%d threads)%s\n", "peer",
                            s.ops(), s.per_second(), s.p50(), s.p99(), s.max(), s.errors,
                            per_op_cells(s.counts, static_cast<double>(s.ops())).c_str(), n,
                            s.notes("200").c_str());
            }
            put_peers_[n] = s.per_second();
            std::fflush(stdout);
        }
    }

    // ---- reads ---------------------------------------------------------------------------

    struct ReadRun {
        long staleness_ms = 0;
        int clients = 0;
        bool same_user = false;
        Stats stats;
    };

    void reads() {
        const std::string prefix = test::unique_name();
        note("reads: store prefix " + prefix);
        const int max_clients =
            *std::max_element(opt_.read_clients.begin(), opt_.read_clients.end());
        std::vector<httplib::Headers> headers;
        for (int c = 0; c < max_clients; ++c) {
            headers.push_back(
                {{"Authorization", "Bearer " + token("fleet-reader-" + std::to_string(c))}});
        }
        if (!opt_.csv) {
            std::printf(
                "\nreads: one k9-api serve, GET /user/profile back to back for %.0f s per row "
                "(K9_JOURNAL_PARTITIONS=%d)\n",
                opt_.seconds, opt_.partitions);
            std::printf("%9s %7s %-9s %7s %8s %7s %7s %7s %6s | %-41s\n", "staleness", "clients",
                        "users", "reads", "reads/s", "p50 ms", "p99 ms", "max ms", "errors",
                        "store requests per read");
            std::printf("%9s %7s %-9s %7s %8s %7s %7s %7s %6s | %6s %6s %6s %6s %6s %6s\n", "ms",
                        "", "", "", "", "", "", "", "", "LIST", "GET", "HEAD", "PUT", "DELETE",
                        "POST");
        }
        bool profiles = false;
        for (const long staleness : {0L, 1000L}) {
            auto servers =
                start_fleet(store_env(prefix, opt_.partitions, staleness, true), 1, "reads");
            const int port = servers[0].port;
            if (!profiles) {
                auto http = http_client(port);
                for (int c = 0; c < max_clients; ++c) {
                    const auto res =
                        http->Patch("/user/profile", headers[static_cast<std::size_t>(c)],
                                    R"({"name":"Reader"})", "application/json");
                    if (!res || res->status != 200) {
                        throw std::runtime_error(
                            "PATCH /user/profile failed: " +
                            (res ? std::to_string(res->status) + " " + res->body : "no answer"));
                    }
                }
                profiles = true;
            }
            std::vector<std::pair<int, bool>> variants;
            for (int c : opt_.read_clients) {
                variants.emplace_back(c, false);
                if (c > 1) variants.emplace_back(c, true);
            }
            for (const auto& [clients, same_user] : variants) {
                const Op op = [&, same = same_user](int c, long, httplib::Client& http) {
                    const auto res =
                        http.Get("/user/profile", headers[static_cast<std::size_t>(same ? 0 : c)]);
                    return res ? res->status : 0;
                };
                watch_ = {servers[0].process->pid()};
                ReadRun r{staleness, clients, same_user,
                          run_load(clients, std::vector<int>(clients, port), 200, 3, op)};
                watch_.clear();
                print_read_row(r);
                read_runs_.push_back(r);
            }
            servers[0].process->stop(SIGKILL);
        }
        if (!opt_.csv) {
            std::printf("staleness 0 / staleness 1000, reads/s:");
            for (const auto& a : read_runs_) {
                if (a.staleness_ms != 0) continue;
                for (const auto& b : read_runs_) {
                    if (b.staleness_ms == 1000 && b.clients == a.clients &&
                        b.same_user == a.same_user && b.stats.per_second() > 0) {
                        std::printf("  %d client%s%s %.2f;", a.clients, a.clients == 1 ? "" : "s",
                                    a.same_user ? " (one user)" : "",
                                    a.stats.per_second() / b.stats.per_second());
                    }
                }
            }
            std::printf("\n");
        }
        probe_peer(prefix);
    }

    // The floor of a staleness-0 read: what a partition probe is (a GET of a key that does
    // not exist, 404), made back to back by k9's S3 client alone, through the proxy.
    void probe_peer(const std::string& prefix) {
        store::S3Settings settings = moto_.settings();
        settings.endpoint = proxy_->endpoint();
        const auto s3 = moto_.store(kBucket, prefix, settings);
        if (!opt_.csv) {
            std::printf(
                "peer: GET of a missing key (404, what a probe is) by k9's S3 client alone, back "
                "to back, "
                "through the proxy:\n");
        }
        for (int clients : opt_.read_clients) {
            const Stats s = run_clients(clients, 404, 3, [&](int) -> ClientOp {
                return [&s3](long) {
                    try {
                        s3->get_bytes("fleet-bench/missing-key");
                        return 200;
                    } catch (const store::StoreError& e) {
                        return e.is_not_found() ? 404 : 500;
                    }
                };
            });
            if (opt_.csv) {
                std::printf("reads,peer_get_404,0,%d,0,0,%ld,%.1f,%.2f,%.2f,%.1f,%ld%s,,%s\n",
                            clients, s.ops(), s.per_second(), s.p50(), s.p99(), s.max(), s.errors,
                            per_op_csv(s.counts, static_cast<double>(s.ops())).c_str(),
                            s.cpu_csv().c_str());
            } else {
                std::printf("%9s %7d %-9s %7ld %8.1f %7.2f %7.2f %7.1f %6ld |%s%s\n", "peer",
                            clients, "GET 404", s.ops(), s.per_second(), s.p50(), s.p99(), s.max(),
                            s.errors, per_op_cells(s.counts, static_cast<double>(s.ops())).c_str(),
                            s.notes("404").c_str());
            }
            get_peers_[clients] = s.per_second();
            std::fflush(stdout);
        }
    }

    void print_read_row(const ReadRun& r) {
        const Stats& s = r.stats;
        const char* users = r.same_user ? "one" : r.clients == 1 ? "one" : "distinct";
        if (opt_.csv) {
            std::printf("reads,%s,1,%d,%d,%ld,%ld,%.1f,%.2f,%.2f,%.1f,%ld%s,,%s\n",
                        r.same_user ? "one_user" : "distinct_users", r.clients, opt_.partitions,
                        r.staleness_ms, s.ops(), s.per_second(), s.p50(), s.p99(), s.max(),
                        s.errors, per_op_csv(s.counts, static_cast<double>(s.ops())).c_str(),
                        s.cpu_csv().c_str());
        } else {
            std::printf("%9ld %7d %-9s %7ld %8.1f %7.2f %7.2f %7.1f %6ld |%s%s\n", r.staleness_ms,
                        r.clients, users, s.ops(), s.per_second(), s.p50(), s.p99(), s.max(),
                        s.errors, per_op_cells(s.counts, static_cast<double>(s.ops())).c_str(),
                        s.notes("200").c_str());
        }
        std::fflush(stdout);
    }

    // ---- cold start ----------------------------------------------------------------------

    struct ColdPoint {
        std::vector<double> ms;             // one per run
        std::vector<double> open_ms;        // in-process: open() alone (the snapshot), one per run
        std::map<std::string, int> counts;  // all runs
        double median() const { return bench::median(ms); }
        double per_run(const std::string& op) const {
            const auto it = counts.find(op);
            return it == counts.end()
                       ? 0
                       : static_cast<double>(it->second) / static_cast<double>(ms.size());
        }
    };

    void add_counts(std::map<std::string, int>& to, const std::map<std::string, int>& from) {
        for (const auto& [k, v] : from) to[k] += v;
    }

    // A new DatabaseManager on an empty folder, through the proxy: open (the snapshot only),
    // refresh(user) (its partition catches up), one query of the user's reports.
    ColdPoint cold_in_process(const test::Env& env, const std::string& user, long expected) {
        ColdPoint p;
        for (int r = 0; r < opt_.cold_runs; ++r) {
            const auto dir = fresh_dir("cold-manager");
            proxy_->reset_counts();
            const double t = monotonic_ms();
            auto m = manager(env, dir);
            m->open();
            p.open_ms.push_back(monotonic_ms() - t);
            m->refresh(user);
            const auto n = m->read([&](duck::Connection& c) {
                return c.prepare("SELECT count(*) FROM reports WHERE user_id = ?")
                    .bind(1, user)
                    .execute()
                    .int64(0, 0);
            });
            p.ms.push_back(monotonic_ms() - t);
            add_counts(p.counts, proxy_->counts());
            m.reset();
            if (n != expected) {
                throw std::runtime_error("cold start read " + std::to_string(n) + " reports of " +
                                         user + ", want " + std::to_string(expected));
            }
        }
        return p;
    }

    // `k9-api serve` on an empty folder, through the proxy: from exec to the first 200 of
    // GET /reports?limit=1 as the user (what a Lambda container's first request pays,
    // without Lambda's own init).
    ColdPoint cold_process(const test::Env& env, const std::string& user) {
        ColdPoint p;
        const httplib::Headers headers = {{"Authorization", "Bearer " + token(user)}};
        for (int r = 0; r < opt_.cold_runs; ++r) {
            const auto dir = fresh_dir("cold-process");
            proxy_->reset_counts();
            const double t = monotonic_ms();
            Server s = spawn_server(env, dir, 2);
            wait_listening(s);
            auto http = http_client(s.port);
            const auto res = http->Get("/reports?limit=1", headers);
            if (!res || res->status != 200) {
                throw std::runtime_error(
                    "cold start: GET /reports answered " +
                    (res ? std::to_string(res->status) + " " + res->body : "nothing"));
            }
            p.ms.push_back(monotonic_ms() - t);
            add_counts(p.counts, proxy_->counts());
            s.process->stop(SIGKILL);
        }
        return p;
    }

    struct ColdRow {
        std::string scenario;
        int partitions = 0;
        long tail = 0;  // entries of the read user's partition since the snapshot
        ColdPoint manager_since, manager_after, process_since, process_after;
    };

    // A database with `writes` writes since its snapshot (one per user, or all by one
    // user), written on moto directly; cold starts before and after a compaction.
    ColdRow cold_scenario(int partitions, bool one_user) {
        const std::string prefix = test::unique_name();
        const std::string reader = "cold-user-0";
        note("cold: " + std::to_string(opt_.cold_writes) + " writes by " +
             (one_user ? "one user" : "distinct users") + ", partitions " +
             std::to_string(partitions) + ", store prefix " + prefix);
        ColdRow row;
        row.scenario = std::to_string(opt_.cold_writes) +
                       (one_user ? " writes by one user" : " users, 1 write each");
        row.partitions = partitions;
        auto writer = manager(store_env(prefix, partitions, 0, false), fresh_dir("cold-writer"));
        writer->open();
        repo::ReportRepository reports(*writer);
        const int reader_partition = db::partition_of(reader, partitions);
        for (int i = 0; i < opt_.cold_writes; ++i) {
            const std::string user = one_user ? reader : "cold-user-" + std::to_string(i);
            reports.create(
                user,
                {"cold " + std::to_string(i), "fleet", "2024-05-01", {{"product", "p1"}}, {}});
            if (db::partition_of(user, partitions) == reader_partition) ++row.tail;
        }
        const long expected = one_user ? opt_.cold_writes : 1;
        const auto env = store_env(prefix, partitions, 0, true);
        row.manager_since = cold_in_process(env, reader, expected);
        row.process_since = cold_process(env, reader);
        writer->persist();  // compaction: the snapshot now holds every write
        row.manager_after = cold_in_process(env, reader, expected);
        row.process_after = cold_process(env, reader);
        return row;
    }

    static std::string requests(const ColdPoint& p) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.0f/%.0f/%.0f/%.0f", p.per_run("LIST"), p.per_run("GET"),
                      p.per_run("HEAD"), p.per_run("PUT"));
        return buf;
    }

    void print_cold_row(const ColdRow& r) {
        const double m_ratio = r.manager_since.median() / std::max(0.001, r.manager_after.median());
        const double p_ratio = r.process_since.median() / std::max(0.001, r.process_after.median());
        if (opt_.csv) {
            auto row = [&](const std::string& variant, const ColdPoint& p) {
                std::vector<double> sorted = p.ms;
                std::sort(sorted.begin(), sorted.end());
                std::map<std::string, int> counts = p.counts;
                std::printf("cold,%s,1,1,%d,0,%zu,,%.1f,%.1f,%.1f,0%s,,,,,\n", variant.c_str(),
                            r.partitions, p.ms.size(), p.median(), sorted.back(), sorted.back(),
                            per_op_csv(counts, static_cast<double>(p.ms.size())).c_str());
            };
            const std::string base =
                (r.scenario.find("one user") != std::string::npos ? "one_user" : "distinct_users") +
                std::string("_tail") + std::to_string(r.tail);
            row(base + "_manager_since_snapshot", r.manager_since);
            row(base + "_manager_after_compaction", r.manager_after);
            row(base + "_process_since_snapshot", r.process_since);
            row(base + "_process_after_compaction", r.process_after);
        } else {
            std::printf(
                "%-28s %5d %6ld | %5.0f %5.0f %7.0f %7.0f %6.2fx | %7.0f %7.0f %6.2fx | %-13s "
                "%-13s\n",
                r.scenario.c_str(), r.partitions, r.tail, bench::median(r.manager_since.open_ms),
                r.manager_since.median() - bench::median(r.manager_since.open_ms),
                r.manager_since.median(), r.manager_after.median(), m_ratio,
                r.process_since.median(), r.process_after.median(), p_ratio,
                requests(r.manager_since).c_str(), requests(r.manager_after).c_str());
        }
        std::fflush(stdout);
    }

    void cold() {
        if (!opt_.csv) {
            std::printf(
                "\ncold start then one read of one user (median of %d; ms): in-process = new "
                "DatabaseManager: "
                "open + refresh(user) + a query;\nprocess = k9-api serve from exec to its first "
                "200 of GET "
                "/reports. 'since' = %d writes since the snapshot (open: open() alone, +read: the "
                "user's "
                "partition catching up and the query), 'after' = right after a compaction.\n",
                opt_.cold_runs, opt_.cold_writes);
            std::printf("%-28s %5s %6s | %-36s | %-24s | %-27s\n", "", "", "entries", "in-process",
                        "process", "store requests, in-process");
            std::printf("%-28s %5s %6s | %5s %5s %7s %7s %7s | %7s %7s %7s | %-13s %-13s\n",
                        "scenario", "parts", "to read", "open", "+read", "since", "after", "ratio",
                        "since", "after", "ratio", "since L/G/H/P", "after L/G/H/P");
        }
        std::vector<int> sweep = opt_.cold_partitions;
        if (std::find(sweep.begin(), sweep.end(), opt_.partitions) == sweep.end())
            sweep.push_back(opt_.partitions);
        for (int p : sweep) {
            cold_rows_.push_back(cold_scenario(p, false));
            print_cold_row(cold_rows_.back());
        }
        cold_rows_.push_back(cold_scenario(opt_.partitions, true));
        print_cold_row(cold_rows_.back());
    }

    // ---- the targets of issue 12 ---------------------------------------------------------

    void targets() {
        if (opt_.csv) return;
        std::printf("\ntargets (issue 12, +%d ms per round trip):\n", opt_.latency_ms);
        auto verdict = [](bool met) { return met ? "met" : "MISSED"; };
        if (distinct_runs_.size() > 1) {
            const auto& one = distinct_runs_.front();
            const auto& many = distinct_runs_.back();
            const double scale = many.stats.per_second() / std::max(0.001, one.stats.per_second());
            long lost = 0, dup = 0;
            for (const auto& r : distinct_runs_) lost += r.lost, dup += r.duplicated;
            for (const auto& r : same_runs_) lost += r.lost, dup += r.duplicated;
            std::printf("  %d servers >= 6x the writes/s of %d: %.2fx  %s", many.servers,
                        one.servers, scale, verdict(scale >= 6));
            if (put_peers_.count(one.servers) && put_peers_.count(many.servers) &&
                put_peers_[one.servers] > 0) {
                std::printf(
                    " (the store alone, bare PUTs: %.2fx; the fleet does %.2fx of its PUTs/s at "
                    "%d)",
                    put_peers_[many.servers] / put_peers_[one.servers],
                    many.stats.per_second() / std::max(0.001, put_peers_[many.servers]),
                    many.servers);
            }
            std::printf("\n");
            std::printf("  p99 at %d servers < 250 ms: %.1f ms  %s\n", many.servers,
                        many.stats.p99(), verdict(many.stats.p99() < 250));
            std::printf("  0 lost, 0 duplicated (every write run): %ld lost, %ld duplicated  %s\n",
                        lost, dup, verdict(lost == 0 && dup == 0));
        }
        if (!distinct_runs_.empty() && distinct_runs_.front().servers == 1) {
            const auto& s = distinct_runs_.front().stats;
            const double bound = opt_.latency_ms + 25.0;
            std::printf(
                "  one server: write p50 <= %.0f ms: %.1f ms  %s; PUT per write %.2f, LIST per "
                "write %.2f  %s\n",
                bound, s.p50(), verdict(s.p50() <= bound), s.per_op("PUT"), s.per_op("LIST"),
                verdict(s.per_op("PUT") <= 1.0 && s.per_op("LIST") == 0));
        }
        for (const auto& r : cold_rows_) {
            if (r.partitions != opt_.partitions) continue;
            const double ratio =
                r.manager_since.median() / std::max(0.001, r.manager_after.median());
            const double pratio =
                r.process_since.median() / std::max(0.001, r.process_after.median());
            std::printf(
                "  cold start + one read, %s (%d partitions): <= 3x after a compaction: in-process "
                "%.2fx  %s; "
                "process %.2fx  %s\n",
                r.scenario.c_str(), r.partitions, ratio, verdict(ratio <= 3), pratio,
                verdict(pratio <= 3));
        }
        const ReadRun *s0 = nullptr, *s1000 = nullptr;
        for (const auto& r : read_runs_) {
            if (r.clients == 16 && !r.same_user) (r.staleness_ms == 0 ? s0 : s1000) = &r;
        }
        if (s0 && s1000) {
            const double ratio =
                s0->stats.per_second() / std::max(0.001, s1000->stats.per_second());
            std::printf(
                "  reads, staleness 0, 16 clients >= 0.5x staleness 1000: %.2fx  %s; p99 < 100 ms: "
                "%.1f ms  %s; "
                "LIST per read %.3f  %s\n",
                ratio, verdict(ratio >= 0.5), s0->stats.p99(), verdict(s0->stats.p99() < 100),
                s0->stats.per_op("LIST"), verdict(s0->stats.per_op("LIST") == 0));
            if (get_peers_.count(16) && get_peers_[16] > 0) {
                std::printf(
                    "    (the store alone, bare probe GETs by 16 threads: %.1f/s; staleness-0 "
                    "reads do %.2fx of "
                    "that)\n",
                    get_peers_[16], s0->stats.per_second() / get_peers_[16]);
            }
        }
    }

    Options opt_;
    test::Moto& moto_;
    std::unique_ptr<test::FaultProxy> proxy_;
    stdfs::path work_;
    std::string secret_;
    int dirs_ = 0;
    bool failed_ = false;
    std::vector<WriteRun> distinct_runs_, same_runs_;
    std::vector<ReadRun> read_runs_;
    std::map<int, double> put_peers_;  // threads -> PUTs/s
    pid_t moto_pid_ = -1;
    std::vector<pid_t> watch_;  // the k9-api servers of the current window (CPU per operation)
    std::map<int, double> get_peers_;  // threads -> GETs/s (404)
    std::vector<ColdRow> cold_rows_;
};

}  // namespace

int main(int argc, char** argv) {
    const Options opt = parse(argc, argv);
    log::set_threshold(log::Level::Error);
    ::signal(SIGPIPE, SIG_IGN);
    try {
        Bench bench(opt);
        return bench.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fleet_bench: %s\n", e.what());
        return 1;
    }
}
