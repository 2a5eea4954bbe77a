// GET /user/profile, PATCH /user/profile
#include "api/body.hpp"
#include "api/errors.hpp"
#include "api/router.hpp"

namespace k9::api {

void add_user_routes(std::vector<Route>& routes) {
    routes.push_back({.method = "GET",
                      .pattern = "/user/profile",
                      .access = Access::User,
                      .fresh_partition = true,
                      .cacheable = true,
                      .handler = [](RouteContext& s, const Call& c) {
                          auto user = s.users.get_user(c.user);
                          if (!user)
                              throw ApiError(404, "not_found",
                                             "no profile yet: PATCH /user/profile creates it");
                          return json_response(200, dump(user->to_json()));
                      }});
    routes.push_back(
        {.method = "PATCH",
         .pattern = "/user/profile",
         .access = Access::User,
         .writes = true,
         .handler = [](RouteContext& s, const Call& c) {
             const Body body(c.request, {"name", "email", "avatar_url", "preferences"});
             repo::ProfilePatch patch;
             patch.name = body.optional_string("name");
             patch.email = body.nullable_string("email");
             patch.avatar_url = body.nullable_string("avatar_url");
             patch.preferences = body.optional_object("preferences");
             return json_response(200, dump(s.users.upsert_profile(c.user, patch).to_json()));
         }});
}

}  // namespace k9::api
