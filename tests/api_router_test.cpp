// The Router (Request -> Response) on a real Service: every route, users isolated from
// each other, validation that answers 4xx and never 500, automatic persistence and the
// request log. Authentication refusals are in api_auth_test.cpp.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "api/auth.hpp"
#include "api/auto_persist.hpp"
#include "api/wiring.hpp"
#include "common/hash.hpp"
#include "db/journal.hpp"
#include "db/migrations.hpp"
#include "repo/mutations.hpp"
#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"
#include "store/error.hpp"
#include "store/file_store.hpp"
#include "support/api_harness.hpp"
#include "support/log_capture.hpp"

namespace k9 {
namespace {

using nlohmann::json;
using test::is_error;
using test::json_of;
using test::kAdmin;
using test::kUserA;
using test::kUserB;

// RFC 4180 rows: CRLF line ends, quoted fields with doubled quotes.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c != '"')
                field += c;
            else if (i + 1 < text.size() && text[i + 1] == '"')
                field += '"', ++i;
            else
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            row.push_back(std::exchange(field, {}));
        } else if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') {
            row.push_back(std::exchange(field, {}));
            rows.push_back(std::exchange(row, {}));
            ++i;
        } else {
            field += c;
        }
    }
    if (!field.empty() || !row.empty()) row.push_back(field), rows.push_back(row);
    return rows;
}

// Anything but a server error; a 4xx must carry the error body.
::testing::AssertionResult client_outcome(const api::Response& r) {
    if (r.status >= 500)
        return ::testing::AssertionFailure() << "server error " << r.status << " " << r.body;
    if (r.status >= 400) return is_error(r, r.status);
    return ::testing::AssertionSuccess();
}

class RouterTest : public test::ApiTest {};

// ---- routes ---------------------------------------------------------------------------

TEST_F(RouterTest, ProfileIsMissingUntilTheFirstPatchWhichNeedsAName) {
    EXPECT_TRUE(is_error(get("/user/profile"), 404, "not_found"));
    EXPECT_TRUE(is_error(patch("/user/profile", {{"email", "ann@example.com"}}), 400));
    EXPECT_TRUE(is_error(get("/user/profile"), 404, "not_found"));

    const json full = {{"name", "Ann"},
                       {"email", "ann@example.com"},
                       {"avatar_url", "https://example.com/a.png"},
                       {"preferences", {{"theme", "dark"}}}};
    auto created = patch("/user/profile", full);
    ASSERT_EQ(created.status, 200) << created.body;
    auto got = get("/user/profile");
    ASSERT_EQ(got.status, 200);
    const auto u = json_of(got);
    EXPECT_EQ(u["user_id"], kUserA);
    EXPECT_EQ(u["name"], "Ann");
    EXPECT_EQ(u["email"], "ann@example.com");
    EXPECT_EQ(u["avatar_url"], "https://example.com/a.png");
    EXPECT_EQ(u["preferences"], json({{"theme", "dark"}}));
    EXPECT_EQ(json_of(created), u);
}

TEST_F(RouterTest, ProfilePatchChangesOnlyTheGivenFieldsAndNullClears) {
    ASSERT_EQ(patch("/user/profile", {{"name", "Ann"},
                                      {"email", "a@x.io"},
                                      {"avatar_url", "https://x.io/a"},
                                      {"preferences", {{"k", 1}}}})
                  .status,
              200);
    auto r = patch("/user/profile", {{"email", nullptr}, {"avatar_url", nullptr}});
    ASSERT_EQ(r.status, 200) << r.body;
    auto u = json_of(get("/user/profile"));
    EXPECT_TRUE(u["email"].is_null());
    EXPECT_TRUE(u["avatar_url"].is_null());
    EXPECT_EQ(u["name"], "Ann");
    EXPECT_EQ(u["preferences"], json({{"k", 1}}));

    ASSERT_EQ(patch("/user/profile", {{"name", "Bea"}, {"preferences", nullptr}}).status, 200);
    u = json_of(get("/user/profile"));
    EXPECT_EQ(u["name"], "Bea");
    EXPECT_TRUE(u["preferences"].is_null());
}

TEST_F(RouterTest, CreateReportAnswers201WithLocationAndTheReport) {
    json body = report_body("Weekly");
    body["favorites"] = {"p1", "p2", "p1"};
    const auto r = post("/reports", body);
    ASSERT_EQ(r.status, 201) << r.body;
    const auto rep = json_of(r);
    const std::string id = rep["id"];
    EXPECT_FALSE(id.empty());
    EXPECT_EQ(r.headers.at("location"), "/reports/" + id);
    EXPECT_EQ(rep["title"], "Weekly");
    EXPECT_EQ(rep["author"], "Ann");
    EXPECT_EQ(rep["date"], "2024-05-01");
    EXPECT_EQ(rep["reference"], json({{"product", "p1"}}));
    EXPECT_EQ(rep["favorites"], json({"p1", "p2"}));  // duplicates dropped, order kept
    EXPECT_EQ(rep["user_id"], kUserA);
    EXPECT_EQ(json_of(get("/reports/" + id)), rep);

    // favorites is optional; each of the four others is required.
    EXPECT_EQ(json_of(post("/reports", report_body()))["favorites"], json::array());
    for (const char* field : {"title", "author", "date", "reference"}) {
        json missing = report_body();
        missing.erase(field);
        const auto bad = post("/reports", missing);
        EXPECT_TRUE(is_error(bad, 400)) << field;
        EXPECT_NE(bad.body.find(field), std::string::npos)
            << "the message names the field: " << bad.body;
    }
}

TEST_F(RouterTest, ReportCanBeReadChangedAndDeleted) {
    const std::string id = test::json_of(post("/reports", report_body("Old")))["id"];
    const auto changed =
        patch("/reports/" + id, {{"title", "New"}, {"reference", json::array({1, 2})}});
    ASSERT_EQ(changed.status, 200) << changed.body;
    const auto rep = json_of(get("/reports/" + id));
    EXPECT_EQ(rep["title"], "New");
    EXPECT_EQ(rep["author"], "Ann");
    EXPECT_EQ(rep["date"], "2024-05-01");
    EXPECT_EQ(rep["reference"], json::array({1, 2}));
    EXPECT_EQ(json_of(changed), rep);

    const auto deleted = del("/reports/" + id);
    EXPECT_EQ(deleted.status, 204);
    EXPECT_TRUE(deleted.body.empty());
    EXPECT_TRUE(is_error(get("/reports/" + id), 404, "not_found"));
    EXPECT_TRUE(is_error(del("/reports/" + id), 404, "not_found"));
    EXPECT_TRUE(is_error(patch("/reports/" + id, {{"title", "x"}}), 404, "not_found"));
}

