#include "api/router.hpp"

#include "api/errors.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "db/migrations.hpp"
#include "repo/models.hpp"
#include "store/error.hpp"

namespace k9::api {
namespace {

std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        out.push_back(path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
        if (slash == std::string::npos) break;
        start = slash + 1;
    }
    return out;
}

bool match(const std::string& pattern, const std::vector<std::string>& parts, Params& params) {
    const auto want = split(pattern);
    if (want.size() != parts.size()) return false;
    Params found;
    for (std::size_t i = 0; i < want.size(); ++i) {
        if (want[i].size() > 2 && want[i].front() == '{' && want[i].back() == '}') {
            if (parts[i].empty()) return false;
            found[want[i].substr(1, want[i].size() - 2)] = parts[i];
        } else if (want[i] != parts[i]) {
            return false;
        }
    }
    params = std::move(found);
    return true;
}

std::string user_hash(const std::string& user) { return user.empty() ? "" : sha256_hex(user).substr(0, 16); }

}  // namespace

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

Router::Router(Services services, Authenticator& auth) : services_(services), auth_(auth) {
    add_service_routes(routes_);
    add_user_routes(routes_);
    add_report_routes(routes_);
}

Response Router::dispatch(const Request& request, std::string& route_name, std::string& user) {
    std::string path = request.path.empty() ? "/" : request.path;
    if (path.size() > 1 && path.back() == '/') path.pop_back();
    if (path.front() != '/') throw ApiError(404, "not_found", "no such route");
    const auto parts = split(path);
    std::vector<std::string> allowed;
    for (const auto& route : routes_) {
        Params params;
        if (!match(route.pattern, parts, params)) continue;
        if (route.method != request.method) {
            allowed.push_back(route.method);
            continue;
        }
        route_name = route.method + " " + route.pattern;
        if (route.needs_user) {
            user = auth_.user_id(request);
            services_.manager.refresh_if_stale();  // journal mode: see other containers' writes
        }
        Response response = route.handler(services_, Call{request, params, user});
        if (route.writes && response.status < 300) services_.persist.note_write();
        return response;
    }
    if (!allowed.empty()) {
        std::string list;
        for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
        Response r = error_response(405, "method_not_allowed", request.method.substr(0, 16) + " is not allowed here (allowed: " + list + ")");
        r.headers["allow"] = list;
        return r;
    }
    throw ApiError(404, "not_found", "no such route: " + path.substr(0, 200));
}

Response Router::handle(const Request& request) {
    const double started = monotonic_ms();
    std::string route_name = "(none)", user;
    Response response;
    try {
        response = dispatch(request, route_name, user);
    } catch (const ApiError& e) {
        response = error_response(e.status, e.code, e.what());
        if (e.status == 401) response.headers["www-authenticate"] = "Bearer";
    } catch (const repo::InvalidInput& e) {
        response = error_response(400, "invalid_field", e.what());
    } catch (const db::MutationRejected& e) {
        switch (e.reason) {
            case db::MutationRejected::Reason::NotFound: response = error_response(404, "not_found", e.what()); break;
            case db::MutationRejected::Reason::Conflict: response = error_response(409, "conflict", e.what()); break;
            case db::MutationRejected::Reason::Invalid: response = error_response(400, "invalid_field", e.what()); break;
        }
    } catch (const db::PersistConflict& e) {
        response = error_response(409, "persist_conflict", e.what());
    } catch (const store::StoreError& e) {
        response = error_response(503, "store_unavailable", e.what());
    } catch (const std::exception& e) {
        log::error("Request failed", {{"request_id", request.request_id}, {"route", route_name}, {"error", e.what()}});
        response = error_response(500, "internal_error", "internal error; see the logs for request " + request.request_id);
    }
    if (!request.request_id.empty()) response.headers["x-request-id"] = request.request_id;
    log::info("request", {{"method", request.method.substr(0, 16)},
                          {"route", route_name},
                          {"status", response.status},
                          {"duration_ms", monotonic_ms() - started},
                          {"request_id", request.request_id},
                          {"user", user_hash(user)}});
    return response;
}

}  // namespace k9::api
