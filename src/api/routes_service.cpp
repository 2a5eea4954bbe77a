// GET /health (no authentication) and POST /admin/persist.
#include "api/errors.hpp"
#include "api/router.hpp"

namespace k9::api {

void add_service_routes(std::vector<Route>& routes) {
    routes.push_back({"GET", "/health", false, false, [](Services& s, const Call&) {
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
                          return json_response(db.problem ? 503 : 200, dump({{"status", status},
                                                                             {"database", db.to_json()},
                                                                             {"persist", persist}}));
                      }});
    routes.push_back({"POST", "/admin/persist", true, false, [](Services& s, const Call&) {
                          const auto r = s.persist.persist_now("admin");
                          return json_response(200, dump({{"persisted", r.uploaded},
                                                          {"etag", r.etag},
                                                          {"seq", r.seq},
                                                          {"bytes", r.bytes},
                                                          {"duration_ms", r.duration_ms}}));
                      }});
}

}  // namespace k9::api
