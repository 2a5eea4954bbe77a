#include "repo/user_repository.hpp"

#include "repo/user_mutations.hpp"
#include "repo/validate.hpp"

namespace k9::repo {
using nlohmann::json;

namespace {

constexpr const char* kSelectUser =
    "SELECT user_id, name, email, avatar_url, CAST(preferences AS VARCHAR), "
    "epoch_us(created_at), epoch_us(updated_at) FROM users WHERE user_id = ?";

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
    if (patch.name) check_text("name", *patch.name, true);
    if (patch.email && *patch.email) check_email("email", **patch.email);
    if (patch.avatar_url && *patch.avatar_url) check_url("avatar_url", **patch.avatar_url);
    if (patch.preferences && !patch.preferences->is_object() && !patch.preferences->is_null()) {
        throw InvalidInput("preferences", "preferences must be a JSON object or null");
    }
    return manager_.apply(UpsertProfile{.user_id = user_id,
                                        .name = patch.name,
                                        .email = patch.email,
                                        .avatar_url = patch.avatar_url,
                                        .preferences = patch.preferences,
                                        .now = clock_()});
}

}  // namespace k9::repo
