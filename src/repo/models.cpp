#include "repo/models.hpp"

namespace k9::repo {

namespace {
nlohmann::json opt(const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
}  // namespace

nlohmann::json User::to_json() const {
    return {{"user_id", user_id},
            {"name", name},
            {"email", opt(email)},
            {"avatar_url", opt(avatar_url)},
            {"preferences", preferences},
            {"created_at", format_iso8601(created_at)},
            {"updated_at", format_iso8601(updated_at)}};
}

nlohmann::json Report::to_json() const {
    return {{"id", id},
            {"title", title},
            {"author", author},
            {"date", date},
            {"user_id", user_id},
            {"reference", reference},
            {"favorites", favorites},
            {"created_at", format_iso8601(created_at)},
            {"updated_at", format_iso8601(updated_at)}};
}

namespace {
Micros time_of(const nlohmann::json& j, const char* name) {
    const auto t = parse_iso8601(j.at(name).get<std::string>());
    if (!t) throw std::invalid_argument(std::string("not an ISO 8601 time in ") + name);
    return *t;
}
std::optional<std::string> opt_text(const nlohmann::json& v) {
    return v.is_null() ? std::nullopt : std::optional<std::string>(v.get<std::string>());
}
}  // namespace

User User::from_json(const nlohmann::json& j) {
    User u;
    u.user_id = j.at("user_id").get<std::string>();
    u.name = j.at("name").get<std::string>();
    u.email = opt_text(j.at("email"));
    u.avatar_url = opt_text(j.at("avatar_url"));
    u.preferences = j.at("preferences");
    u.created_at = time_of(j, "created_at");
    u.updated_at = time_of(j, "updated_at");
    return u;
}

Report Report::from_json(const nlohmann::json& j) {
    Report r;
    r.id = j.at("id").get<std::string>();
    r.title = j.at("title").get<std::string>();
    r.author = j.at("author").get<std::string>();
    r.date = j.at("date").get<std::string>();
    r.user_id = j.at("user_id").get<std::string>();
    r.reference = j.at("reference");
    r.favorites = j.at("favorites").get<std::vector<std::string>>();
    r.created_at = time_of(j, "created_at");
    r.updated_at = time_of(j, "updated_at");
    return r;
}

}  // namespace k9::repo
