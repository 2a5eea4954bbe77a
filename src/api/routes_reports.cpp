// /reports and everything below it: list, create, read, change, delete, favorites, export.
#include <charconv>

#include "api/body.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"

namespace k9::api {
namespace {

std::size_t parse_limit(const Request& request) {
    const auto text = request.query_param("limit");
    if (!text) return repo::kDefaultPageSize;
    std::size_t value = 0;
    const auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (ec != std::errc() || end != text->data() + text->size()) {
        throw ApiError(400, "invalid_field", "limit must be a whole number");
    }
    return value;  // the repository checks the range
}

// One CSV field (RFC 4180). A leading = + - @ tab or carriage return is neutralised
// with a quote so that spreadsheets do not run the field as a formula (OWASP).
std::string csv(const std::string& v) {
    std::string s = v;
    if (!s.empty() && std::string_view("=+-@\t\r").find(s[0]) != std::string_view::npos)
        s.insert(0, "'");
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    return out + "\"";
}

Response export_report(const repo::Report& r, const std::string& format) {
    Response resp;
    resp.status = 200;
    if (format == "json") {
        resp.headers["content-type"] = "application/json";
        resp.headers["content-disposition"] = "attachment; filename=\"report-" + r.id + ".json\"";
        resp.body = dump({{"report", r.to_json()}, {"favorites", r.favorites}});
        return resp;
    }
    resp.headers["content-type"] = "text/csv; charset=utf-8";
    resp.headers["content-disposition"] = "attachment; filename=\"report-" + r.id + ".csv\"";
    std::string out = "report_id,title,author,date,created_at,product_id\r\n";
    const std::string row = csv(r.id) + "," + csv(r.title) + "," + csv(r.author) + "," +
                            csv(r.date) + "," + csv(format_iso8601(r.created_at)) + ",";
    if (r.favorites.empty()) out += row + "\r\n";
    for (const auto& product : r.favorites) out += row + csv(product) + "\r\n";
    resp.body = std::move(out);
    return resp;
}

repo::Report must_find(RouteContext& s, const Call& c) {
    auto r = s.reports.get(c.user, c.params.at("reportId"));
    if (!r)
        throw ApiError(404, "not_found",
                       "report " + c.params.at("reportId").substr(0, 64) + " not found");
    return *r;
}

}  // namespace

void add_report_routes(std::vector<Route>& routes) {
    routes.push_back(
        {.method = "GET",
         .pattern = "/reports",
         .access = Access::User,
         .fresh_partition = true,
         .cacheable = true,
         .handler = [](RouteContext& s, const Call& c) {
             const auto page = s.reports.list_for_user(c.user, parse_limit(c.request),
                                                       c.request.query_param("cursor"));
             nlohmann::json items = nlohmann::json::array();
             for (const auto& r : page.items) items.push_back(r.to_json());
             return json_response(
                 200, dump({{"items", items},
                            {"next_cursor", page.next_cursor ? nlohmann::json(*page.next_cursor)
                                                             : nlohmann::json(nullptr)}}));
         }});
    routes.push_back(
        {.method = "POST",
         .pattern = "/reports",
         .access = Access::User,
         .writes = true,
         .handler = [](RouteContext& s, const Call& c) {
             const Body body(c.request, {"title", "author", "date", "reference", "favorites"});
             repo::NewReport report{body.string("title"),
                                    body.string("author"),
                                    body.string("date"),
                                    body.value("reference"),
                                    {}};
             if (body.has("favorites")) report.favorites = body.string_list("favorites");
             const auto created = s.reports.create(c.user, report);
             Response r = json_response(201, dump(created.to_json()));
             r.headers["location"] = "/reports/" + created.id;
             return r;
         }});
    routes.push_back({.method = "GET",
                      .pattern = "/reports/{reportId}",
                      .access = Access::User,
                      .fresh_partition = true,
                      .cacheable = true,
                      .handler = [](RouteContext& s, const Call& c) {
                          return json_response(200, dump(must_find(s, c).to_json()));
                      }});
    routes.push_back(
        {.method = "PATCH",
         .pattern = "/reports/{reportId}",
         .access = Access::User,
         .writes = true,
         .handler = [](RouteContext& s, const Call& c) {
             const Body body(c.request, {"title", "author", "date", "reference"});
             repo::ReportPatch patch{body.optional_string("title"), body.optional_string("author"),
                                     body.optional_string("date"), std::nullopt};
             if (body.has("reference")) patch.reference = body.value("reference");
             return json_response(
                 200, dump(s.reports.update(c.user, c.params.at("reportId"), patch).to_json()));
         }});
    routes.push_back({.method = "DELETE",
                      .pattern = "/reports/{reportId}",
                      .access = Access::User,
                      .writes = true,
                      .handler = [](RouteContext& s, const Call& c) {
                          s.reports.remove(c.user, c.params.at("reportId"));
                          Response r;
                          r.status = 204;
                          return r;
                      }});
    routes.push_back({.method = "PUT",
                      .pattern = "/reports/{reportId}/favorites/{productId}",
                      .access = Access::User,
                      .writes = true,
                      .handler = [](RouteContext& s, const Call& c) {
                          const Body body(c.request, {"favorite"});
                          const auto r = s.reports.set_favorite(c.user, c.params.at("reportId"),
                                                                c.params.at("productId"),
                                                                body.boolean("favorite"));
                          return json_response(200, dump(r.to_json()));
                      }});
    routes.push_back({.method = "PUT",
                      .pattern = "/reports/{reportId}/favorites",
                      .access = Access::User,
                      .writes = true,
                      .handler = [](RouteContext& s, const Call& c) {
                          const Body body(c.request, {"favorites"});
                          const auto r = s.reports.replace_favorites(
                              c.user, c.params.at("reportId"), body.string_list("favorites"));
                          return json_response(200, dump(r.to_json()));
                      }});
    routes.push_back({.method = "GET",
                      .pattern = "/reports/{reportId}/export",
                      .access = Access::User,
                      .fresh_partition = true,
                      .handler = [](RouteContext& s, const Call& c) {
                          const std::string format =
                              c.request.query_param("format").value_or("json");
                          if (format != "json" && format != "csv") {
                              throw ApiError(400, "invalid_field", "format must be csv or json");
                          }
                          return export_report(must_find(s, c), format);
                      }});
}

}  // namespace k9::api
