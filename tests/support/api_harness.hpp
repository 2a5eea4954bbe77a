#pragma once
// A fixture for Router tests: api::RouteContext on a file store in a temp folder, a clock the
// test moves, and requests sent as a named user with an HS256 development token.

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/jwt.hpp"
#include "api/service.hpp"
#include "config/config.hpp"
#include "support/db_fixture.hpp"
#include "support/temp_dir.hpp"

namespace k9::test {

inline constexpr Micros kApiStart = 1'750'000'000LL * 1'000'000;
inline constexpr Micros kMicrosPerSecond = 1'000'000;
inline const std::string kApiSecret = "router-test-secret-0123456789abcdef-0123";
inline const std::string kUserA = "user-a";
inline const std::string kUserB = "user-b";
// A member of the administrators' group (K9_ADMIN_GROUP's default): its tokens carry
// `cognito:groups`.
inline const std::string kAdmin = "admin-1";
inline const std::string kAdminGroup = "k9-admins";

// Moves 1 ms on every reading, so creation order is strict; jumps when the test says so.
class TestClock {
  public:
    Clock clock() {
        return [this] { return now_.fetch_add(1000) + 1000; };
    }
    void advance_seconds(std::int64_t s) { now_ += s * kMicrosPerSecond; }
    Micros now() const { return now_.load(); }

  private:
    std::atomic<Micros> now_{kApiStart};
};

using Vars = std::map<std::string, std::string>;

// An error answer in the documented shape: {"error":{"code":..,"message":..}}, JSON.
inline ::testing::AssertionResult is_error(const api::Response& r, int status,
                                           const std::string& code = "") {
    auto fail = [&](const std::string& why) {
        return ::testing::AssertionFailure()
               << why << "; got " << r.status << " " << r.body.substr(0, 300);
    };
    if (r.status != status) return fail("want status " + std::to_string(status));
    const auto body = nlohmann::json::parse(r.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("error"))
        return fail("no JSON error body");
    const auto& e = body["error"];
    if (!e.is_object() || !e.contains("code") || !e["code"].is_string() || !e.contains("message") ||
        !e["message"].is_string() || e["message"].get<std::string>().empty()) {
        return fail("error needs a string code and a non-empty message");
    }
    if (!code.empty() && e["code"] != code) return fail("want code " + code);
    if (r.headers.count("content-type") == 0 ||
        r.headers.at("content-type") != "application/json") {
        return fail("want content-type application/json");
    }
    return ::testing::AssertionSuccess();
}

inline nlohmann::json json_of(const api::Response& r) {
    auto j = nlohmann::json::parse(r.body, nullptr, false);
    if (j.is_discarded()) ADD_FAILURE() << "not JSON: " << r.body.substr(0, 300);
    return j;
}

class ApiTest : public ::testing::Test {
  protected:
    // A service's variables: its own local file <tmp>/<name>/k9.db, the shared store.
    Vars env(const std::string& name = "main") const {
        std::filesystem::create_directories(tmp_ / name);
        return {{"K9_DB_PATH", (tmp_ / name / "k9.db").string()},
                {"K9_STORE_URL", "file://" + (tmp_ / "store").string()},
                {"DATABASE_S3_KEY", kSnapshotKey},
                {"K9_JWT_SECRET", kApiSecret},
                {"K9_DURABILITY", durability_}};
    }
    // journal (the default) or snapshot: set before the first start().
    std::string durability_ = "journal";
    // Builds and opens a service; the first one started is the one call() talks to.
    api::Service& start(const Vars& vars) {
        const auto lookup = k9::map_env(vars);
        services_.push_back(std::make_unique<api::Service>(config::load_config(lookup, tmp_.path()),
                                                           lookup, clock_.clock()));
        services_.back()->open();
        return *services_.back();
    }
    api::Service& service() {
        if (services_.empty()) start(env());
        return *services_.front();
    }

    std::string token(const std::string& user, std::int64_t ttl_s = 3600,
                      const std::string& secret = kApiSecret) const {
        const std::int64_t now = clock_.now() / kMicrosPerSecond;
        nlohmann::json claims = {{"sub", user}, {"iat", now}, {"exp", now + ttl_s}};
        if (user == kAdmin) claims["cognito:groups"] = {"readers", kAdminGroup};
        return api::mint_hs256(claims, secret);
    }
    // `target` may carry a query string (no percent-decoding: tests use plain values).
    // An empty `user` sends no Authorization header.
    api::Request request(const std::string& method, const std::string& target,
                         const std::string& body = "", const std::string& user = kUserA) const {
        api::Request r;
        r.method = method;
        const auto q = target.find('?');
        r.path = target.substr(0, q);
        if (q != std::string::npos) {
            std::size_t from = q + 1;
            while (from <= target.size()) {
                auto amp = target.find('&', from);
                if (amp == std::string::npos) amp = target.size();
                const std::string pair = target.substr(from, amp - from);
                const auto eq = pair.find('=');
                r.query.emplace(pair.substr(0, eq),
                                eq == std::string::npos ? "" : pair.substr(eq + 1));
                from = amp + 1;
            }
        }
        r.body = body;
        r.request_id = "req-" + std::to_string(++request_counter_);
        if (!user.empty()) r.headers["authorization"] = "Bearer " + token(user);
        if (!body.empty()) r.headers["content-type"] = "application/json";
        return r;
    }
    api::Response send(const api::Request& r) { return service().router().handle(r); }
    api::Response call(const std::string& method, const std::string& target,
                       const std::string& body = "", const std::string& user = kUserA) {
        return send(request(method, target, body, user));
    }
    api::Response get(const std::string& target, const std::string& user = kUserA) {
        return call("GET", target, "", user);
    }
    api::Response post(const std::string& target, const nlohmann::json& body,
                       const std::string& user = kUserA) {
        return call("POST", target, body.dump(), user);
    }
    api::Response patch(const std::string& target, const nlohmann::json& body,
                        const std::string& user = kUserA) {
        return call("PATCH", target, body.dump(), user);
    }
    api::Response put(const std::string& target, const nlohmann::json& body,
                      const std::string& user = kUserA) {
        return call("PUT", target, body.dump(), user);
    }
    api::Response del(const std::string& target, const std::string& user = kUserA) {
        return call("DELETE", target, "", user);
    }

    static nlohmann::json report_body(const std::string& title = "Weekly") {
        return {{"title", title},
                {"author", "Ann"},
                {"date", "2024-05-01"},
                {"reference", {{"product", "p1"}}}};
    }
    // Creates a report as `user`; returns its id.
    std::string create_report(const std::string& title = "Weekly",
                              const std::string& user = kUserA) {
        const auto r = post("/reports", report_body(title), user);
        EXPECT_EQ(r.status, 201) << r.body;
        return json_of(r).value("id", "");
    }
    // /health as an administrator sees it (anonymous callers get the status alone).
    nlohmann::json health() { return json_of(get("/health", kAdmin)); }
    std::filesystem::path snapshot_path() const { return tmp_ / "store" / kSnapshotKey; }
    // The snapshot's ETag ("" when there is none). Journal mode: a new database starts with
    // an empty snapshot, so a persist shows as a new ETag.
    std::string snapshot_etag() const {
        store::FileStore store(tmp_ / "store");
        const auto info = store.head_if_exists(kSnapshotKey);
        return info ? info->etag : "";
    }

    TempDir tmp_;
    TestClock clock_;
    mutable int request_counter_ = 0;
    std::vector<std::unique_ptr<api::Service>> services_;  // destroyed before tmp_
};

}  // namespace k9::test
