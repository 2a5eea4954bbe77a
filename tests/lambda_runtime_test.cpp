// The Runtime API client and loop against the fake Runtime API on loopback.

#include <gtest/gtest.h>

#include <stdlib.h>

#include <future>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "runtime/lambda_runtime.hpp"
#include "support/fake_runtime_api.hpp"
#include "support/log_capture.hpp"

namespace k9::runtime {
namespace {

using nlohmann::json;
using test::FakeRuntimeApi;
using namespace std::chrono_literals;

constexpr auto kWait = 10s;

// Echoes the invocation back, so tests see what the handler saw.
InvocationResult echo(const Invocation& inv) {
    return InvocationResult::success(json{
        {"request_id", inv.request_id},
        {"payload", inv.payload},
        {"deadline_ms", inv.deadline_ms},
        {"function_arn",
         inv.function_arn}}.dump());
}

// Runs the loop on a thread so a test can stop it; get() waits at most kWait.
class LoopThread {
  public:
    LoopThread(RuntimeClient& client, Handler handler, std::optional<int> max = std::nullopt)
        : result_(std::async(std::launch::async, [&client, handler = std::move(handler), max] {
              return run_loop(client, handler, max);
          })) {}
    std::optional<int> get() {
        if (result_.wait_for(kWait) != std::future_status::ready) return std::nullopt;
        return result_.get();
    }