TEST_F(RouterTest, ListPagesNewestFirstWithACursorThatEnds) {
    for (int i = 1; i <= 5; ++i) create_report("R" + std::to_string(i));
    auto titles = [](const json& page) {
        std::vector<std::string> out;
        for (const auto& item : page["items"]) out.push_back(item["title"]);
        return out;
    };
    const auto all = json_of(get("/reports"));
    EXPECT_EQ(titles(all), (std::vector<std::string>{"R5", "R4", "R3", "R2", "R1"}));
    EXPECT_TRUE(all["next_cursor"].is_null());

    std::vector<std::string> seen;
    std::string target = "/reports?limit=2";
    int pages = 0;
    while (pages < 10) {
        const auto r = get(target);
        ASSERT_EQ(r.status, 200) << r.body;
        const auto page = json_of(r);
        ++pages;
        for (const auto& t : titles(page)) seen.push_back(t);
        if (page["next_cursor"].is_null()) break;
        EXPECT_EQ(page["items"].size(), 2u);
        target = "/reports?limit=2&cursor=" + page["next_cursor"].get<std::string>();
    }
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(seen, (std::vector<std::string>{"R5", "R4", "R3", "R2", "R1"}));
    EXPECT_EQ(titles(json_of(get("/reports?limit=100"))).size(), 5u);
}

TEST_F(RouterTest, FavoritesAreSetOneByOneOrReplaced) {
    const std::string id = create_report();
    const std::string base = "/reports/" + id + "/favorites";
    auto favorites = [&](const api::Response& r) {
        EXPECT_EQ(r.status, 200) << r.body;
        return json_of(r)["favorites"];
    };
    EXPECT_EQ(favorites(put(base + "/p1", {{"favorite", true}})), json({"p1"}));
    EXPECT_EQ(favorites(put(base + "/p1", {{"favorite", true}})), json({"p1"}));  // idempotent
    EXPECT_EQ(favorites(put(base + "/p2", {{"favorite", true}})), json({"p1", "p2"}));
    EXPECT_EQ(favorites(put(base + "/p1", {{"favorite", false}})), json({"p2"}));
    EXPECT_EQ(favorites(put(base + "/absent", {{"favorite", false}})), json({"p2"}));
    EXPECT_EQ(favorites(put(base, {{"favorites", {"x", "y", "x"}}})), json({"x", "y"}));
    EXPECT_EQ(json_of(get("/reports/" + id))["favorites"], json({"x", "y"}));
    EXPECT_EQ(favorites(put(base, {{"favorites", json::array()}})), json::array());
    EXPECT_TRUE(
        is_error(put("/reports/missing/favorites/p1", {{"favorite", true}}), 404, "not_found"));
    EXPECT_TRUE(
        is_error(put("/reports/missing/favorites", {{"favorites", {"p"}}}), 404, "not_found"));
}

TEST_F(RouterTest, ExportAsJsonIsAnAttachment) {
    json body = report_body("Weekly");
    body["favorites"] = {"p1", "p2"};
    const std::string id = json_of(post("/reports", body))["id"];
    for (const auto& target :
         {"/reports/" + id + "/export?format=json", "/reports/" + id + "/export"}) {
        const auto r = get(target);
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.headers.at("content-type"), "application/json");
        EXPECT_EQ(r.headers.at("content-disposition"),
                  "attachment; filename=\"report-" + id + ".json\"");
        const auto doc = json_of(r);
        EXPECT_EQ(doc["report"]["id"], id);
        EXPECT_EQ(doc["report"]["title"], "Weekly");
        EXPECT_EQ(doc["favorites"], json({"p1", "p2"}));
    }
}

TEST_F(RouterTest, ExportAsCsvEscapesFieldsAndNeutralisesFormulas) {
    const std::string title = "=HYPERLINK(\"http://evil.example\",\"open\")";
    const std::string author = "Smith, \"Jr\"\nsecond line";
    const std::vector<std::string> favs = {"p1", "p,\"2\"", "@SUM(A1)", "-1+2"};
    const auto created = post("/reports", {{"title", title},
                                           {"author", author},
                                           {"date", "2024-02-29"},
                                           {"reference", "r"},
                                           {"favorites", favs}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = json_of(created)["id"];

    const auto r = get("/reports/" + id + "/export?format=csv");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.headers.at("content-type").rfind("text/csv", 0), 0u);
    EXPECT_EQ(r.headers.at("content-disposition"),
              "attachment; filename=\"report-" + id + ".csv\"");
    const auto rows = parse_csv(r.body);
    ASSERT_EQ(rows.size(), 1 + favs.size()) << r.body;
    EXPECT_EQ(rows[0], (std::vector<std::string>{"report_id", "title", "author", "date",
                                                 "created_at", "product_id"}));
    const std::vector<std::string> products = {"p1", "p,\"2\"", "'@SUM(A1)", "'-1+2"};
    for (std::size_t i = 0; i < favs.size(); ++i) {
        const auto& row = rows[i + 1];
        ASSERT_EQ(row.size(), 6u) << r.body;
        EXPECT_EQ(row[0], id);
        EXPECT_EQ(row[1], "'" + title);  // a leading quote: no spreadsheet formula
        EXPECT_EQ(row[2], author);
        EXPECT_EQ(row[3], "2024-02-29");
        EXPECT_EQ(row[4], json_of(created)["created_at"]);
        EXPECT_EQ(row[5], products[i]);
    }

    // Without favorites: one row, empty product.
    const std::string plain = create_report("Plain");
    const auto one = parse_csv(get("/reports/" + plain + "/export?format=csv").body);
    ASSERT_EQ(one.size(), 2u);
    EXPECT_EQ(one[1][1], "Plain");
    EXPECT_EQ(one[1][5], "");
}

// OWASP (CSV Injection; ASVS 5.0 V1.2.10): a cell that starts with = + - @, a tab or a
// carriage return is read as a formula by some spreadsheet; each gets a leading quote.
TEST_F(RouterTest, ExportAsCsvNeutralisesLeadingTabsAndCarriageReturns) {
    const auto created = post("/reports", {{"title", "\t=1+1"},
                                           {"author", "\r=2+2"},
                                           {"date", "2024-01-01"},
                                           {"reference", 1},
                                           {"favorites", {"\t@SUM(A1)"}}});
    ASSERT_EQ(created.status, 201) << created.body;
    const std::string id = json_of(created)["id"];
    const auto rows = parse_csv(get("/reports/" + id + "/export?format=csv").body);
    ASSERT_EQ(rows.size(), 2u);
    ASSERT_EQ(rows[1].size(), 6u);
    EXPECT_EQ(rows[1][1], "'\t=1+1");
    EXPECT_EQ(rows[1][2], "'\r=2+2");
    EXPECT_EQ(rows[1][5], "'\t@SUM(A1)");
}

// /health needs no credentials and then says only whether the service is healthy; the
// bucket, key, local path and ETags are for administrators.
TEST_F(RouterTest, HealthToAnyoneIsTheStatusAlone) {
    for (const std::string& user : {std::string(), kUserA}) {
        const auto r = get("/health", user);
        ASSERT_EQ(r.status, 200) << r.body;
        EXPECT_EQ(r.body, R"({"status":"ok"})")
            << (user.empty() ? "anonymous" : "a signed-in user");
    }
    auto bad = request("GET", "/health", "", "");
    bad.headers["authorization"] = "Bearer not-a-token";
    const auto r = send(bad);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"status":"ok"})") << "bad credentials are ignored here";
}

