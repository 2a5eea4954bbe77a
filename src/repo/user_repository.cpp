#include "repo/user_repository.hpp"

#include "repo/validate.hpp"

namespace k9::repo {
using nlohmann::json;

namespace {

constexpr const char* kUpsertProfile = "user.upsert_profile";

constexpr const char* kSelectUser =
    "SELECT user_id, name, email, avatar_url, CAST(preferences AS VARCHAR), "
    "epoch_us(created_at), epoch_us(updated_at) FROM users WHERE user_id = ?";

std::optional<std::string> opt_string(const json& v) {
    return v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
}

json apply_upsert_profile(duck::Connection& conn, const json& p) {
    const std::string user_id = p.at("user_id").get<std::string>();
    const Micros now = p.at("now").get<Micros>();
    auto existing = find_user(conn, user_id);
    User u;
    if (existing) {
        u = *existing;
    } else {
        if (!p.contains("name")) {
            throw db::MutationRejected(db::MutationRejected::Reason::Invalid,
                                       "name is required to create a profile");
        }
        u.user_id = user_id;
        u.created_at = now;
    }
    if (p.contains("name")) u.name = p["name"].get<std::string>();
    if (p.contains("email")) u.email = opt_string(p["email"]);
    if (p.contains("avatar_url")) u.avatar_url = opt_string(p["avatar_url"]);
    if (p.contains("preferences")) u.preferences = p["preferences"];
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
    return u.to_json();
}

}  // namespace

std::optional<User> find_user(duck::Connection& conn, const std::string& user_id) {
    auto& stmt = conn.prepared(kSelectUser);
    auto r = stmt.bind(1, user_id).execute();
    if (r.rows() == 0) return std::nullopt;
    User u;
    u.user_id = r.text(0, 0);
    u.name = r.text(1, 0);
    u.email = r.optional_text(2, 0);
    u.avatar_url = r.optional_text(3, 0);
    if (auto prefs = r.optional_text(4, 0)) u.preferences = json::parse(*prefs);
    u.created_at = r.int64(5, 0);
    u.updated_at = r.int64(6, 0);
    return u;
}

std::optional<User> UserRepository::get_user(const std::string& user_id) {
    check_id("user_id", user_id);
    return manager_.read([&](duck::Connection& conn) { return find_user(conn, user_id); });
}

User UserRepository::upsert_profile(const std::string& user_id, const ProfilePatch& patch) {
    check_id("user_id", user_id);
    json params = {{"user_id", user_id}, {"now", clock_()}};
    if (patch.name) {
        check_text("name", *patch.name, true);
        params["name"] = *patch.name;
    }
    if (patch.email) {
        if (*patch.email) check_email("email", **patch.email);
        params["email"] = *patch.email ? json(**patch.email) : json(nullptr);
    }
    if (patch.avatar_url) {
        if (*patch.avatar_url) check_url("avatar_url", **patch.avatar_url);
        params["avatar_url"] = *patch.avatar_url ? json(**patch.avatar_url) : json(nullptr);
    }
    if (patch.preferences) {
        if (!patch.preferences->is_object() && !patch.preferences->is_null()) {
            throw InvalidInput("preferences", "preferences must be a JSON object or null");
        }
        params["preferences"] = *patch.preferences;
    }
    return User::from_json(manager_.apply({kUpsertProfile, params, user_id}));
}

void UserRepository::register_mutations(db::MutationRegistry& registry) {
    registry.add(kUpsertProfile, apply_upsert_profile);
}

}  // namespace k9::repo
