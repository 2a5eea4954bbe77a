// The `bootstrap` binary end to end, against a fake Lambda Runtime API that speaks the
// documented protocol: REST (v1), HTTP API (v2) and Function URL events, an init
// failure, a handler failure, and the persistence policy after responses.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/jwt.hpp"
#include "common/hash.hpp"
#include "support/fake_runtime_api.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

using nlohmann::json;
const std::string kSecret(40, 'b');

json rest_event(const std::string& method, const std::string& path, const std::string& sub,
                const std::string& body = "") {
    return {{"resource", path},
            {"path", path},
            {"httpMethod", method},
            {"headers", {{"content-type", "application/json"}}},
            {"multiValueHeaders", nullptr},
            {"queryStringParameters", nullptr},
            {"multiValueQueryStringParameters", nullptr},
            {"pathParameters", nullptr},
            {"requestContext",
             {{"requestId", "rest-req"},
              {"identity", {{"sourceIp", "10.0.0.1"}}},
              {"authorizer", {{"claims", {{"sub", sub}}}}}}},
            {"body", body.empty() ? json(nullptr) : json(body)},
            {"isBase64Encoded", false}};
}

json http_api_event(const std::string& method, const std::string& path, const std::string& query,
                    const std::string& sub, const std::string& body = "", bool base64 = false) {
    return {{"version", "2.0"},
            {"routeKey", "$default"},
            {"rawPath", path},
            {"rawQueryString", query},
            {"headers", {{"content-type", "application/json"}}},
            {"requestContext",
             {{"requestId", "v2-req"},
              {"domainName", "abc.execute-api.us-east-1.amazonaws.com"},
              {"stage", "$default"},
              {"http", {{"method", method}, {"path", path}, {"sourceIp", "10.0.0.2"}}},
              {"authorizer", {{"jwt", {{"claims", {{"sub", sub}}}}}}}}},
            {"body", base64 ? base64_encode(body) : body},
            {"isBase64Encoded", base64}};
}

json function_url_event(const std::string& method, const std::string& path,
                        const std::string& bearer) {
    json headers = {{"content-type", "application/json"}};
    if (!bearer.empty()) headers["authorization"] = "Bearer " + bearer;
    return {{"version", "2.0"},
            {"routeKey", "$default"},
            {"rawPath", path},
            {"rawQueryString", ""},
            {"headers", headers},
            {"requestContext",
             {{"requestId", "url-req"},
              {"domainName", "xyz.lambda-url.us-east-1.on.aws"},
              {"http", {{"method", method}, {"path", path}, {"sourceIp", "10.0.0.3"}}}}},
            {"isBase64Encoded", false}};
}

class BootstrapTest : public ::testing::Test {
  protected:
    test::Env env() {
        test::Env e = test::base_env();
        e["AWS_LAMBDA_RUNTIME_API"] = api_.endpoint();
        e["K9_DB_PATH"] = (tmp_ / "k9_api.db").string();
        e["K9_STORE_URL"] = "file://" + (tmp_ / "store").string();
        e["K9_JWT_SECRET"] = kSecret;
        e["K9_PERSIST_WRITES"] = "2";
        e["K9_PERSIST_INTERVAL"] = "0";
        return e;
    }
    void start(test::Env e) {
        process_ = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{(test::bin_dir() / "bootstrap").string()}, e,
            tmp_ / "bootstrap.log");
    }
    // Pushes events, waits for all results, returns them parsed.
    std::vector<test::FakeRuntimeApi::Result> invoke(const std::vector<json>& events) {
        const std::size_t before = api_.results().size();
        for (const auto& e : events) api_.push(e.dump());
        EXPECT_TRUE(api_.wait_for_results(before + events.size(), std::chrono::seconds(30)))
            << test::slurp(tmp_ / "bootstrap.log");
        auto all = api_.results();
        return {all.begin() + static_cast<long>(before), all.end()};
    }

    test::TempDir tmp_;
    test::FakeRuntimeApi api_;
    std::unique_ptr<test::BackgroundProcess> process_;
};

