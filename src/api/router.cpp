#include "api/router.hpp"

#include <cmath>

#include "api/errors.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "common/time.hpp"
#include "db/unavailable.hpp"
#include "repo/models.hpp"
#include "store/error.hpp"

namespace k9::api {
namespace {

std::vector<std::string> split(const std::string& path) {
    std::vector<std::string> out;
    std::size_t start = 1;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        out.push_back(
            path.substr(start, slash == std::string::npos ? std::string::npos : slash - start));
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

std::string user_hash(const std::string& user) {
    return user.empty() ? "" : sha256_hex(user).substr(0, 16);
}

// A request that failed on the server's side: everything an operator needs, under the
// request id the client was given (the 5xx body itself says nothing about the store).
void log_failure(log::Level level, const Request& request, const std::string& route,
                 const std::string& code, std::string_view kind, const std::string& detail) {
    log::write(level, "Request failed",
               {{"request_id", request.request_id},
                {"route", route},
                {"code", code},
                {"error_kind", kind},
                {"error", detail}});
}

// 503 for a copy that cannot serve now: its code and its hint, written for clients.
Response unavailable_response(const db::Unavailable& e, const std::string& request_id) {
    return error_response(503, e.code.empty() ? "unavailable" : e.code,
                          e.hint.empty() ? "the database is unavailable; retry shortly" : e.hint,
                          request_id);
}

// 503 for a failed call to the store; its message (bucket, keys, S3 and parser
// messages) stays in the log.
Response store_unavailable_response(const std::string& request_id) {
    return error_response(503, "store_unavailable",
                          "the database store is unavailable; retry shortly", request_id);
}

Response internal_error_response(const std::string& request_id) {
    return error_response(500, "internal_error",
                          "internal error; the logs have the details under this request id",
                          request_id);
}

// The answer to the exception being handled (call it inside a catch block). 4xx bodies
// say what the client can fix; 5xx bodies say only what the client may see, and the
// details are logged.
Response failure_response(const Request& request, const std::string& route) {
    const std::string& id = request.request_id;
    try {
        throw;
    } catch (const ApiError& e) {
        Response r = error_response(e.status, e.code, e.what(), id);
        if (e.status == 401) r.headers["www-authenticate"] = "Bearer";
        return r;
    } catch (const repo::InvalidInput& e) {
        return error_response(400, "invalid_field", e.what(), id);
    } catch (const db::MutationRejected& e) {
        switch (e.reason) {
            case db::MutationRejected::Reason::NotFound:
                return error_response(404, "not_found", e.what(), id);
            case db::MutationRejected::Reason::Conflict:
                return error_response(409, "conflict", e.what(), id);
            case db::MutationRejected::Reason::Invalid:
                break;
        }
        return error_response(400, "invalid_field", e.what(), id);
    } catch (const db::PersistConflict& e) {
        return error_response(409, "persist_conflict", e.what(), id);
    } catch (const db::Unavailable& e) {
        log_failure(log::Level::Warning, request, route, e.code, "Unavailable", e.what());
        return unavailable_response(e, id);
    } catch (const store::StoreError& e) {
        const auto level =
            e.kind() == store::ErrorKind::Transient ? log::Level::Warning : log::Level::Error;
        log_failure(level, request, route, "store_unavailable", store::to_string(e.kind()),
                    e.what());
        return store_unavailable_response(id);
    } catch (const std::exception& e) {
        log_failure(log::Level::Error, request, route, "internal_error", "exception", e.what());
        return internal_error_response(id);
    } catch (...) {
        log_failure(log::Level::Error, request, route, "internal_error", "unknown",
                    "a non-standard exception");
        return internal_error_response(id);
    }
}

}  // namespace

std::string dump(const nlohmann::json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Router::Router(RouteContext context, Authenticator& auth, AdminPolicy admin,
               std::size_t response_cache_bytes)
    : context_(context),
      auth_(auth),
      admin_(std::move(admin)),
      cache_(response_cache_bytes > 0 ? std::make_unique<ResponseCache>(response_cache_bytes)
                                      : nullptr) {
    admin_tokens_ = admin_.calls_per_minute;
    admin_refilled_ms_ = monotonic_ms();
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
        bool admin = false;
        if (route.access == Access::Public) {
            // Credentials are optional here: valid ones (an administrator's) show more.
            if (request.authorizer_user_id || request.header("authorization")) {
                try {
                    admin = auth_.caller(request).in_group(admin_.group);
                } catch (const ApiError&) {
                }
            }
        } else {
            const Caller caller = auth_.caller(request);
            user = caller.user_id;
            admin = caller.in_group(admin_.group);
        }
        if (route.access == Access::Admin) {
            if (!admin) {
                throw ApiError(403, "forbidden",
                               "this route is for administrators: members of the Cognito group '" +
                                   admin_.group + "' (K9_ADMIN_GROUP)");
            }
            int retry_after_s = 0;
            if (!take_admin_call(retry_after_s)) {
                Response r = error_response(429, "rate_limited",
                                            "too many administrative calls: at most " +
                                                std::to_string(admin_.calls_per_minute) +
                                                " a minute (K9_ADMIN_CALLS_PER_MINUTE); retry in " +
                                                std::to_string(retry_after_s) + " s",
                                            request.request_id);
                r.headers["retry-after"] = std::to_string(retry_after_s);
                return r;
            }
        }
        // Journal mode: a read sees every write acknowledged before it, by any container
        // (one GET of the user's partition). A write needs no look first: the journal
        // refuses an append from a copy that is behind, which then catches up.
        if (route.fresh_partition) context_.manager.refresh(user);
        // The version is taken after the refresh and before the read (response_cache.hpp).
        std::optional<db::DataVersion> version;
        std::string cache_key;
        if (route.cacheable && cache_) {
            version = context_.manager.data_version(user);
            if (version) {
                // Each part length-prefixed: no user id, path or query can spell another's.
                auto add = [&cache_key](const std::string& part) {
                    cache_key += std::to_string(part.size()) + ':' + part;
                };
                for (const std::string* part : {&user, &route_name, &path}) add(*part);
                for (const auto& [k, v] : request.query) add(k), add(v);
                if (auto kept = cache_->get(cache_key, *version)) return std::move(*kept);
            }
        }
        Response response = route.handler(context_, Call{request, params, user, admin});
        if (version && response.status == 200) cache_->put(cache_key, *version, response);
        if (route.writes && response.status < 300) context_.persist.note_write();
        return response;
    }
    if (!allowed.empty()) {
        std::string list;
        for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
        Response r = error_response(
            405, "method_not_allowed",
            request.method.substr(0, 16) + " is not allowed here (allowed: " + list + ")",
            request.request_id);
        r.headers["allow"] = list;
        return r;
    }
    throw ApiError(404, "not_found", "no such route: " + path.substr(0, 200));
}

bool Router::take_admin_call(int& retry_after_s) {
    std::lock_guard lock(admin_mutex_);
    const double now = monotonic_ms();
    const double per_ms = admin_.calls_per_minute / 60000.0;
    admin_tokens_ = std::min<double>(admin_.calls_per_minute,
                                     admin_tokens_ + (now - admin_refilled_ms_) * per_ms);
    admin_refilled_ms_ = now;
    if (admin_tokens_ >= 1) {
        admin_tokens_ -= 1;
        return true;
    }
    retry_after_s = static_cast<int>(std::ceil((1 - admin_tokens_) / per_ms / 1000));
    return false;
}

Response Router::handle(const Request& request) {
    const double started = monotonic_ms();
    std::string route_name = "(none)", user;
    Response response;
    try {
        response = dispatch(request, route_name, user);
    } catch (...) {
        response = failure_response(request, route_name);
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