  private:
    std::future<int> result_;
};

TEST(LambdaRuntime, AnswersInvocationsInOrderWithTheirIds) {
    FakeRuntimeApi fake;
    std::vector<std::string> ids;
    for (int i = 0; i < 5; ++i) ids.push_back(fake.push(json{{"n", i}}.dump()));
    ids.push_back(fake.push("{\"n\":5}", "8476a536-e9f4-11e8-9739-2dfe598c3fcd", 1542409706888));

    RuntimeClient client(fake.endpoint());
    EXPECT_EQ(run_loop(client, echo, 6), kLoopDone);

    const auto results = fake.results();
    ASSERT_EQ(results.size(), 6u);
    for (std::size_t i = 0; i < results.size(); ++i) {
        EXPECT_TRUE(results[i].ok());
        EXPECT_EQ(results[i].request_id, ids[i]);
        const json seen = json::parse(results[i].body);
        EXPECT_EQ(seen["request_id"], ids[i]);
        EXPECT_EQ(json::parse(seen["payload"].get<std::string>())["n"], static_cast<int>(i));
        EXPECT_EQ(seen["function_arn"], "arn:aws:lambda:us-east-1:123456789012:function:k9-test");
        EXPECT_GT(seen["deadline_ms"].get<std::int64_t>(), 0);
    }
    EXPECT_EQ(json::parse(results[5].body)["deadline_ms"], 1542409706888);
    EXPECT_TRUE(fake.pending().empty());
    EXPECT_EQ(fake.next_calls(), 6u);  // and no seventh: the loop stops at max_invocations
}

TEST(LambdaRuntime, WaitsForAnEventThatArrivesLater) {
    FakeRuntimeApi fake;
    RuntimeClient client(fake.endpoint());
    LoopThread loop(client, echo, 1);
    ASSERT_TRUE(fake.wait_for_next_calls(1, kWait));
    std::this_thread::sleep_for(50ms);  // the GET /next is parked in the fake
    const std::string id = fake.push("{}");
    EXPECT_EQ(loop.get(), kLoopDone);
    ASSERT_EQ(fake.results().size(), 1u);
    EXPECT_EQ(fake.results()[0].request_id, id);
}

TEST(LambdaRuntime, ExportsTheTraceId) {
    FakeRuntimeApi fake;
    FakeRuntimeApi::Event event;
    event.payload = "{}";
    event.trace_id = "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
    fake.push(event);
    fake.push("{}");  // the fake makes up another trace id

    ::setenv("_X_AMZN_TRACE_ID", "stale", 1);
    RuntimeClient client(fake.endpoint());
    const Handler handler = [](const Invocation& inv) {
        const char* env = ::getenv("_X_AMZN_TRACE_ID");
        return InvocationResult::success(
            json{{"env", env ? env : ""}, {"header", inv.trace_id}}.dump());
    };
    EXPECT_EQ(run_loop(client, handler, 2), kLoopDone);

    const auto results = fake.results();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(json::parse(results[0].body)["env"], event.trace_id);
    EXPECT_EQ(json::parse(results[0].body)["header"], event.trace_id);
    const json second = json::parse(results[1].body);
    EXPECT_EQ(second["env"], second["header"]);
    EXPECT_NE(second["env"], event.trace_id);
    EXPECT_EQ(second["env"].get<std::string>().rfind("Root=1-", 0), 0u);
}

TEST(LambdaRuntime, HandlerFailureIsPostedAsAnError) {
    FakeRuntimeApi fake;
    const std::string id = fake.push("{}");
    RuntimeClient client(fake.endpoint());
    const Handler handler = [](const Invocation&) {
        return InvocationResult::failure("Runtime.HandlerError",
                                         "database unavailable: \"quoted\"");
    };
    EXPECT_EQ(run_loop(client, handler, 1), kLoopDone);

    const auto results = fake.results();
    ASSERT_EQ(results.size(), 1u);
    EXPECT_FALSE(results[0].ok());
    EXPECT_EQ(results[0].request_id, id);
    EXPECT_EQ(results[0].error_type, "Runtime.HandlerError");
    EXPECT_EQ(results[0].content_type, "application/json");
    const json body = json::parse(results[0].body);
    EXPECT_EQ(body["errorType"], "Runtime.HandlerError");
    EXPECT_EQ(body["errorMessage"], "database unavailable: \"quoted\"");
    EXPECT_EQ(body["stackTrace"], json::array());
}

TEST(LambdaRuntime, FailureWithoutATypeGetsTheDefaultType) {
    FakeRuntimeApi fake;
    fake.push("{}");
    RuntimeClient client(fake.endpoint());
    EXPECT_EQ(
        run_loop(
            client, [](const Invocation&) { return InvocationResult::failure("", "no type"); }, 1),
        kLoopDone);
    ASSERT_EQ(fake.results().size(), 1u);
    EXPECT_EQ(fake.results()[0].error_type, "Runtime.HandlerError");
}

TEST(LambdaRuntime, HandlerExceptionsArePostedAndTheLoopGoesOn) {
    FakeRuntimeApi fake;
    const std::string a = fake.push("throw");
    const std::string b = fake.push("throw-int");
    const std::string c = fake.push("ok");
    RuntimeClient client(fake.endpoint());
    const Handler handler = [](const Invocation& inv) -> InvocationResult {
        if (inv.payload == "throw") throw std::runtime_error("boom");
        if (inv.payload == "throw-int") throw 42;
        return InvocationResult::success("\"fine\"");
    };
    EXPECT_EQ(run_loop(client, handler, 3), kLoopDone);

    const auto results = fake.results();
    ASSERT_EQ(results.size(), 3u);
    EXPECT_EQ(results[0].request_id, a);
    EXPECT_EQ(results[0].error_type, "Runtime.UnhandledException");
    EXPECT_EQ(json::parse(results[0].body)["errorMessage"], "boom");
    EXPECT_EQ(results[1].request_id, b);
    EXPECT_EQ(results[1].error_type, "Runtime.UnhandledException");
    EXPECT_TRUE(results[2].ok());
    EXPECT_EQ(results[2].request_id, c);
    EXPECT_EQ(results[2].body, "\"fine\"");
}

TEST(LambdaRuntime, InitErrorPostsToInitError) {
    FakeRuntimeApi fake;
    RuntimeClient client(fake.endpoint());
    client.init_error("Runtime.ConfigError", "DATABASE_S3_KEY is not set");
    const auto errors = fake.init_errors();
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].error_type, "Runtime.ConfigError");
    const json body = json::parse(errors[0].body);
    EXPECT_EQ(body["errorType"], "Runtime.ConfigError");
    EXPECT_EQ(body["errorMessage"], "DATABASE_S3_KEY is not set");
    EXPECT_EQ(body["stackTrace"], json::array());
    EXPECT_TRUE(fake.results().empty());
}

