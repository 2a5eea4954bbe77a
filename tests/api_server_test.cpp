// k9-api serve over real HTTP on loopback: routes, limits, JSON errors for what the
// HTTP layer refuses itself, concurrency, and a graceful shutdown that persists.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "api/jwt.hpp"
#include "common/http_client.hpp"
#include "db/duck.hpp"
#include "store/file_store.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

const std::string kSecret(40, 's');

class ApiServerTest : public ::testing::Test {
  protected:
    void SetUp() override { start(); }

    void start(test::Env extra = {}) {
        port_ = test::free_port();
        test::Env env = test::base_env();
        env["K9_DB_PATH"] = (tmp_ / "k9_api.db").string();
        env["K9_STORE_URL"] = "file://" + (tmp_ / "store").string();
        env["K9_JWT_SECRET"] = kSecret;
        env["K9_PERSIST_WRITES"] = "0";
        env["K9_PERSIST_INTERVAL"] = "0";
        for (auto& [k, v] : extra) env[k] = v;
        server_ = std::make_unique<test::BackgroundProcess>(
            std::vector<std::string>{(test::bin_dir() / "k9-api").string(), "serve", "--port",
                                     std::to_string(port_)},
            env, tmp_ / "server.log");
        ASSERT_TRUE(test::wait_for_port(port_, std::chrono::seconds(30)))
            << test::slurp(tmp_ / "server.log");
    }
    std::string token(const std::string& user) {
        const auto now = system_now() / 1'000'000;
        return api::mint_hs256({{"sub", user}, {"iat", now}, {"exp", now + 600}}, kSecret);
    }
    http::Response call(const std::string& method, const std::string& path,
                        const std::string& body = "", const std::string& user = "alice") {
        http::Request r;
        r.method = method;
        r.url = "http://127.0.0.1:" + std::to_string(port_) + path;
        r.body = body;
        if (!user.empty()) r.headers.emplace_back("authorization", "Bearer " + token(user));
        if (!body.empty()) r.headers.emplace_back("content-type", "application/json");
        return client_.send(r);
    }
    static std::string error_code(const http::Response& r) {
        return nlohmann::json::parse(r.body)["error"]["code"].get<std::string>();
    }

    test::TempDir tmp_;
    int port_ = 0;
    std::unique_ptr<test::BackgroundProcess> server_;
    http::Client client_;
};

TEST_F(ApiServerTest, ProfileAndReportsOverHttp) {
    EXPECT_EQ(call("GET", "/user/profile").status, 404);
    auto p = call("PATCH", "/user/profile", R"({"name":"Alice","preferences":{"units":"metric"}})");
    ASSERT_EQ(p.status, 200) << p.body;
    EXPECT_EQ(nlohmann::json::parse(p.body)["preferences"]["units"], "metric");
    auto c = call("POST", "/reports",
                  R"({"title":"T","author":"A","date":"2024-05-01","reference":{"p":1}})");
    ASSERT_EQ(c.status, 201) << c.body;
    const std::string id = nlohmann::json::parse(c.body)["id"];
    EXPECT_EQ(c.header("location").value_or(""), "/reports/" + id);
    auto list = call("GET", "/reports?limit=10");
    EXPECT_EQ(nlohmann::json::parse(list.body)["items"].size(), 1u);
    auto csv = call("GET", "/reports/" + id + "/export?format=csv");
    EXPECT_EQ(csv.status, 200);
    EXPECT_NE(csv.header("content-disposition").value_or("").find("attachment"), std::string::npos);
    EXPECT_EQ(call("GET", "/reports/" + id, "", "mallory").status, 404)
        << "another user's report is a 404";
}

