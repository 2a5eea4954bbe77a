#pragma once
// A fault-injecting HTTP proxy for the S3 tests: it sits on a loopback port in front
// of a real server (moto) and, for requests that match a rule, answers with an error,
// cuts the response short, drops the connection mid-body, flips bytes, stalls, or
// forwards the request without some of its headers. Everything else is forwarded
// untouched.

#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace k9::test {

enum class Fault {
    Status,       // answer `status` with an S3 error document (code `s3_code`), not forwarded
    Truncate,     // forward, then send the headers and half the body and close cleanly
    Reset,        // forward, then send the headers and half the body and reset the connection
    FlipBytes,    // forward, with some body bytes changed (length unchanged)
    Stall,        // wait `stall_ms` before answering
    StallBody,    // forward the headers and 64 KiB of the body, wait `stall_ms`, send the rest
    DropHeaders,  // forward without the request headers named in `drop_headers`: e.g. a store
                  // that ignores If-None-Match / If-Match, made of moto
};

struct FaultRule {
    Fault fault = Fault::Status;
    std::string method;           // "" = any
    std::string path_contains;    // "" = any
    std::string header_contains;  // "" = any; matched against "name: value" lines of the request
    int times = 1;                // how many matching requests get the fault (-1: all)
    int status = 503;
    std::string s3_code = "SlowDown";
    int stall_ms = 0;
    std::string header_absent;  // "" = no condition; else the request must not contain it
    // Each matching request gets the fault with this probability; one that is spared is
    // checked against the later rules, and does not count against `times`.
    double probability = 1.0;
    std::vector<std::string> drop_headers;  // DropHeaders: header names, any case
};

class FaultProxy {
  public:
    explicit FaultProxy(int upstream_port);
    ~FaultProxy();
    FaultProxy(const FaultProxy&) = delete;
    FaultProxy& operator=(const FaultProxy&) = delete;

    int port() const { return port_; }
    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    void add(FaultRule rule);
    void clear();
    int faults_injected() const { return injected_; }
    int requests_seen() const { return seen_; }
    // Requests seen since the start (or reset_counts), by S3 operation: "LIST" for a GET
    // whose query has list-type or versions (ListObjectsV2, ListObjectVersions), else the
    // method ("GET", "HEAD", "PUT", "DELETE", "POST"). Counted as they arrive, faulty or not.
    std::map<std::string, int> counts() const;
    void reset_counts();

  private:
    void accept_loop();
    void serve(int client);
    const FaultRule* match(const std::string& method, const std::string& path,
                           const std::string& head);

    int upstream_port_;
    int listen_fd_ = -1;
    int port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<int> injected_{0};
    std::atomic<int> seen_{0};
    mutable std::mutex counts_mutex_;
    std::map<std::string, int> counts_;
    std::mutex mutex_;
    std::vector<FaultRule> rules_;
    std::mt19937_64 random_{0x6b39};  // fixed seed: the same request order draws the same faults
    // One thread per connection; a finished one is joined when the next connection comes
    // (a soak makes thousands: unjoined, their stacks would exhaust memory).
    std::map<std::thread::id, std::thread> threads_;
    std::vector<std::thread::id> finished_;
    std::vector<int> open_fds_;
    std::thread acceptor_;
};

}  // namespace k9::test
