#pragma once
// Running k9's binaries (and peers such as the AWS CLI) from tests.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace k9::test {

struct ProcessResult {
    int exit_code = -1;  // 128 + signal when killed by one
    std::string out;
    std::string err;
    bool timed_out = false;  // killed by run_process at its deadline
};

using Env = std::map<std::string, std::string>;

// Runs argv[0] (searched in PATH) with exactly `env` (plus PATH and HOME when absent),
// in `cwd`, and waits at most `timeout`. stdout and stderr are captured.
ProcessResult run_process(const std::vector<std::string>& argv, const Env& env,
                          const std::filesystem::path& cwd = std::filesystem::current_path(),
                          std::chrono::seconds timeout = std::chrono::seconds(120));

// Runs argv under `faketime -f <offset>` (the Debian package faketime), each attempt
// bounded by `timeout`. libfaketime 0.9.10 (Debian 12) now and then deadlocks while it
// initialises in a new process ("Unexpected recursive calls to clock_gettime() without
// proper initialization"; upstream issues #130 and #365): a run that hung with that
// message is started again, up to `attempts` times. A run that finished, or hung for any
// other reason, is returned as it is.
ProcessResult run_under_faketime(const std::string& offset, const std::vector<std::string>& argv,
                                 const Env& env,
                                 const std::filesystem::path& cwd = std::filesystem::current_path(),
                                 std::chrono::seconds timeout = std::chrono::seconds(60),
                                 int attempts = 3);

// Why processes cannot be run under faketime here, or nullopt when they can: faketime is
// not installed, or this is a sanitizer build. AddressSanitizer and libfaketime both hook
// clock_gettime() while a process starts, and libfaketime 0.9.10 can deadlock there for
// good (upstream issue #365): CI saw three attempts in a row hang. The release suite runs
// these tests; the sanitizer suite, which is about memory errors, skips them.
std::optional<std::string> why_faketime_cannot_run();

// A process left running; killed (SIGTERM, then SIGKILL) on destruction.
class BackgroundProcess {
  public:
    BackgroundProcess(const std::vector<std::string>& argv, const Env& env,
                      const std::filesystem::path& log_file);
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;
    pid_t pid() const { return pid_; }
    bool running();
    // Sends `sig` and waits up to `timeout` for the exit; returns the exit code (or 128+signal).
    int stop(int sig, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  private:
    pid_t pid_ = -1;
    int status_ = -1;
};

// The directory holding k9's binaries (build/bin), from the K9_BIN_DIR compile definition.
std::filesystem::path bin_dir();
// An environment with only what a test chooses (PATH and HOME are added by run_process).
Env base_env();
// A free TCP port on 127.0.0.1.
int free_port();
// Waits until 127.0.0.1:port accepts connections; false after `timeout`.
bool wait_for_port(int port, std::chrono::milliseconds timeout);

}  // namespace k9::test
