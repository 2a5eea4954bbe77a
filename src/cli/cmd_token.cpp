#include "api/jwt.hpp"
#include "cli/commands.hpp"
#include "common/log.hpp"
#include "common/time.hpp"

namespace k9::cli {

// A development token (HS256 with K9_JWT_SECRET): only the token on stdout. `admin` puts
// the caller in K9_ADMIN_GROUP (cognito:groups), as Cognito does for a group's members.
int run_token(Context& ctx, const std::string& user, long ttl_seconds, bool admin,
              std::ostream& out) {
    const auto& api = ctx.config().api;
    if (!api.jwt_secret) {
        log::error(
            "K9_JWT_SECRET is not set: development tokens are signed with it (e.g. export "
            "K9_JWT_SECRET=$(openssl rand -hex 32)), and k9-api must run with the same value");
        return kUsage;
    }
    const std::int64_t now = system_now() / 1'000'000;
    nlohmann::json claims = {
        {"sub", user}, {"iat", now}, {"exp", now + ttl_seconds}, {"token_use", "id"}};
    if (api.user_pool_id) claims["iss"] = api::cognito_issuer(*api.user_pool_id);
    if (!api.audiences.empty()) claims["aud"] = api.audiences.front();
    if (admin) claims["cognito:groups"] = {api.admin_group};
    out << api::mint_hs256(claims, *api.jwt_secret) << "\n";
    return kOk;
}

}  // namespace k9::cli
