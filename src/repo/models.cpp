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

}  // namespace k9::repo
