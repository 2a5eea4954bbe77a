#include "repo/user_mutations.hpp"

#include "common/json_integer.hpp"
#include "db/mutation.hpp"
#include "repo/user_repository.hpp"

namespace k9::repo {
using nlohmann::json;

namespace {

json nullable(const std::optional<std::string>& v) {
    return v ? json(*v) : json(nullptr);
}

std::optional<std::string> nullable_text(const json& v) {
    return v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
}

}  // namespace

json UpsertProfile::params() const {
    json p = {{"user_id", user_id}, {"now", now}};
    if (name) p["name"] = *name;
    if (email) p["email"] = nullable(*email);
    if (avatar_url) p["avatar_url"] = nullable(*avatar_url);
    if (preferences) p["preferences"] = *preferences;
    return p;
}

UpsertProfile UpsertProfile::from_params(const json& p) {
    UpsertProfile u{.user_id = p.at("user_id").get<std::string>(),
                    .now = json_integer<Micros>(p.at("now"))};
    if (p.contains("name")) u.name = p.at("name").get<std::string>();
    if (p.contains("email")) u.email = nullable_text(p.at("email"));
    if (p.contains("avatar_url")) u.avatar_url = nullable_text(p.at("avatar_url"));
    if (p.contains("preferences")) u.preferences = p.at("preferences");
    return u;
}

User UpsertProfile::apply(duck::Connection& conn) const {
    auto existing = find_user(conn, user_id);
    User u;
    if (existing) {
        u = *existing;
    } else {
        if (!name) {
            throw db::MutationRejected(db::MutationRejected::Reason::Invalid,
                                       "name is required to create a profile");
        }
        u.user_id = user_id;
        u.created_at = now;
    }
    if (name) u.name = *name;
    if (email) u.email = *email;
    if (avatar_url) u.avatar_url = *avatar_url;
    if (preferences) u.preferences = *preferences;
    u.updated_at = now;

    const std::optional<std::string> prefs =
        u.preferences.is_null() ? std::nullopt : std::optional<std::string>(u.preferences.dump());
    if (existing) {
        conn.prepared(
                "UPDATE users SET name = ?, email = ?, avatar_url = ?, preferences = ?, "
                "updated_at = ? WHERE user_id = ?")
            .bind(1, u.name)
            .bind(2, u.email)
            .bind(3, u.avatar_url)
            .bind(4, prefs)
            .bind_timestamp(5, u.updated_at)
            .bind(6, u.user_id)
            .execute();
    } else {
        conn.prepared(
                "INSERT INTO users (user_id, name, email, avatar_url, preferences, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .bind(1, u.user_id)
            .bind(2, u.name)
            .bind(3, u.email)
            .bind(4, u.avatar_url)
            .bind(5, prefs)
            .bind_timestamp(6, u.created_at)
            .bind_timestamp(7, u.updated_at)
            .execute();
    }
    return u;
}

}  // namespace k9::repo