TEST_F(RouterTest, HealthToAnAdministratorShowsTheDatabaseState) {
    auto r = get("/health", kAdmin);
    ASSERT_EQ(r.status, 200) << r.body;
    auto h = json_of(r);
    EXPECT_EQ(h["status"], "ok");
    const auto& d = h["database"];
    EXPECT_EQ(d["schema_version"], db::latest_schema_version(repo::k9_schema()));
    EXPECT_GT(d["local_bytes"].get<std::int64_t>(), 0);
    EXPECT_EQ(d["remote_etag"], snapshot_etag())
        << "journal mode: a new database starts with an empty snapshot";
    EXPECT_EQ(d["pending_writes"], 0);
    EXPECT_TRUE(d.contains("last_persist") && d["last_persist"].is_null());
    for (const char* field : {"persists", "conflicts", "failures"})
        EXPECT_EQ(h["persist"][field], 0) << field;
    EXPECT_TRUE(h["persist"]["last_error"].is_null());

    create_report();
    EXPECT_EQ(health()["database"]["pending_writes"], 1);
}

TEST_F(RouterTest, AdminRoutesAreForAdministratorsOnly) {
    EXPECT_TRUE(is_error(call("POST", "/admin/persist", "", ""), 401, "unauthorized"));
    const auto user = call("POST", "/admin/persist", "", kUserA);
    ASSERT_TRUE(is_error(user, 403, "forbidden"));
    EXPECT_NE(json_of(user)["error"]["message"].get<std::string>().find("k9-admins"),
              std::string::npos)
        << user.body;
    EXPECT_EQ(call("POST", "/admin/persist", "", kAdmin).status, 200);
}

TEST_F(RouterTest, AdminCallsAreRateLimited) {
    for (int i = 0; i < 6; ++i)
        ASSERT_EQ(call("POST", "/admin/persist", "", kAdmin).status, 200) << i;
    const auto r = call("POST", "/admin/persist", "", kAdmin);
    ASSERT_TRUE(is_error(r, 429, "rate_limited"));
    ASSERT_TRUE(r.headers.count("retry-after"));
    const int retry_after = std::stoi(r.headers.at("retry-after"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 10);
    EXPECT_EQ(call("POST", "/admin/persist", "", kUserA).status, 403)
        << "others are refused first, not counted";
}

TEST_F(RouterTest, AdminPersistUploadsOnceAndTheRemoteEtagFollows) {
    create_report("one");
    auto first = call("POST", "/admin/persist", "", kAdmin);
    ASSERT_EQ(first.status, 200) << first.body;
    const auto p1 = json_of(first);
    EXPECT_EQ(p1["persisted"], true);
    const std::string etag1 = p1["etag"];
    EXPECT_FALSE(etag1.empty());
    EXPECT_TRUE(std::filesystem::exists(snapshot_path()));
    auto h = health();
    EXPECT_EQ(h["database"]["remote_etag"], etag1);
    EXPECT_EQ(h["database"]["pending_writes"], 0);
    EXPECT_FALSE(h["database"]["last_persist"].is_null());
    EXPECT_EQ(h["persist"]["persists"], 1);

    EXPECT_EQ(json_of(call("POST", "/admin/persist", "", kAdmin))["persisted"],
              false);  // nothing new

    create_report("two");
    const auto p2 = json_of(call("POST", "/admin/persist", "", kAdmin));
    EXPECT_EQ(p2["persisted"], true);
    EXPECT_NE(p2["etag"], etag1);
    EXPECT_EQ(health()["database"]["remote_etag"], p2["etag"]);
}

// ---- isolation ------------------------------------------------------------------------

// ---- the response cache ------------------------------------------------------------------

// A kept answer is served only while the data it came from is unchanged: every write, by
// this copy or another one on the same store, is seen by the next read (staleness 0).
TEST_F(RouterTest, CachedReadsFollowEveryWriteFromThisCopyOrAnother) {
    auto& mine = service();
    auto& other = start(env("other"));
    auto read_name = [&] { return json_of(get("/user/profile"))["name"]; };
    auto hits = [&] { return mine.router().response_cache()->stats().hits; };
    ASSERT_EQ(patch("/user/profile", {{"name", "One"}}).status, 200);
    EXPECT_EQ(read_name(), "One");
    const auto before = hits();
    EXPECT_EQ(read_name(), "One");
    EXPECT_EQ(hits(), before + 1) << "the same read again is kept";

    auto by_other = request("PATCH", "/user/profile", json{{"name", "Two"}}.dump());
    ASSERT_EQ(other.router().handle(by_other).status, 200);
    EXPECT_EQ(read_name(), "Two") << "another copy's write";
    ASSERT_EQ(patch("/user/profile", {{"name", "Three"}}).status, 200);
    EXPECT_EQ(read_name(), "Three") << "this copy's write";

    const auto id = json_of(post("/reports", {{"title", "T"},
                                              {"author", "A"},
                                              {"date", "2024-01-01"},
                                              {"reference", json::object()}}))["id"]
                        .get<std::string>();
    EXPECT_EQ(json_of(get("/reports"))["items"].size(), 1u);
    EXPECT_EQ(json_of(get("/reports/" + id))["title"], "T");
    EXPECT_EQ(json_of(get("/reports?limit=1"))["items"].size(), 1u) << "the query is in the key";
    ASSERT_EQ(other.router().handle(request("DELETE", "/reports/" + id)).status, 204);
    EXPECT_EQ(json_of(get("/reports"))["items"].size(), 0u);
    EXPECT_TRUE(is_error(get("/reports/" + id), 404));
    EXPECT_TRUE(is_error(get("/user/profile", kUserB), 404)) << "never another user's answer";
}

// Read-your-writes through the cache under concurrency: while readers keep filling the
// cache with the same list, each writer's read right after its 201 contains its report.
// (A version moved after the acknowledgment would let a reader keep the list without it.)
// Within K9_MAX_STALENESS_MS a read does not look at the store, so nothing else orders it.
TEST_F(RouterTest, AReadAfterAnAcknowledgedWriteIsNeverAnOlderKeptAnswer) {
    auto vars = env();
    vars["K9_MAX_STALENESS_MS"] = "60000";  // reads skip the store: only the version orders them
    start(vars);
    std::atomic<bool> done{false};
    std::atomic<int> misses{0};
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) {
        readers.emplace_back([&] {
            while (!done) send(request("GET", "/reports?limit=100"));
        });
    }
    std::vector<std::thread> writers;
    for (int w = 0; w < 3; ++w) {
        writers.emplace_back([&, w] {
            for (int i = 0; i < 15; ++i) {
                const auto created =
                    send(request("POST", "/reports",
                                 json{{"title", std::to_string(w) + "-" + std::to_string(i)},
                                      {"author", "A"},
                                      {"date", "2024-01-01"},
                                      {"reference", json::object()}}
                                     .dump()));
                if (created.status != 201) {
                    ++misses;
                    continue;
                }
                const std::string id = json::parse(created.body)["id"];
                const auto list = json::parse(send(request("GET", "/reports?limit=100")).body);
                bool found = false;
                for (const auto& item : list["items"]) found = found || item["id"] == id;
                if (!found) ++misses;
            }
        });
    }
    for (auto& t : writers) t.join();
    done = true;
    for (auto& t : readers) t.join();
    EXPECT_EQ(misses, 0);
    EXPECT_EQ(json_of(get("/reports?limit=100"))["items"].size(), 45u);
}

