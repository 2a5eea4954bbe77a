// GET /health (no authentication: the status alone; an administrator's credentials add
// the details) and POST /admin/persist (administrators).
#include "api/errors.hpp"
#include "api/router.hpp"

namespace k9::api {

void add_service_routes(std::vector<Route>& routes) {
    routes.push_back(
        {.method = "GET",
         .pattern = "/health",
         .access = Access::Public,
         .handler = [](RouteContext& s, const Call& c) {
             const auto db = s.manager.status();
             auto persist = s.persist.status();
             // Unhealthy (503) while requests fail; degraded while the newest
             // persist attempt failed, or something is wrong that does not stop them.
             bool degraded = !db.warnings.empty();
             if (!persist["last_error_at"].is_null()) {
                 const auto failed = parse_iso8601(persist["last_error_at"].get<std::string>());
                 degraded = degraded || !db.last_persist || (failed && *failed > *db.last_persist);
             }
             const char* status = db.problem ? "unhealthy" : degraded ? "degraded" : "ok";
             const int code = db.problem ? 503 : 200;
             // The bucket, key, local path and ETags are for administrators
             // (and k9db status), not for the internet.
             if (!c.admin) return json_response(code, dump({{"status", status}}));
             return json_response(
                 code,
                 dump({{"status", status}, {"database", db.to_json()}, {"persist", persist}}));
         }});
    routes.push_back({.method = "POST",
                      .pattern = "/admin/persist",
                      .access = Access::Admin,
                      .handler = [](RouteContext& s, const Call&) {
                          const auto r = s.persist.persist_now("admin");
                          return json_response(200, dump({{"persisted", r.uploaded},
                                                          {"etag", r.etag},
                                                          {"seq", r.seq},
                                                          {"bytes", r.bytes},
                                                          {"duration_ms", r.duration_ms}}));
                      }});
}

}  // namespace k9::api
