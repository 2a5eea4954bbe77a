// bootstrap: the K9 API as an AWS Lambda custom runtime. This binary is the function's
// `bootstrap` file itself. Init (configuration, cold start: the database download)
// happens before the first /next; a failure is reported to /init/error. Each event
// (API Gateway REST v1, HTTP API v2, Function URL) goes through the same Router as the
// local server; the persistence policy runs after each response is posted.
#include <cstdlib>
#include <memory>

#include "api/service.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "obs/metrics.hpp"
#include "runtime/lambda_events.hpp"
#include "runtime/lambda_runtime.hpp"

int main() {
    k9::log::configure_from_environment();
    const char* endpoint = std::getenv("AWS_LAMBDA_RUNTIME_API");  // NOLINT(concurrency-mt-unsafe)
    if (endpoint == nullptr || *endpoint == '\0') {
        k9::log::error(
            "AWS_LAMBDA_RUNTIME_API is not set: bootstrap runs inside AWS Lambda (or its "
            "emulator); "
            "for a local server use k9-api serve");
        return 2;
    }
    k9::runtime::RuntimeClient client(endpoint);

    std::unique_ptr<k9::api::Service> service;
    try {
        const auto env = k9::process_env();
        const auto config = k9::config::load_config(env);
        k9::obs::configure_metrics(config.environment, k9::obs::metrics_enabled(env));
        service = std::make_unique<k9::api::Service>(config, env);
        service->open();
    } catch (const k9::ConfigError& e) {
        k9::log::error(std::string("Configuration error: ") + e.what(), {{"variable", e.variable}});
        client.init_error("K9.ConfigError", e.what());
        return 1;
    } catch (const std::exception& e) {
        k9::log::error(e.what());
        client.init_error("K9.InitError", e.what());
        return 1;
    }

    auto handler = [&](const k9::runtime::Invocation& invocation) {
        k9::runtime::ParsedEvent event;
        try {
            event = k9::runtime::parse_event(invocation.payload);
        } catch (const k9::runtime::EventError& e) {
            return k9::runtime::InvocationResult::failure("K9.InvalidEvent", e.what());
        }
        if (event.request.request_id.empty()) event.request.request_id = invocation.request_id;
        const auto response = service->router().handle(event.request);
        return k9::runtime::InvocationResult::success(
            k9::runtime::render_response(event.kind, response));
    };
    return k9::runtime::run_loop(client, handler, std::nullopt,
                                 [&] { service->persist().maybe_persist(); });
}