TEST(LambdaRuntime, RequestIdsAreUrlSafeInThePath) {
    FakeRuntimeApi fake;
    const std::string odd = "a b/c?d#e%25f+g&h=\xc3\xa9";
    fake.push("{}", odd);
    fake.push("{}", "err/" + odd);
    RuntimeClient client(fake.endpoint());
    int n = 0;
    const Handler handler = [&n](const Invocation&) {
        return ++n == 1 ? InvocationResult::success("{}") : InvocationResult::failure("T", "m");
    };
    EXPECT_EQ(run_loop(client, handler, 2), kLoopDone);
    const auto results = fake.results();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].request_id, odd);
    EXPECT_TRUE(results[0].ok());
    EXPECT_EQ(results[1].request_id, "err/" + odd);
    EXPECT_FALSE(results[1].ok());
}

TEST(LambdaRuntime, UnknownOrAnsweredRequestIdsAreRefused) {
    FakeRuntimeApi fake;
    RuntimeClient client(fake.endpoint());
    try {
        client.respond("never-handed-out", "{}");
        FAIL() << "expected RuntimeApiError";
    } catch (const RuntimeApiError& e) {
        EXPECT_EQ(e.status, 400);
        EXPECT_TRUE(e.refused());
        EXPECT_NE(std::string(e.what()).find("InvalidRequestID"), std::string::npos) << e.what();
    }
    EXPECT_EQ(fake.post_attempts(), 1u);  // a refusal is not retried

    const std::string id = fake.push("{}");
    EXPECT_EQ(client.next().request_id, id);
    client.respond(id, "{}");
    EXPECT_THROW(client.fail(id, "T", "twice"), RuntimeApiError);
    EXPECT_EQ(fake.results().size(), 1u);
}

TEST(LambdaRuntime, LoopGoesOnWhenAResultIsRefused) {
    FakeRuntimeApi fake;
    fake.push("answer-it-myself");
    const std::string second = fake.push("{}");
    RuntimeClient client(fake.endpoint());
    RuntimeClient other(fake.endpoint());
    const Handler handler = [&other](const Invocation& inv) {
        if (inv.payload == "answer-it-myself") other.respond(inv.request_id, "\"first\"");
        return InvocationResult::success("\"loop\"");
    };
    EXPECT_EQ(run_loop(client, handler, 2), kLoopDone);  // the loop's own post got a 400
    const auto results = fake.results();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].body, "\"first\"");
    EXPECT_EQ(results[1].request_id, second);
}

TEST(LambdaRuntime, OversizedResponseIsRefusedAndTheLoopGoesOn) {
    FakeRuntimeApi::Options options;
    options.max_payload = 1000;
    FakeRuntimeApi fake(options);
    fake.push("big");
    fake.push("small");
    RuntimeClient client(fake.endpoint());
    const Handler handler = [](const Invocation& inv) {
        return InvocationResult::success(inv.payload == "big" ? std::string(2000, 'x') : "{}");
    };
    EXPECT_EQ(run_loop(client, handler, 2), kLoopDone);
    const auto results = fake.results();
    ASSERT_EQ(results.size(), 2u);
    EXPECT_EQ(results[0].error_type, "Function.ResponseSizeTooLarge");
    EXPECT_TRUE(results[1].ok());
}

TEST(LambdaRuntime, RetriesTransientPostFailures) {
    FakeRuntimeApi fake;
    fake.push("{}");
    fake.fail_next_posts(2, 503);
    RuntimeClient client(fake.endpoint());
    EXPECT_EQ(run_loop(client, echo, 1), kLoopDone);
    EXPECT_EQ(fake.post_attempts(), 3u);
    ASSERT_EQ(fake.results().size(), 1u);
    EXPECT_TRUE(fake.results()[0].ok());
}

