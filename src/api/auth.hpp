#pragma once
// Who is calling. Behind API Gateway the authorizer already verified the caller and
// its Cognito `sub` arrives in the event (Request::authorizer_user_id). Elsewhere (the
// local server, Function URLs) k9 verifies `Authorization: Bearer <JWT>` itself:
// RS256 against a JWKS (K9_JWKS_FILE, or the Cognito pool's, fetched once and again
// when an unknown key id appears), or HS256 with K9_JWT_SECRET for development.

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_types.hpp"
#include "api/jwt.hpp"
#include "common/time.hpp"
#include "config/config.hpp"

namespace k9::api {

// Who made a request: the user id, and the Cognito groups the credentials name.
struct Caller {
    std::string user_id;
    std::vector<std::string> groups;
    bool in_group(const std::string& group) const;
};

// `cognito:groups` as the token or an authorizer carries it: a JSON array of strings, or
// a string ("a,b" from REST API authorizers, "[a b]" from HTTP API JWT authorizers).
std::vector<std::string> groups_from_claim(const nlohmann::json& claim);

// Fetches a URL's body (the Cognito JWKS); throws on failure.
using JwksFetch = std::function<std::string(const std::string& url)>;

class Authenticator {
  public:
    Authenticator(const config::ApiSettings& settings, Clock clock = system_clock(),
                  JwksFetch fetch = {});

    // The caller, or ApiError(401) saying what is wrong with the credentials.
    Caller caller(const Request& request);
    std::string user_id(const Request& request) { return caller(request).user_id; }

  private:
    std::shared_ptr<const Jwks> keys(bool refresh);

    JwtPolicy policy_;
    std::optional<std::string> jwks_url_;
    JwksFetch fetch_;
    Clock clock_;
    std::mutex mutex_;
    Micros last_fetch_ = 0;
};

// A JwksFetch over HTTPS with k9's HTTP client.
JwksFetch https_fetch();

}  // namespace k9::api