TEST(ResponseCache, KeepsAnswersOfOneVersionWithinItsBound) {
    api::ResponseCache cache(64 * 1024);
    api::Response r;
    r.body = std::string(1000, 'x');
    cache.put("a", {1, 5}, r);
    EXPECT_TRUE(cache.get("a", {1, 5}).has_value());
    EXPECT_FALSE(cache.get("a", {1, 6}).has_value()) << "a newer seq";
    EXPECT_FALSE(cache.get("a", {1, 5}).has_value()) << "dropped at the mismatch";
    cache.put("a", {1, 5}, r);
    EXPECT_FALSE(cache.get("a", {2, 5}).has_value()) << "a new epoch";
    for (int i = 0; i < 200; ++i) cache.put("k" + std::to_string(i), {1, 1}, r);
    const auto s = cache.stats();
    EXPECT_LE(s.bytes, 64u * 1024);
    EXPECT_LT(s.entries, 200u);
    EXPECT_TRUE(cache.get("k199", {1, 1}).has_value()) << "the newest stay";
    EXPECT_FALSE(cache.get("k0", {1, 1}).has_value()) << "the oldest go";
    r.body = std::string(32 * 1024, 'y');
    cache.put("big", {1, 1}, r);
    EXPECT_FALSE(cache.get("big", {1, 1}).has_value()) << "one answer never takes over an eighth";
}

TEST_F(RouterTest, AnotherUsersReportIsNotFoundAndUnchanged) {
    ASSERT_EQ(patch("/user/profile", {{"name", "Ann"}}).status, 200);
    json body = report_body("A's");
    body["favorites"] = {"p1"};
    const std::string id = json_of(post("/reports", body))["id"];
    const std::string r = "/reports/" + id;
    const auto pending = health()["database"]["pending_writes"];

    EXPECT_TRUE(is_error(get(r, kUserB), 404, "not_found"));
    EXPECT_TRUE(is_error(patch(r, {{"title", "B's now"}}, kUserB), 404, "not_found"));
    EXPECT_TRUE(is_error(del(r, kUserB), 404, "not_found"));
    EXPECT_TRUE(is_error(put(r + "/favorites/p9", {{"favorite", true}}, kUserB), 404, "not_found"));
    EXPECT_TRUE(
        is_error(put(r + "/favorites/p1", {{"favorite", false}}, kUserB), 404, "not_found"));
    EXPECT_TRUE(
        is_error(put(r + "/favorites", {{"favorites", json::array()}}, kUserB), 404, "not_found"));
    EXPECT_TRUE(is_error(get(r + "/export?format=csv", kUserB), 404, "not_found"));
    EXPECT_TRUE(is_error(get(r + "/export?format=json", kUserB), 404, "not_found"));
    EXPECT_TRUE(is_error(get("/user/profile", kUserB), 404, "not_found"));
    const auto list = json_of(get("/reports", kUserB));
    EXPECT_EQ(list["items"], json::array());
    EXPECT_TRUE(list["next_cursor"].is_null());

    const auto mine = json_of(get(r));
    EXPECT_EQ(mine["title"], "A's");
    EXPECT_EQ(mine["favorites"], json({"p1"}));
    EXPECT_EQ(health()["database"]["pending_writes"], pending);  // B wrote nothing
}

// ---- validation -----------------------------------------------------------------------

struct BadRequest {
    std::string method, target, body;
    int status;
    std::string code;  // "" = any
};

std::string with_report(json base, const char* field, json value) {
    base[field] = std::move(value);
    return base.dump();
}