TEST(LambdaRuntime, GivesUpWhenPostsKeepFailing) {
    FakeRuntimeApi fake;
    fake.push("{}");
    fake.push("{}");
    fake.fail_next_posts(100, 503);
    RuntimeClient client(fake.endpoint());
    EXPECT_EQ(run_loop(client, echo), kLoopPostFailed);
    EXPECT_EQ(fake.post_attempts(), 3u);
    EXPECT_EQ(fake.next_calls(), 1u);
}

TEST(LambdaRuntime, ContainerErrorOnPostEndsTheLoopAtOnce) {
    FakeRuntimeApi fake;
    fake.push("{}");
    fake.fail_next_posts(1, 500);  // the spec: non-recoverable, exit promptly
    RuntimeClient client(fake.endpoint());
    EXPECT_EQ(run_loop(client, echo), kLoopPostFailed);
    EXPECT_EQ(fake.post_attempts(), 1u);
}

TEST(LambdaRuntime, LoopExitsWhenTheRuntimeApiStops) {
    FakeRuntimeApi fake;
    RuntimeClient client(fake.endpoint());
    LoopThread loop(client, echo);
    fake.push("{}");
    ASSERT_TRUE(fake.wait_for_results(1, kWait));
    ASSERT_TRUE(fake.wait_for_next_calls(2, kWait));  // parked in the second GET /next
    fake.stop();
    EXPECT_EQ(loop.get(), kLoopNextFailed);
}

TEST(LambdaRuntime, UnreachableRuntimeApi) {
    std::string endpoint;
    {
        FakeRuntimeApi gone;
        endpoint = gone.endpoint();
    }
    RuntimeClient client(endpoint);
    try {
        client.next();
        FAIL() << "expected RuntimeApiError";
    } catch (const RuntimeApiError& e) {
        EXPECT_EQ(e.status, 0);
        EXPECT_FALSE(e.refused());
    }
    EXPECT_THROW(client.init_error("T", "m"), std::runtime_error);
    EXPECT_EQ(run_loop(client, echo), kLoopNextFailed);
}

TEST(LambdaRuntime, FakeNextWaitIsBounded) {
    FakeRuntimeApi::Options options;
    options.next_wait = 200ms;
    FakeRuntimeApi fake(options);
    RuntimeClient client("http://" + fake.endpoint() + "/");  // scheme and slash accepted
    try {
        client.next();
        FAIL() << "expected RuntimeApiError";
    } catch (const RuntimeApiError& e) {
        EXPECT_EQ(e.status, 500);
    }
}

TEST(LambdaRuntime, EmptyEndpointIsRejected) {
    EXPECT_THROW(RuntimeClient(""), std::invalid_argument);
}

TEST(LambdaRuntime, PayloadsAreNeverLogged) {
    const log::Level before = log::threshold();
    log::set_threshold(log::Level::Debug);
    {
        test::LogCapture logs;
        FakeRuntimeApi fake;
        fake.push("{\"secret\":\"PAYLOAD-SECRET\"}");
        fake.push("{\"secret\":\"PAYLOAD-SECRET\"}");
        RuntimeClient client(fake.endpoint());
        int n = 0;
        const Handler handler = [&n](const Invocation&) {
            return ++n == 1 ? InvocationResult::success("RESPONSE-SECRET")
                            : InvocationResult::failure("T", "failed");
        };
        EXPECT_EQ(run_loop(client, handler, 2), kLoopDone);
        ASSERT_FALSE(logs.lines().empty());
        for (const auto& line : logs.lines()) {
            const std::string text = line.dump();
            EXPECT_EQ(text.find("PAYLOAD-SECRET"), std::string::npos) << text;
            EXPECT_EQ(text.find("RESPONSE-SECRET"), std::string::npos) << text;
        }
        EXPECT_TRUE(logs.has("WARN", "lambda runtime: invocation failed"));
    }
    log::set_threshold(before);
}

}  // namespace
}  // namespace k9::runtime
