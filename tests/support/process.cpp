#include "support/process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "support/temp_dir.hpp"

namespace k9::test {
namespace stdfs = std::filesystem;

namespace {

std::vector<std::string> env_strings(Env env) {
    for (const char* name : {"PATH", "HOME"}) {
        if (!env.count(name)) {
            const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
            env[name] = v != nullptr ? v : (std::string(name) == "PATH" ? "/usr/bin:/bin" : "/tmp");
        }
    }
    std::vector<std::string> out;
    for (const auto& [k, v] : env) out.push_back(k + "=" + v);
    return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
    std::vector<char*> out;
    for (auto& s : v) out.push_back(s.data());
    out.push_back(nullptr);
    return out;
}

// execvpe in a forked child, with stdout/stderr sent to the given fds.
pid_t spawn(const std::vector<std::string>& argv, const Env& env, const stdfs::path& cwd,
            int out_fd, int err_fd) {
    std::vector<std::string> args = argv;
    std::vector<std::string> envs = env_strings(env);
    auto c_args = c_strings(args);
    auto c_envs = c_strings(envs);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::setpgid(0, 0);
        const int devnull = ::open("/dev/null", O_RDONLY);
        ::dup2(devnull, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        if (::chdir(cwd.c_str()) != 0) ::_exit(126);
        ::execvpe(c_args[0], c_args.data(), c_envs.data());
        ::_exit(127);
    }
    return pid;
}

int decode(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const Env& env,
                          const stdfs::path& cwd, std::chrono::seconds timeout) {
    TempDir tmp;
    const int out = ::open((tmp / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open((tmp / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const pid_t pid = spawn(argv, env, cwd, out, err);
    ::close(out);
    ::close(err);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(-pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            return ProcessResult{decode(status), slurp(tmp / "out"), slurp(tmp / "err"), true};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return ProcessResult{decode(status), slurp(tmp / "out"), slurp(tmp / "err")};
}

ProcessResult run_under_faketime(const std::string& offset, const std::vector<std::string>& argv,
                                 const Env& env, const stdfs::path& cwd,
                                 std::chrono::seconds timeout, int attempts) {
    std::vector<std::string> wrapped{"faketime", "-f", offset};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    ProcessResult r;
    for (int i = 0; i < attempts; ++i) {
        r = run_process(wrapped, env, cwd, timeout);
        const bool hung_in_libfaketime =
            r.timed_out && r.err.find("libfaketime:") != std::string::npos;
        if (!hung_in_libfaketime) return r;
        std::fprintf(stderr, "libfaketime hung while starting %s (attempt %d of %d)\n",
                     argv[0].c_str(), i + 1, attempts);
    }
    r.err += "\n(libfaketime hung at start-up in every attempt: see run_under_faketime)";
    return r;
}

std::optional<std::string> why_faketime_cannot_run() {
#if defined(__SANITIZE_ADDRESS__)
    constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    constexpr bool kSanitized = true;
#else
    constexpr bool kSanitized = false;
#endif
#else
    constexpr bool kSanitized = false;
#endif
    if (kSanitized) {
        return "this is a sanitizer build, and libfaketime can deadlock at start-up under "
               "AddressSanitizer (libfaketime issue #365); the release suite runs this test";
    }
    if (run_process({"sh", "-c", "command -v faketime"}, Env{}).exit_code != 0)
        return "faketime is not installed (Debian package faketime; scripts/setup installs it)";
    return std::nullopt;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv, const Env& env,
                                     const stdfs::path& log_file) {
    const int log = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    pid_ = spawn(argv, env, stdfs::current_path(), log, log);
    ::close(log);
}

BackgroundProcess::~BackgroundProcess() {
    if (pid_ > 0 && status_ < 0) stop(SIGTERM, std::chrono::milliseconds(3000));
}

bool BackgroundProcess::running() {
    if (status_ >= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = decode(status);
        return false;
    }
    return true;
}

int BackgroundProcess::stop(int sig, std::chrono::milliseconds timeout) {
    if (status_ >= 0) return status_;
    ::kill(-pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return status_ = decode(status);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    return status_ = decode(status);
}

stdfs::path bin_dir() {
    return K9_BIN_DIR;
}

Env base_env() {
    return Env{{"K9_LOG_LEVEL", "INFO"}};
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool wait_for_port(int port, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(static_cast<uint16_t>(port));
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
        ::close(fd);
        if (ok) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
}

}  // namespace k9::test