TEST_F(RouterTest, BadBodiesAreRefusedWith400AndWriteNothing) {
    const std::string id = create_report();
    const std::string rep = "/reports/" + id, fav = rep + "/favorites";
    ASSERT_EQ(patch("/user/profile", {{"name", "Ann"}}).status, 200);
    const auto pending = health()["database"]["pending_writes"];
    const json good = report_body();
    json many = json::array();
    for (int i = 0; i <= 10000; ++i) many.push_back("p" + std::to_string(i));
    auto bad_create = [&](const char* field, json value) {
        return BadRequest{"POST", "/reports", with_report(good, field, std::move(value)), 400,
                          "invalid_field"};
    };
    // A create body whose title is these raw bytes (spliced into the JSON text).
    auto raw_title = [](const std::string& bytes) {
        return R"({"title":")" + bytes + R"(","author":"a","date":"2024-01-01","reference":1})";
    };

    const std::vector<BadRequest> cases = {
        {"POST", "/reports", "{\"title\":", 400, "invalid_json"},
        {"POST", "/reports", "not json", 400, "invalid_json"},
        {"POST", "/reports", "[]", 400, "invalid_json"},
        {"POST", "/reports", "\"a string\"", 400, "invalid_json"},
        {"POST", "/reports", "42", 400, "invalid_json"},
        {"POST", "/reports", "null", 400, "invalid_json"},
        {"POST", "/reports", "", 400, "invalid_json"},
        {"POST", "/reports", std::string(100000, '['), 400, "invalid_json"},
        {"POST", "/reports", std::string(100000, '{'), 400, "invalid_json"},
        {"POST", "/reports",
         with_report(good, "reference", json::parse(std::string(40, '[') + std::string(40, ']'))),
         400, ""},
        {"POST", "/reports", raw_title("\xff\xfe"), 400, "invalid_json"},  // not UTF-8
        {"POST", "/reports", raw_title("\xc0\xaf"), 400, "invalid_json"},  // overlong '/'
        {"POST", "/reports", raw_title("\\ud800"), 400, "invalid_json"},   // lone surrogate
        bad_create("extra", 1),
        bad_create("user_id", "someone-else"),
        bad_create("title", 1),
        bad_create("title", true),
        bad_create("title", nullptr),
        bad_create("title", json::array({"t"})),
        bad_create("title", ""),
        bad_create("title", "   "),
        bad_create("title", std::string(1001, 'x')),
        bad_create("title", std::string("a\0b", 3)),
        bad_create("author", 7),
        bad_create("author", nullptr),
        bad_create("date", 20240501),
        bad_create("date", nullptr),
        bad_create("date", "2023-02-30"),
        bad_create("date", "01/02/2024"),
        bad_create("date", "2024-1-1"),
        bad_create("date", ""),
        bad_create("reference", nullptr),
        bad_create("favorites", "p1"),
        bad_create("favorites", nullptr),
        bad_create("favorites", json::object()),
        bad_create("favorites", json::array({1})),
        bad_create("favorites", json::array({nullptr})),
        bad_create("favorites", json::array({json::array({"p"})})),
        bad_create("favorites", json::array({""})),
        bad_create("favorites", json::array({"a/b"})),
        bad_create("favorites", json::array({std::string(257, 'p')})),
        bad_create("favorites", many),
        {"PATCH", rep, "[1]", 400, "invalid_json"},
        {"PATCH", rep, "", 400, "invalid_json"},
        {"PATCH", rep, R"({"title":5})", 400, "invalid_field"},
        {"PATCH", rep, R"({"title":null})", 400, "invalid_field"},
        {"PATCH", rep, R"({"title":""})", 400, "invalid_field"},
        {"PATCH", rep, R"({"author":[]})", 400, "invalid_field"},
        {"PATCH", rep, R"({"author":null})", 400, "invalid_field"},
        {"PATCH", rep, R"({"date":"2023-02-30"})", 400, "invalid_field"},
        {"PATCH", rep, R"({"date":null})", 400, "invalid_field"},
        {"PATCH", rep, R"({"reference":null})", 400, "invalid_field"},
        {"PATCH", rep, R"({"favorites":["p"]})", 400, "invalid_field"},
        {"PATCH", rep, R"({"id":"other"})", 400, "invalid_field"},
        {"PATCH", "/user/profile", "\"Ann\"", 400, "invalid_json"},
        {"PATCH", "/user/profile", "", 400, "invalid_json"},
        {"PATCH", "/user/profile", R"({"name":5})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"name":null})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"name":" "})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"email":5})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"email":"not-an-email"})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"avatar_url":7})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"avatar_url":"ftp://x"})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"preferences":[1]})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"preferences":"dark"})", 400, "invalid_field"},
        {"PATCH", "/user/profile", R"({"user_id":"someone"})", 400, "invalid_field"},
        {"PUT", fav + "/p1", "", 400, "invalid_json"},
        {"PUT", fav + "/p1", "{}", 400, "invalid_field"},
        {"PUT", fav + "/p1", "true", 400, "invalid_json"},
        {"PUT", fav + "/p1", R"({"favorite":"true"})", 400, "invalid_field"},
        {"PUT", fav + "/p1", R"({"favorite":1})", 400, "invalid_field"},
        {"PUT", fav + "/p1", R"({"favorite":null})", 400, "invalid_field"},
        {"PUT", fav + "/p1", R"({"favorite":true,"note":"x"})", 400, "invalid_field"},
        {"PUT", fav + "/" + std::string(300, 'p'), R"({"favorite":true})", 400, "invalid_field"},
        {"PUT", fav, "", 400, "invalid_json"},
        {"PUT", fav, "{}", 400, "invalid_field"},
        {"PUT", fav, R"({"favorites":"p1"})", 400, "invalid_field"},
        {"PUT", fav, R"({"favorites":[1]})", 400, "invalid_field"},
        {"PUT", fav, R"({"favorites":null})", 400, "invalid_field"},
        {"PUT", fav, R"({"favorites":[["a"]]})", 400, "invalid_field"},
        {"PUT", fav, json{{"favorites", many}}.dump(), 400, "invalid_field"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.method + " " + c.target.substr(0, 80) + " " + c.body.substr(0, 120));
        EXPECT_TRUE(is_error(call(c.method, c.target, c.body), c.status, c.code));
    }
    EXPECT_EQ(health()["database"]["pending_writes"], pending);
    EXPECT_EQ(json_of(get(rep))["title"], "Weekly");
}

// Bodies are strict JSON: a key given twice is refused (RFC 8259 leaves it undefined, and
// two parsers picking different ones is how a check is smuggled past), naming the key.
TEST_F(RouterTest, DuplicateKeysAreRefusedNamingTheKey) {
    const struct {
        std::string method, target, body, key;
    } cases[] = {
        {"POST", "/reports",
         R"({"title":"a","title":"b","author":"x","date":"2024-01-01","reference":1})", "title"},
        {"POST", "/reports",
         R"({"title":"a","author":"x","date":"2024-01-01","reference":{"k":1,"k":2}})", "k"},
        {"PATCH", "/user/profile", R"({"name":"Ann","email":"a@b.c","name":"Bob"})", "name"},
        {"PATCH", "/user/profile", R"({"preferences":{"theme":"dark","x":{"a":1,"a":1}}})", "a"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.body);
        const auto r = call(c.method, c.target, c.body);
        ASSERT_TRUE(is_error(r, 400, "invalid_json"));
        EXPECT_NE(json_of(r)["error"]["message"].get<std::string>().find("'" + c.key + "'"),
                  std::string::npos)
            << r.body;
    }
    // The same key in two different objects is no duplicate.
    EXPECT_EQ(
        call(
            "POST", "/reports",
            R"({"title":"a","author":"x","date":"2024-01-01","reference":{"title":1,"o":{"title":2}}})")
            .status,
        201);
}

TEST_F(RouterTest, BoundaryValuesAreAccepted) {
    EXPECT_EQ(
        post("/reports", {{"title", std::string(1000, 'x')},
                          {"author", "a"},
                          {"date", "2024-02-29"},
                          {"reference", json::parse(std::string(20, '[') + std::string(20, ']'))}})
            .status,
        201);
    json many = json::array();
    for (int i = 0; i < 10000; ++i) many.push_back("p" + std::to_string(i));
    const std::string id = create_report();
    EXPECT_EQ(
        json_of(put("/reports/" + id + "/favorites", {{"favorites", many}}))["favorites"].size(),
        10000u);
    EXPECT_EQ(get("/reports?limit=1").status, 200);
    EXPECT_EQ(get("/reports?limit=100").status, 200);
}

TEST_F(RouterTest, BadQueriesAreRefusedWith400) {
    const std::string id = create_report();
    const std::vector<std::string> queries = {"limit=0",
                                              "limit=101",
                                              "limit=abc",
                                              "limit=-1",
                                              "limit=",
                                              "limit=1.5",
                                              "limit=99999999999999999999999",
                                              "cursor=garbage!",
                                              "cursor=",
                                              "cursor=" + base64url_encode("no-separator"),
                                              "cursor=" + base64url_encode(":x"),
                                              "cursor=" + base64url_encode("12x:y"),
                                              "cursor=" + base64url_encode("abc:x")};
    for (const auto& q : queries) {
        EXPECT_TRUE(is_error(get("/reports?" + q), 400, "invalid_field")) << q;
    }
    for (const std::string f : {"xml", "", "CSV", "csv;"}) {
        EXPECT_TRUE(is_error(get("/reports/" + id + "/export?format=" + f), 400, "invalid_field"))
            << f;
    }
}

TEST_F(RouterTest, ForgedCursorsNeverCauseAServerError) {
    create_report();
    for (const std::string text :
         {"9223372036854775807:z", "-9223372036854775807:z", "1:\xff\xfe", "1:\x01"}) {
        EXPECT_TRUE(client_outcome(get("/reports?cursor=" + base64url_encode(text)))) << text;
    }
}

TEST_F(RouterTest, UnknownRoutesAre404AndWrongMethods405WithAllow) {
    for (const std::string& path :
         std::vector<std::string>{"/", "", "/nope", "/user", "/users/profile", "/reports/a/b/c/d",
                                  "reports", "/health/x", "/" + std::string(100000, 'x')}) {
        const auto r = call("GET", path);
        EXPECT_TRUE(is_error(r, 404, "not_found")) << path.substr(0, 40);
        EXPECT_LT(r.body.size(), 1000u) << "the message echoes a bounded part of the path";
    }
    const std::string id = create_report();
    const std::vector<std::tuple<std::string, std::string, std::string>> wrong = {
        {"DELETE", "/user/profile", "GET, PATCH"},
        {"PUT", "/reports", "GET, POST"},
        {"POST", "/reports/" + id, "GET, PATCH, DELETE"},
        {"GET", "/reports/" + id + "/favorites", "PUT"},
        {"DELETE", "/reports/" + id + "/favorites/p1", "PUT"},
        {"POST", "/reports/" + id + "/export", "GET"},
        {"POST", "/health", "GET"},
        {"GET", "/admin/persist", "POST"},
        {"get", "/health", "GET"},
    };
    for (const auto& [method, path, allow] : wrong) {
        const auto r = call(method, path);
        EXPECT_TRUE(is_error(r, 405, "method_not_allowed")) << method << " " << path;
        EXPECT_EQ(r.headers.count("allow") ? r.headers.at("allow") : "", allow)
            << method << " " << path;
    }
}

TEST_F(RouterTest, TrailingSlashesAndOddSegmentsAreHandled) {
    const std::string id = create_report();
    EXPECT_EQ(get("/reports/").status, 200);
    EXPECT_EQ(get("/health/", "").status, 200);
    EXPECT_EQ(json_of(get("/reports/" + id + "/"))["id"], id);
    EXPECT_EQ(call("PUT", "/reports/" + id + "/favorites/p1/", R"({"favorite":true})").status, 200);
    EXPECT_TRUE(is_error(get("/reports//"), 404));
    EXPECT_TRUE(is_error(get("/reports/a%2Fb"), 404));  // an undecoded %2F: just an unknown id
    EXPECT_TRUE(is_error(get("/reports/a/b"), 404));    // a decoded one: no such route
    EXPECT_TRUE(is_error(get("/reports/" + std::string(10000, 'a')), 400));  // id longer than 256
    EXPECT_TRUE(
        client_outcome(call("PUT", "/reports/" + id + "/favorites/a%2Fb", R"({"favorite":true})")));
    EXPECT_TRUE(client_outcome(get("/reports/" + std::string(100000, 'a') + "/export")));
}

TEST_F(RouterTest, InvalidUtf8InThePathIsAClientError) {
    const std::string id = create_report();
    EXPECT_TRUE(client_outcome(get("/reports/\xff\xfe")));
    EXPECT_TRUE(client_outcome(del("/reports/\xc3")));
    EXPECT_TRUE(
        client_outcome(call("PUT", "/reports/" + id + "/favorites/\xff", R"({"favorite":true})")));
    EXPECT_TRUE(client_outcome(get("/nope/\xff")));
    EXPECT_EQ(json_of(get("/reports/" + id))["favorites"], json::array());
}

// ---- automatic persistence --------------------------------------------------------------

TEST_F(RouterTest, PersistsAfterTheConfiguredNumberOfWrites) {
    auto vars = env();
    vars["K9_PERSIST_WRITES"] = "3";
    vars["K9_PERSIST_INTERVAL"] = "86400";
    auto& s = start(vars);
    const std::string empty = snapshot_etag();
    ASSERT_EQ(patch("/user/profile", {{"name", "Ann"}}).status, 200);
    const std::string id = create_report();
    EXPECT_TRUE(is_error(post("/reports", {{"title", 1}}), 400));  // refused: not a write
    s.persist().maybe_persist();
    EXPECT_EQ(snapshot_etag(), empty);
    EXPECT_EQ(health()["database"]["pending_writes"], 2);

    ASSERT_EQ(put("/reports/" + id + "/favorites/p1", {{"favorite", true}}).status, 200);
    s.persist().maybe_persist();
    EXPECT_NE(snapshot_etag(), empty);
    const auto h = health();
    EXPECT_EQ(h["database"]["pending_writes"], 0);
    EXPECT_EQ(h["persist"]["persists"], 1);
    EXPECT_EQ(h["status"], "ok");
}

TEST_F(RouterTest, PersistsWhenWritesHaveWaitedForTheInterval) {
    auto vars = env();
    vars["K9_PERSIST_WRITES"] = "1000";
    vars["K9_PERSIST_INTERVAL"] = "60";
    auto& s = start(vars);
    const std::string empty = snapshot_etag();
    create_report();
    s.persist().maybe_persist();
    clock_.advance_seconds(59);
    s.persist().maybe_persist();
    EXPECT_EQ(snapshot_etag(), empty);
    clock_.advance_seconds(2);
    s.persist().maybe_persist();
    EXPECT_NE(snapshot_etag(), empty);
    EXPECT_EQ(health()["database"]["pending_writes"], 0);
}

// Persist conflicts exist in snapshot mode only (the journal holds every write).
TEST_F(RouterTest, AConflictIsCountedShownAndKeepsTheWritesPending) {
    durability_ = "snapshot";
    auto vars = env();
    vars["K9_PERSIST_WRITES"] = "3";
    vars["K9_PERSIST_INTERVAL"] = "86400";
    auto& s = start(vars);
    auto store = std::make_shared<store::FileStore>(tmp_ / "store");
    std::string other_etag;
    {  // Another container persists to the same key first.
        std::filesystem::create_directories(tmp_ / "other");
        auto other = test::make_manager(tmp_ / "other" / "k9.db", store);
        repo::UserRepository(*other).upsert_profile("someone", {"Someone", {}, {}, {}});
        other_etag = other->persist().etag;
    }
    ASSERT_EQ(patch("/user/profile", {{"name", "Ann"}}).status, 200);
    create_report("one");
    create_report("two");
    clock_.advance_seconds(1);
    s.persist().maybe_persist();  // never throws

    auto h = health();
    EXPECT_EQ(h["status"], "degraded");
    EXPECT_EQ(h["persist"]["conflicts"], 1);
    EXPECT_TRUE(h["persist"]["last_error"].is_string() &&
                !h["persist"]["last_error"].get<std::string>().empty());
    EXPECT_EQ(h["database"]["pending_writes"], 3);
    EXPECT_EQ(store->head(test::kSnapshotKey).etag, other_etag);  // nothing overwritten
    EXPECT_EQ(json_of(get("/user/profile"))["name"], "Ann");      // still served locally

    EXPECT_TRUE(is_error(call("POST", "/admin/persist", "", kAdmin), 409, "persist_conflict"));
    h = health();
    EXPECT_EQ(h["persist"]["conflicts"], 2);
    EXPECT_EQ(h["database"]["pending_writes"], 3);
    EXPECT_EQ(store->head(test::kSnapshotKey).etag, other_etag);
}

TEST_F(RouterTest, AConflictAfterAnEarlierPersistStillShowsDegraded) {
    durability_ = "snapshot";
    create_report("one");
    ASSERT_EQ(call("POST", "/admin/persist", "", kAdmin).status, 200);
    EXPECT_EQ(health()["status"], "ok");
    {  // Another container starts from that snapshot and moves the remote on.
        std::filesystem::create_directories(tmp_ / "other");
        auto other = test::make_manager(tmp_ / "other" / "k9.db",
                                        std::make_shared<store::FileStore>(tmp_ / "store"));
        repo::UserRepository(*other).upsert_profile("someone", {"Someone", {}, {}, {}});
        other->persist();
    }
    create_report("two");
    clock_.advance_seconds(1);
    EXPECT_TRUE(is_error(call("POST", "/admin/persist", "", kAdmin), 409, "persist_conflict"));
    const auto h = health();
    EXPECT_EQ(h["status"], "degraded");
    EXPECT_EQ(h["persist"]["conflicts"], 1);
    EXPECT_EQ(h["database"]["pending_writes"], 1);
}

// ---- server errors ----------------------------------------------------------------------

// A store whose writes fail, while it is set to, the way an S3 client's would: with a
// message naming the bucket, the key and what the client could not parse. Everything
// else reaches a file store.
class FailingWritesStore final : public store::ObjectStore {
  public:
    static constexpr const char* kMessage =
        "PUT s3://k9-secret-bucket/databases/k9_api_test.db.journal/00000000000000000002 failed: "
        "SlowDown (request id 4442587FB7D0A2F9); parse error in the response body at byte 17";

    explicit FailingWritesStore(const std::filesystem::path& root)
        : inner_(std::make_shared<store::FileStore>(root)) {}
    void fail_writes(bool on) { failing_ = on; }

    store::ObjectInfo get_file(const std::string& key, const std::filesystem::path& dest,
                               const store::GetOptions& options = {}) override {
        return inner_->get_file(key, dest, options);
    }
    std::string get_bytes(const std::string& key, store::ObjectInfo* info = nullptr) override {
        return inner_->get_bytes(key, info);
    }
    store::ObjectInfo put_file(const std::filesystem::path& src, const std::string& key,
                               const store::PutOptions& options = {}) override {
        check_write();
        return inner_->put_file(src, key, options);
    }
    store::ObjectInfo put_bytes(std::string_view bytes, const std::string& key,
                                const store::PutOptions& options = {}) override {
        check_write();
        return inner_->put_bytes(bytes, key, options);
    }
    store::ObjectInfo head(const std::string& key) override { return inner_->head(key); }
    std::vector<store::ObjectInfo> list(const std::string& prefix,
                                        const std::string& start_after = {},
                                        std::size_t max_keys = 0) override {
        return inner_->list(prefix, start_after, max_keys);
    }
    void remove(const std::string& key) override { inner_->remove(key); }
    std::vector<store::VersionInfo> list_versions(const std::string& key) override {
        return inner_->list_versions(key);
    }
    std::vector<store::VersionInfo> list_all_versions(const std::string& prefix) override {
        return inner_->list_all_versions(prefix);
    }
    std::string url_for(const std::string& key) const override { return inner_->url_for(key); }
    std::string display_name() const override { return inner_->display_name(); }

  private:
    void check_write() const {
        if (failing_) throw store::StoreError(store::ErrorKind::Transient, kMessage);
    }

    std::shared_ptr<store::FileStore> inner_;
    std::atomic<bool> failing_{false};
};

// A Router built as api::Service builds its own, over a store the test chooses.
struct RouterOver {
    RouterOver(const config::Config& config, std::shared_ptr<store::ObjectStore> store, Clock clock)
        : manager(api::manager_options(config), std::move(store)),
          users(manager, clock),
          reports(manager, clock),
          auth(config.api, clock),
          persist(manager, api::PersistPolicy{0, 0}, clock),
          router(api::RouteContext{manager, users, reports, persist}, auth) {
        manager.open();
    }
    db::DatabaseManager manager;
    repo::UserRepository users;
    repo::ReportRepository reports;
    api::Authenticator auth;
    api::AutoPersist persist;
    api::Router router;
};

// A server error's body: exactly a code, a message and the request id.
::testing::AssertionResult is_quiet_server_error(const api::Response& r, int status,
                                                 const std::string& code,
                                                 const std::string& request_id) {
    if (auto shape = is_error(r, status, code); !shape) return shape;
    const auto e = json_of(r)["error"];
    if (e.size() != 3 || e.value("request_id", "") != request_id) {
        return ::testing::AssertionFailure()
               << "want only code, message and request_id " << request_id << "; got " << r.body;
    }
    return ::testing::AssertionSuccess();
}

TEST_F(RouterTest, AStoreFailureIs503WithoutTheStoresMessageWhichIsLogged) {
    const auto store = std::make_shared<FailingWritesStore>(tmp_ / "store");
    RouterOver api(config::load_config(k9::map_env(env()), tmp_.path()), store, clock_.clock());
    store->fail_writes(true);
    test::LogCapture logs;
    const auto sent = request("POST", "/reports", report_body().dump());
    const auto r = api.router.handle(sent);

    EXPECT_TRUE(is_quiet_server_error(r, 503, "store_unavailable", sent.request_id));
    EXPECT_EQ(json_of(r)["error"]["message"], "the database store is unavailable; retry shortly");
    for (const char* secret : {"k9-secret-bucket", "k9_api_test.db", "journal", "parse error",
                               "SlowDown", "4442587FB7D0A2F9"}) {
        EXPECT_EQ(r.body.find(secret), std::string::npos) << secret << " in " << r.body;
    }
    EXPECT_EQ(r.headers.at("x-request-id"), sent.request_id);
    bool logged = false;
    for (const auto& l : logs.lines()) {
        if (l.value("message", "") != "Request failed") continue;
        logged = true;
        EXPECT_EQ(l["request_id"], sent.request_id);
        EXPECT_EQ(l["route"], "POST /reports");
        EXPECT_EQ(l["error"], FailingWritesStore::kMessage);
        EXPECT_EQ(l["error_kind"], "Transient");
        EXPECT_EQ(l["level"], "WARN");
    }
    EXPECT_TRUE(logged) << "the store's message must reach the log";

    store->fail_writes(false);
    EXPECT_EQ(api.router.handle(request("POST", "/reports", report_body().dump())).status, 201);
}

TEST_F(RouterTest, AnUnavailableCopyIs503WithItsCodeAndHintOnly) {
    create_report("one");
    {  // The next journal entry is damaged: this copy cannot read the journal to the end.
        store::FileStore store(tmp_ / "store");
        db::Journal journal(store, test::kSnapshotKey);
        const int partition = service().manager().partition_of(test::kUserA);
        const auto seqs = journal.list(partition, 0);
        ASSERT_FALSE(seqs.empty());
        store.put_bytes("{not json", journal.key(partition, seqs.back() + 1));
    }
    test::LogCapture logs;
    const auto sent = request("GET", "/reports");
    const auto r = send(sent);

    EXPECT_TRUE(is_quiet_server_error(r, 503, "journal_corrupt", sent.request_id));
    EXPECT_EQ(json_of(r)["error"]["message"],
              "the database's journal is damaged; an operator must repair it");
    for (const char* secret : {"k9_api_test.db", "journal/", "parse error", "file://"}) {
        EXPECT_EQ(r.body.find(secret), std::string::npos) << secret << " in " << r.body;
    }
    bool logged = false;
    for (const auto& l : logs.lines()) {
        if (l.value("message", "") != "Request failed") continue;
        logged = true;
        EXPECT_EQ(l["request_id"], sent.request_id);
        EXPECT_EQ(l["code"], "journal_corrupt");
        EXPECT_EQ(l["error_kind"], "Unavailable");
        EXPECT_NE(l.value("error", "").find("parse error"), std::string::npos) << l.dump();
    }
    EXPECT_TRUE(logged) << "the details must reach the log";
}

TEST_F(RouterTest, ClientErrorsKeepTheirMessageAndCarryTheRequestId) {
    const auto sent = request("GET", "/reports/no-such-report");
    const auto r = send(sent);
    ASSERT_TRUE(is_error(r, 404, "not_found"));
    EXPECT_EQ(json_of(r)["error"]["request_id"], sent.request_id);
    EXPECT_NE(json_of(r)["error"]["message"].get<std::string>().find("no-such-report"),
              std::string::npos);
}

// ---- request log ------------------------------------------------------------------------

TEST_F(RouterTest, OneRequestLineEachWithoutTokensOrBodies) {
    const std::string id = create_report();
    test::LogCapture logs;
    std::vector<api::Request> sent = {
        request("GET", "/reports/" + id),
        request("POST", "/reports", with_report(report_body(), "title", "BODY-MARKER-title")),
        request("PATCH", "/user/profile", R"({"name":"BODY-MARKER-name","nope":1})"),
        request("GET", "/health", "", ""),
        request("GET", "/no/such/route"),
        request("GET", "/reports", "", ""),
    };
    std::vector<api::Response> got;
    for (const auto& r : sent) got.push_back(send(r));

    std::vector<json> lines;
    for (const auto& l : logs.lines()) {
        const std::string text = l.dump();
        for (const auto& r : sent) {
            if (r.headers.count("authorization")) {
                const std::string bearer = r.headers.at("authorization").substr(7);
                EXPECT_EQ(text.find(bearer), std::string::npos) << "a token in the log: " << text;
                EXPECT_EQ(text.find(bearer.substr(bearer.rfind('.') + 1)), std::string::npos)
                    << text;
            }
        }
        EXPECT_EQ(text.find("BODY-MARKER"), std::string::npos) << "a body in the log: " << text;
        if (l.value("message", "") == "request") lines.push_back(l);
    }
    ASSERT_EQ(lines.size(), sent.size());
    const std::vector<std::pair<std::string, int>> want = {{"GET /reports/{reportId}", 200},
                                                           {"POST /reports", 201},
                                                           {"PATCH /user/profile", 400},
                                                           {"GET /health", 200},
                                                           {"(none)", 404},
                                                           {"GET /reports", 401}};
    for (std::size_t i = 0; i < lines.size(); ++i) {
        SCOPED_TRACE(sent[i].method + " " + sent[i].path);
        const auto& l = lines[i];
        EXPECT_EQ(l["method"], sent[i].method);
        EXPECT_EQ(l["route"], want[i].first);
        EXPECT_EQ(l["status"], want[i].second);
        EXPECT_EQ(l["status"], got[i].status);
        EXPECT_TRUE(l["duration_ms"].is_number() && l["duration_ms"].get<double>() >= 0);
        EXPECT_EQ(l["request_id"], sent[i].request_id);
        const std::string user = l.value("user", "");
        if (i < 3) {  // authenticated: a hash, not the id
            EXPECT_FALSE(user.empty());
            EXPECT_EQ(user.find(kUserA), std::string::npos);
        } else {
            EXPECT_TRUE(user.empty()) << user;
        }
    }
    EXPECT_EQ(lines[0]["user"], lines[1]["user"]);  // the same user, the same hash
}

}  // namespace
}  // namespace k9