TEST_F(ApiServerTest, HttpLevelErrorsAreJsonToo) {
    auto big = call("POST", "/reports", std::string(2 << 20, 'x'));
    EXPECT_EQ(big.status, 413);
    EXPECT_EQ(error_code(big), "payload_too_large");
    auto missing = call("GET", "/no/such/route");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(error_code(missing), "not_found");
    auto method = call("PUT", "/user/profile", "{}");
    EXPECT_EQ(method.status, 405);
    EXPECT_EQ(method.header("allow").value_or(""), "GET, PATCH");
    auto noauth = call("GET", "/user/profile", "", "");
    EXPECT_EQ(noauth.status, 401);
    EXPECT_EQ(error_code(noauth), "unauthorized");

    // A request line that is not HTTP at all.
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string garbage = "NOT HTTP AT ALL\r\n\r\n";
    ASSERT_EQ(::send(fd, garbage.data(), garbage.size(), 0), static_cast<ssize_t>(garbage.size()));
    char buf[2048] = {};
    const ssize_t n = ::recv(fd, buf, sizeof buf - 1, 0);
    ::close(fd);
    const std::string reply(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
    EXPECT_NE(reply.find("400"), std::string::npos) << reply;
    EXPECT_EQ(call("GET", "/health", "", "").status, 200) << "the server survived";
}

// The operator's path to /admin/*: a token from `k9db token --admin` (the group is
// K9_ADMIN_GROUP's, here not the default) against the real server.
TEST_F(ApiServerTest, AnAdministratorsTokenFromK9dbOpensAdminRoutes) {
    server_.reset();
    start({{"K9_ADMIN_GROUP", "ops"}});
    test::Env env = test::base_env();
    env["K9_JWT_SECRET"] = kSecret;
    env["K9_ADMIN_GROUP"] = "ops";
    env["K9_STORE_URL"] = "file://" + (tmp_ / "store").string();
    auto mint = [&](bool admin) {
        std::vector<std::string> argv{(test::bin_dir() / "k9db").string(), "token", "--user",
                                      "operator"};
        if (admin) argv.push_back("--admin");
        const auto r = test::run_process(argv, env, tmp_.path());
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.out.substr(0, r.out.find('\n'));
    };
    auto persist = [&](const std::string& token) {
        http::Request r;
        r.method = "POST";  // no body
        r.url = "http://127.0.0.1:" + std::to_string(port_) + "/admin/persist";
        r.headers.emplace_back("authorization", "Bearer " + token);
        return client_.send(r);
    };
    EXPECT_EQ(persist(mint(false)).status, 403);
    const auto ok = persist(mint(true));
    EXPECT_EQ(ok.status, 200) << ok.body;
    http::Request health;
    health.url = "http://127.0.0.1:" + std::to_string(port_) + "/health";
    EXPECT_EQ(client_.send(health).body, R"({"status":"ok"})");
    health.headers.emplace_back("authorization", "Bearer " + mint(true));
    EXPECT_NE(client_.send(health).body.find("\"database\""), std::string::npos);
}

TEST_F(ApiServerTest, ManyClientsAtOnce) {
    constexpr int kThreads = 8, kEach = 15;
    std::atomic<int> created{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            http::Client own;
            for (int i = 0; i < kEach; ++i) {
                http::Request r;
                r.method = "POST";
                r.url = "http://127.0.0.1:" + std::to_string(port_) + "/reports";
                r.body = R"({"title":"t","author":"a","date":"2024-01-01","reference":[1]})";
                r.headers.emplace_back("authorization",
                                       "Bearer " + token("user" + std::to_string(t)));
                if (own.send(r).status == 201) ++created;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(created, kThreads * kEach);
    for (int t = 0; t < kThreads; ++t) {
        auto list = nlohmann::json::parse(
            call("GET", "/reports?limit=100", "", "user" + std::to_string(t)).body);
        EXPECT_EQ(list["items"].size(), static_cast<std::size_t>(kEach));
    }
}

TEST_F(ApiServerTest, SigtermPersistsPendingWritesBeforeExiting) {
    ASSERT_EQ(call("PATCH", "/user/profile", R"({"name":"Persisted at shutdown"})").status, 200);
    EXPECT_EQ(server_->stop(SIGTERM), 0);
    const auto object = tmp_ / "store/databases/k9_api_dev.db";
    ASSERT_TRUE(std::filesystem::exists(object)) << test::slurp(tmp_ / "server.log");
    std::filesystem::copy_file(object, tmp_ / "check.db");
    duck::Database db(tmp_ / "check.db", {{"access_mode", "READ_ONLY"}});
    duck::Connection conn(db);
    EXPECT_EQ(conn.query("SELECT name FROM users WHERE user_id = 'alice'").text(0, 0),
              "Persisted at shutdown");
    EXPECT_NE(test::slurp(tmp_ / "server.log").find("k9-api stopped"), std::string::npos);
}

TEST_F(ApiServerTest, OneLogLinePerRequestWithoutTokensOrBodies) {
    const std::string secret_body = R"({"name":"Very Secret Name"})";
    ASSERT_EQ(call("PATCH", "/user/profile", secret_body).status, 200);
    server_->stop(SIGINT);
    const std::string log = test::slurp(tmp_ / "server.log");
    EXPECT_EQ(log.find("Very Secret Name"), std::string::npos);
    EXPECT_EQ(log.find(token("alice").substr(0, 30)), std::string::npos);
    EXPECT_EQ(log.find("\"alice\""), std::string::npos) << "user ids are hashed";
    bool found = false;
    std::istringstream lines(log);
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] != '{') continue;
        const auto j = nlohmann::json::parse(line);
        if (j.value("message", "") == "request" && j.value("route", "") == "PATCH /user/profile") {
            found = true;
            EXPECT_EQ(j["status"], 200);
            EXPECT_TRUE(j.contains("duration_ms") && j.contains("request_id") &&
                        j.contains("user"));
        }
    }
    EXPECT_TRUE(found) << log;
}

TEST(ApiServerStart, BadConfigurationExitsTwoNamingTheVariable) {
    test::TempDir tmp;
    test::Env env = test::base_env();
    env["K9_JWT_SECRET"] = "short";
    env["K9_DB_PATH"] = (tmp / "k9.db").string();
    auto r = test::run_process({(test::bin_dir() / "k9-api").string(), "serve", "--port", "0"}, env,
                               tmp.path());
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("K9_JWT_SECRET"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace k9
