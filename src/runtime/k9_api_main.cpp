// k9-api serve: the K9 API as a local HTTP server on the DatabaseManager.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "api/service.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "obs/metrics.hpp"
#include "runtime/http_server.hpp"

namespace {

constexpr const char* kFooter = R"(
Configuration comes from the environment (see k9db --config); authentication from
K9_JWT_SECRET (development HS256 tokens: k9db token --user ID), K9_JWKS_FILE or
K9_COGNITO_USER_POOL_ID. SIGINT/SIGTERM stop the server after persisting pending writes.

Exit codes: 0 stopped cleanly, 1 failed to start or to persist at shutdown, 2 usage or
configuration error, 3 persist conflict at shutdown (the writes stay in the local file).
)";

// Every connection is a file descriptor, besides the database's and the store's: the soft
// limit (often 1024) is raised toward the hard one so that --max-connections fits.
void raise_open_files_limit(std::size_t max_connections) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t wanted = static_cast<rlim_t>(max_connections) + 256;
    if (limit.rlim_cur >= wanted) return;
    limit.rlim_cur = limit.rlim_max == RLIM_INFINITY ? wanted : std::min(wanted, limit.rlim_max);
    setrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < wanted) {
        k9::log::warning(
            "the open files limit is below --max-connections; connections over it wait",
            {{"limit", static_cast<long long>(limit.rlim_cur)},
             {"max_connections", static_cast<long long>(max_connections)}});
    }
}

}  // namespace

int main(int argc, char** argv) {
    k9::log::configure_from_environment();
    CLI::App app{"k9-api - the K9 API service", "k9-api"};
    app.footer(kFooter);
    auto* serve = app.add_subcommand("serve", "Serve the API over HTTP (default 127.0.0.1:3001)");
    k9::runtime::ServerOptions options;
    serve->add_option("--host", options.host, "Address to listen on")->capture_default_str();
    serve->add_option("--port", options.port, "Port (0: any free port)")
        ->capture_default_str()
        ->check(CLI::Range(0, 65535));
    serve->add_option("--threads", options.threads, "Worker threads")
        ->capture_default_str()
        ->check(CLI::Range(1, 256));
    serve
        ->add_option("--max-connections", options.max_connections,
                     "Open connections at most (one more is answered 503)")
        ->capture_default_str()
        ->check(CLI::Range(1, 100000));
    double request_timeout_s = 10;
    serve
        ->add_option("--request-timeout", request_timeout_s,
                     "Seconds a request may take to arrive whole, headers and body (then 408)")
        ->capture_default_str()
        ->check(CLI::Range(0.1, 3600.0));
    app.require_subcommand(1);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    options.request_timeout =
        std::chrono::milliseconds(static_cast<long>(request_timeout_s * 1000));
    raise_open_files_limit(options.max_connections);

    // Signals are taken by one thread (sigwait), never by a handler in a random thread.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    std::unique_ptr<k9::api::Service> service;
    try {
        const auto env = k9::process_env();
        const auto config = k9::config::load_config(env);
        options.max_body_bytes = config.api.max_body_bytes;
        k9::obs::configure_metrics(config.environment, k9::obs::metrics_enabled(env));
        service = std::make_unique<k9::api::Service>(config, env);
        service->open();
    } catch (const k9::ConfigError& e) {
        k9::log::error(std::string("Configuration error: ") + e.what(), {{"variable", e.variable}});
        return 2;
    } catch (const std::exception& e) {
        k9::log::error(e.what());
        return 1;
    }

    k9::runtime::HttpServer server(
        [&router = service->router()](const k9::api::Request& r) { return router.handle(r); },
        options);
    int port = 0;
    try {
        port = server.bind();
    } catch (const std::exception& e) {
        k9::log::error(e.what());
        return 1;
    }
    std::thread waiter([&] {
        int sig = 0;
        sigwait(&signals, &sig);
        k9::log::info("Stopping on signal", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
        server.stop();
    });
    service->persist().start();
    k9::log::info("k9-api listening",
                  {{"url", "http://" + options.host + ":" + std::to_string(port)}});
    std::cout << "Listening on http://" << options.host << ":" << port << std::endl;
    server.run();

    // Whatever ended the server, the waiter must not outlive main.
    // NOLINTNEXTLINE(bugprone-bad-signal-to-kill-thread): wakes its sigwait(), nothing dies
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    service->persist().stop();
    int rc = 0;
    if (service->manager().pending_writes() > 0) {
        try {
            service->persist().persist_now("shutdown");
        } catch (const k9::db::PersistConflict&) {
            rc = 3;
        } catch (const std::exception&) {
            rc = 1;
        }
    }
    k9::log::info("k9-api stopped", {{"exit_code", rc}});
    return rc;
}
