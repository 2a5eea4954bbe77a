// Every route's input validation, through the real Router: an api::Service on a file store
// in a scratch folder (snapshot durability, no automatic persistence), built once and reused,
// with requests from a user holding a valid HS256 token.
//
// Input: byte 0 picks the route and flags, the rest is split into lines as the route needs:
//   route = byte0 & 7:
//     0 PATCH /user/profile                       body
//     1 POST  /reports                            body
//     2 PATCH /reports/{id}                       [id\n] body
//     3 PUT   /reports/{id}/favorites/{product}   [id\n] product\n body
//     4 PUT   /reports/{id}/favorites             [id\n] body
//     5 GET   /reports?limit=&cursor=             limit\n cursor
//     6 GET   /reports/{id}/export?format=        [id\n] format
//     7 GET   /reports/{id}                       [id\n]
//   byte0 & 0x08: the report id comes from the input ([id\n]); otherwise it is a report that
//                 exists (so validation past "not found" is reached)
//   byte0 & 0x10: leave out the limit parameter; byte0 & 0x20: leave out cursor / format
// Path parts arrive as the front doors hand them over: already percent-decoded, any bytes.
//
// "No input may cause a 500 or a crash" (issue 7): the answer must have a documented status
// (200, 201, 204, 400, 403, 404, 405, 409, 413, 429), and every error must be the documented JSON
// {"error":{"code":..,"message":..}} with content-type application/json.

#include <filesystem>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "api/jwt.hpp"
#include "api/service.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "config/config.hpp"
#include "fuzz_target.hpp"

namespace {

using k9::fuzz::check;
using nlohmann::json;
namespace api = k9::api;

constexpr const char* kSecret = "fuzz-request-secret-0123456789abcdef-01";
constexpr const char* kUser = "fuzz-user";
// The database grows with every report created; start afresh now and then.
constexpr std::size_t kInputsPerService = 20000;

class Harness {
  public:
    Harness() {
        k9::log::set_threshold(k9::log::Level::Error);  // a 500 still logs why
        const std::int64_t now_s = k9::system_now() / 1'000'000;
        constexpr std::int64_t kTenYears = 10LL * 365 * 86400;
        token_ =
            "Bearer " +
            api::mint_hs256({{"sub", kUser}, {"iat", now_s}, {"exp", now_s + kTenYears}}, kSecret);
    }

    api::Router& router() {
        if (!service_ || ++inputs_ % kInputsPerService == 0) start();
        return service_->router();
    }
    const std::string& report_id() const { return report_id_; }
    const std::string& authorization() const { return token_; }

  private:
    void start() {
        service_.reset();
        const std::filesystem::path db_dir = dir_.path() / "db";
        const std::filesystem::path store_dir = dir_.path() / "store";
        std::filesystem::remove_all(db_dir);
        std::filesystem::remove_all(store_dir);
        std::filesystem::create_directories(db_dir);
        const auto env = k9::map_env({{"K9_DB_PATH", (db_dir / "k9.db").string()},
                                      {"K9_STORE_URL", "file://" + store_dir.string()},
                                      {"K9_JWT_SECRET", kSecret},
                                      {"K9_DURABILITY", "snapshot"},
                                      {"K9_PERSIST_WRITES", "0"},
                                      {"K9_PERSIST_INTERVAL", "0"}});
        service_ = std::make_unique<api::Service>(k9::config::load_config(env, dir_.path()), env);
        service_->open();

        api::Request create;
        create.method = "POST";
        create.path = "/reports";
        create.headers["authorization"] = token_;
        create.body = R"({"title":"Weekly","author":"Ann","date":"2024-05-01",)"
                      R"("reference":{"product":"p1"},"favorites":["p1","p2"]})";
        const api::Response created = service_->router().handle(create);
        check(created.status == 201, "the fuzz harness cannot create its report", created.body);
        report_id_ = json::parse(created.body).at("id").get<std::string>();
    }

    k9::fuzz::ScratchDir dir_{"k9-fuzz-api"};
    std::unique_ptr<api::Service> service_;  // destroyed before dir_
    std::string token_;
    std::string report_id_;
    std::size_t inputs_ = 0;
};

// The next line of `rest` (without its '\n'); all of it when there is no '\n'.
std::string take_line(std::string_view& rest) {
    const std::size_t nl = rest.find('\n');
    std::string line(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    return line;
}

void check_response(const api::Request& request, const api::Response& response) {
    const std::string what = request.method + " " + request.path + " -> " +
                             std::to_string(response.status) + " " + response.body;
    const int s = response.status;
    check(s == 200 || s == 201 || s == 204 || s == 400 || s == 403 || s == 404 || s == 405 ||
              s == 409 || s == 413 || s == 429,
          "the Router answered with an undocumented status (500: the bug issue 7 forbids)", what);
    const auto type = response.headers.find("content-type");
    const bool json_type = type != response.headers.end() && type->second == "application/json";
    if (s < 400) {
        if (json_type) {
            check(!json::parse(response.body, nullptr, false).is_discarded(),
                  "a JSON answer is not JSON", what);
        }
        return;
    }
    check(json_type, "an error answer is not application/json", what);
    const json body = json::parse(response.body, nullptr, false);
    check(body.is_object() && body.contains("error") && body["error"].is_object(),
          "an error answer is not {\"error\":{...}}", what);
    const json& error = body["error"];
    check(error.contains("code") && error["code"].is_string() && error.contains("message") &&
              error["message"].is_string() && !error["message"].get<std::string>().empty(),
          "an error answer lacks a string code or a message", what);
}

}  // namespace

K9_FUZZ_TARGET(data, size) {
    if (size == 0) return 0;
    static Harness harness;
    api::Router& router = harness.router();

    const std::uint8_t selector = data[0];
    std::string_view rest = k9::fuzz::as_text(data + 1, size - 1);
    const int route = selector & 7;
    const bool fuzzed_id = (selector & 0x08) != 0;
    const bool omit_first = (selector & 0x10) != 0;
    const bool omit_second = (selector & 0x20) != 0;

    api::Request request;
    request.headers["authorization"] = harness.authorization();
    request.request_id = "fuzz";
    const std::string id =
        (fuzzed_id && route >= 2 && route != 5) ? take_line(rest) : harness.report_id();
    switch (route) {
        case 0:
            request.method = "PATCH";
            request.path = "/user/profile";
            break;
        case 1:
            request.method = "POST";
            request.path = "/reports";
            break;
        case 2:
            request.method = "PATCH";
            request.path = "/reports/" + id;
            break;
        case 3:
            request.method = "PUT";
            request.path = "/reports/" + id + "/favorites/" + take_line(rest);
            break;
        case 4:
            request.method = "PUT";
            request.path = "/reports/" + id + "/favorites";
            break;
        case 5: {
            request.method = "GET";
            request.path = "/reports";
            std::string limit = take_line(rest);
            if (!omit_first) request.query.emplace("limit", std::move(limit));
            if (!omit_second) request.query.emplace("cursor", std::string(rest));
            rest = {};
            break;
        }
        case 6:
            request.method = "GET";
            request.path = "/reports/" + id + "/export";
            if (!omit_second) request.query.emplace("format", std::string(rest));
            rest = {};
            break;
        default:
            request.method = "GET";
            request.path = "/reports/" + id;
            break;
    }
    request.body = std::string(rest);
    if (!request.body.empty()) request.headers["content-type"] = "application/json";

    check_response(request, router.handle(request));
    return 0;
}
