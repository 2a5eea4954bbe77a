#pragma once
// Router: the one handler behind every front door. It matches a Request to a route,
// authenticates the caller where the route needs it, runs the handler, and turns
// every error into a JSON response with the right 4xx/5xx status. It never throws.
// One JSON log line per request: method, route, status, duration, request id and a
// hash of the user id (never a token or a body).

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/auth.hpp"
#include "api/auto_persist.hpp"
#include "api/http_types.hpp"
#include "api/response_cache.hpp"
#include "db/manager.hpp"
#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"

namespace k9::api {

// What the handlers work with.
struct RouteContext {
    db::DatabaseManager& manager;
    repo::UserRepository& users;
    repo::ReportRepository& reports;
    AutoPersist& persist;
};

using Params = std::map<std::string, std::string>;

// The caller's request with its route parameters and (for authenticated routes) user.
struct Call {
    const Request& request;
    const Params& params;
    const std::string& user;
    bool admin = false;  // the caller is an administrator (also on public routes)
};

using Handler = std::function<Response(RouteContext&, const Call&)>;

// Who may call a route. Public: anyone (credentials, when sent and valid, are noted);
// User: a signed-in user; Admin: a member of the administrators' group, a limited
// number of calls per minute.
enum class Access { Public, User, Admin };

// Built with designated initializers: {.method = "GET", .pattern = "/reports", ...}.
struct Route {
    std::string method;
    std::string pattern;  // "/reports/{reportId}/favorites/{productId}"
    Access access = Access::User;
    // A read of the caller's own data: the router makes the caller's journal partition
    // fresh first (within K9_MAX_STALENESS_MS). Writes need not: a write catches up its
    // partition itself.
    bool fresh_partition = false;
    bool writes = false;  // counts toward automatic persistence when it succeeds
    // A read of the caller's own data whose 200 answers the response cache may keep
    // (api/response_cache.hpp): the answer depends on the path, the query and the user.
    bool cacheable = false;
    Handler handler;
};

// Who administers the service (K9_ADMIN_GROUP, K9_ADMIN_CALLS_PER_MINUTE).
struct AdminPolicy {
    std::string group = "k9-admins";
    int calls_per_minute = 6;
};

class Router {
  public:
    // response_cache_bytes: the bound of the response cache (K9_RESPONSE_CACHE_MB); 0: none.
    Router(RouteContext context, Authenticator& auth, AdminPolicy admin = {},
           std::size_t response_cache_bytes = 0);
    Response handle(const Request& request);
    const std::vector<Route>& routes() const { return routes_; }
    const ResponseCache* response_cache() const { return cache_.get(); }  // null: none

  private:
    Response dispatch(const Request& request, std::string& route_name, std::string& user);

    // Takes one of the administrators' calls of this minute; false when they are spent,
    // with the seconds until the next one.
    bool take_admin_call(int& retry_after_s);

    RouteContext context_;
    Authenticator& auth_;
    AdminPolicy admin_;
    std::mutex admin_mutex_;
    double admin_tokens_ = 0;
    double admin_refilled_ms_ = 0;
    std::vector<Route> routes_;
    std::unique_ptr<ResponseCache> cache_;
};

// The K9 routes, by area (routes_*.cpp).
void add_user_routes(std::vector<Route>& routes);
void add_report_routes(std::vector<Route>& routes);
void add_service_routes(std::vector<Route>& routes);

// JSON with invalid UTF-8 replaced, as every response body is written.
std::string dump(const nlohmann::json& j);

}  // namespace k9::api