TEST_F(BootstrapTest, ServesRestHttpApiAndFunctionUrlEvents) {
    start(env());
    const auto now = system_now() / 1'000'000;
    const std::string token =
        api::mint_hs256({{"sub", "carol"}, {"iat", now}, {"exp", now + 600}}, kSecret);
    auto results = invoke({
        rest_event("PATCH", "/user/profile", "alice", R"({"name":"Alice"})"),
        http_api_event("POST", "/reports", "", "alice",
                       R"({"title":"T","author":"A","date":"2024-05-01","reference":{}})", true),
        http_api_event("GET", "/reports", "limit=5", "alice"),
        rest_event("GET", "/reports", "bob"),
        function_url_event("GET", "/user/profile", token),
        function_url_event("GET", "/user/profile", ""),
    });
    ASSERT_EQ(results.size(), 6u);
    for (const auto& r : results) ASSERT_TRUE(r.ok()) << r.body;
    auto body = [](const test::FakeRuntimeApi::Result& r) { return json::parse(r.body); };

    EXPECT_EQ(body(results[0])["statusCode"], 200);
    EXPECT_EQ(json::parse(body(results[0])["body"].get<std::string>())["name"], "Alice");
    EXPECT_EQ(body(results[1])["statusCode"], 201);
    auto list = json::parse(body(results[2])["body"].get<std::string>());
    EXPECT_EQ(list["items"].size(), 1u);
    EXPECT_TRUE(json::parse(body(results[3])["body"].get<std::string>())["items"].empty())
        << "bob sees nothing of alice's";
    EXPECT_EQ(body(results[4])["statusCode"], 404)
        << "carol is authenticated by her token, and has no profile";
    EXPECT_EQ(body(results[5])["statusCode"], 401) << "a Function URL without a token is refused";
    EXPECT_EQ(json::parse(body(results[5])["body"].get<std::string>())["error"]["code"],
              "unauthorized");
}

TEST_F(BootstrapTest, ColdStartHappensBeforeTheFirstNextAndPersistRunsAfterResponses) {
    start(env());
    ASSERT_TRUE(api_.wait_for_next_calls(1, std::chrono::seconds(30)))
        << test::slurp(tmp_ / "bootstrap.log");
    EXPECT_TRUE(std::filesystem::exists(tmp_ / "k9_api.db"))
        << "the database is ready before the first event";
    invoke({rest_event("PATCH", "/user/profile", "alice", R"({"name":"A"})"),
            rest_event("PATCH", "/user/profile", "bob", R"({"name":"B"})")});
    // K9_PERSIST_WRITES=2: the second write triggers a persist after its response.
    ASSERT_TRUE(api_.wait_for_next_calls(3, std::chrono::seconds(30)));
    EXPECT_TRUE(std::filesystem::exists(tmp_ / "store/databases/k9_api_dev.db"))
        << test::slurp(tmp_ / "bootstrap.log");
}

TEST_F(BootstrapTest, AnEventThatIsNotAnApiEventIsAnInvocationError) {
    start(env());
    auto results = invoke({json{{"Records", json::array()}}, rest_event("GET", "/health", "")});
    ASSERT_EQ(results.size(), 2u);
    EXPECT_FALSE(results[0].ok());
    EXPECT_EQ(results[0].error_type, "K9.InvalidEvent");
    EXPECT_NE(json::parse(results[0].body)["errorMessage"].get<std::string>().size(), 0u);
    EXPECT_TRUE(results[1].ok()) << "the runtime goes on after a failed invocation";
}

TEST_F(BootstrapTest, AnInitFailureIsReportedToTheRuntimeApi) {
    auto e = env();
    e["ENVIRONMENT"] = "production";  // not dev|staging|prod
    auto r = test::run_process({(test::bin_dir() / "bootstrap").string()}, e, tmp_.path(),
                               std::chrono::seconds(30));
    EXPECT_NE(r.exit_code, 0);
    ASSERT_TRUE(api_.wait_for_init_errors(1, std::chrono::seconds(5)));
    const auto err = api_.init_errors().front();
    EXPECT_EQ(err.error_type, "K9.ConfigError");
    EXPECT_NE(err.body.find("ENVIRONMENT"), std::string::npos) << err.body;
    EXPECT_EQ(api_.next_calls(), 0u);
}

TEST_F(BootstrapTest, AColdStartFailureCreatesNoDatabaseAndReportsInitError) {
    // A snapshot that is not a database: the cold start must refuse it.
    std::filesystem::create_directories(tmp_ / "store/databases");
    test::spit(tmp_ / "store/databases/k9_api_dev.db",
               "definitely not a duckdb database file, just text");
    auto r = test::run_process({(test::bin_dir() / "bootstrap").string()}, env(), tmp_.path(),
                               std::chrono::seconds(30));
    EXPECT_NE(r.exit_code, 0);
    ASSERT_TRUE(api_.wait_for_init_errors(1, std::chrono::seconds(5)));
    EXPECT_EQ(api_.init_errors().front().error_type, "K9.InitError");
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "k9_api.db"));
}

TEST(BootstrapOutsideLambda, SaysWhatItNeeds) {
    auto r = test::run_process({(test::bin_dir() / "bootstrap").string()}, test::base_env());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("AWS_LAMBDA_RUNTIME_API"), std::string::npos);
}

}  // namespace
}  // namespace k9
