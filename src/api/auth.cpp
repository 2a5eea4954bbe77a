#include "api/auth.hpp"

#include <strings.h>

#include <algorithm>
#include <cctype>

#include "api/errors.hpp"
#include "common/fs.hpp"
#include "common/http_client.hpp"
#include "common/log.hpp"

namespace k9::api {
namespace {

constexpr Micros kRefetchAfter = 300LL * 1'000'000;  // unknown kid: at most one fetch per 5 min

[[noreturn]] void unauthorized(const std::string& message) {
    throw ApiError(401, "unauthorized", message);
}

}  // namespace

Authenticator::Authenticator(const config::ApiSettings& settings, Clock clock, JwksFetch fetch)
    : fetch_(std::move(fetch)), clock_(std::move(clock)) {
    policy_.hs256_secret = settings.jwt_secret;
    policy_.audiences = settings.audiences;
    policy_.clock = clock_;
    if (settings.user_pool_id) {
        policy_.issuer = cognito_issuer(*settings.user_pool_id);
        jwks_url_ = *policy_.issuer + "/.well-known/jwks.json";
    }
    if (settings.jwks_file) policy_.jwks = Jwks::parse(fs::read_file(*settings.jwks_file));
    if (!fetch_) fetch_ = https_fetch();
}

std::shared_ptr<const Jwks> Authenticator::keys(bool refresh) {
    std::lock_guard lock(mutex_);
    const Micros now = clock_();
    const bool stale = refresh && now - last_fetch_ > kRefetchAfter;
    if (jwks_url_ && (!policy_.jwks || stale)) {
        last_fetch_ = now;
        try {
            policy_.jwks = Jwks::parse(fetch_(*jwks_url_));
        } catch (const std::exception& e) {
            log::error("Could not load the Cognito key set",
                       {{"url", *jwks_url_}, {"error", e.what()}});
        }
    }
    return policy_.jwks;
}

namespace {
Caller from_token(const VerifiedToken& token) {
    const auto groups = token.claims.find("cognito:groups");
    return {token.subject,
            groups == token.claims.end() ? std::vector<std::string>{} : groups_from_claim(*groups)};
}
}  // namespace

bool Caller::in_group(const std::string& group) const {
    return std::find(groups.begin(), groups.end(), group) != groups.end();
}

std::vector<std::string> groups_from_claim(const nlohmann::json& claim) {
    std::vector<std::string> out;
    if (claim.is_array()) {
        for (const auto& g : claim) {
            if (g.is_string() && !g.get_ref<const std::string&>().empty())
                out.push_back(g.get<std::string>());
        }
    } else if (claim.is_string()) {
        std::string text = claim.get<std::string>();
        if (text.size() >= 2 && text.front() == '[' && text.back() == ']')
            text = text.substr(1, text.size() - 2);
        std::string item;
        for (const char c : text + ",") {
            if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
                if (!item.empty()) out.push_back(item);
                item.clear();
            } else {
                item += c;
            }
        }
    }
    return out;
}

Caller Authenticator::caller(const Request& request) {
    if (request.authorizer_user_id) {
        if (request.authorizer_user_id->empty()) unauthorized("the authorizer gave no user id");
        return {*request.authorizer_user_id, request.authorizer_groups};
    }
    const auto header = request.header("authorization");
    if (!header) unauthorized("missing Authorization header: send 'Authorization: Bearer <token>'");
    const std::string prefix = "Bearer ";
    if (header->size() <= prefix.size() ||
        strncasecmp(header->c_str(), prefix.c_str(), prefix.size()) != 0) {
        unauthorized("the Authorization header must be 'Bearer <token>'");
    }
    const std::string token = header->substr(prefix.size());
    JwtPolicy policy;
    {
        auto jwks = keys(false);
        std::lock_guard lock(mutex_);
        policy = policy_;
        policy.jwks = jwks;
    }
    if (!policy.hs256_secret && (!policy.jwks || policy.jwks->empty())) {
        unauthorized(
            "token verification is not configured: set K9_COGNITO_USER_POOL_ID (or K9_JWKS_FILE), "
            "or K9_JWT_SECRET for development");
    }
    try {
        return from_token(verify_jwt(token, policy));
    } catch (const JwtError& first) {
        // A key rotation at Cognito: fetch the key set again (rate-limited) and retry once.
        if (jwks_url_) {
            auto fresh = keys(true);
            if (fresh && fresh != policy.jwks) {
                policy.jwks = fresh;
                try {
                    return from_token(verify_jwt(token, policy));
                } catch (const JwtError& e) {
                    unauthorized(e.what());
                }
            }
        }
        unauthorized(first.what());
    }
}

JwksFetch https_fetch() {
    auto client = std::make_shared<http::Client>();
    return [client](const std::string& url) {
        http::Request req;
        req.url = url;
        req.timeout = std::chrono::seconds(5);
        const auto resp = client->send(req);
        if (resp.status != 200)
            throw std::runtime_error("HTTP " + std::to_string(resp.status) + " from " + url);
        return resp.body;
    };
}

}  // namespace k9::api
