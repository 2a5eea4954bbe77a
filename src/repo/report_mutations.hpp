#pragma once
// The writes of reports, one type each (db::TypedMutation): the parameters as members,
// their journal form (params / from_params, the JSON every entry since the first k9
// holds: keys never change), and the change itself, which returns the row as written.
// Inputs are checked by ReportRepository before a mutation is made; ids and times are
// made there too, so a mutation replays to the same row.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "db/duck.hpp"
#include "repo/models.hpp"

namespace k9::repo {

struct CreateReport {
    static constexpr const char* kName = "report.create";
    using Result = Report;
    std::string id{};
    std::string user_id{};
    std::string title{};
    std::string author{};
    std::string date{};  // YYYY-MM-DD
    nlohmann::json reference{};
    std::vector<std::string> favorites{};  // unique, in order
    Micros now = 0;

    const std::string& owner() const { return user_id; }
    nlohmann::json params() const;
    static CreateReport from_params(const nlohmann::json& p);
    Report apply(duck::Connection& conn) const;
    // Replays: many rows per INSERT (a catch-up of a long tail of one user's creates).
    static void apply_all(duck::Connection& conn, const std::vector<CreateReport>& many);
};

// Changes the fields that are set. Rejected (NotFound) when the user has no such report.
struct UpdateReport {
    static constexpr const char* kName = "report.update";
    using Result = Report;
    std::string id{};
    std::string user_id{};
    std::optional<std::string> title{};
    std::optional<std::string> author{};
    std::optional<std::string> date{};
    std::optional<nlohmann::json> reference{};
    Micros now = 0;

    const std::string& owner() const { return user_id; }
    nlohmann::json params() const;
    static UpdateReport from_params(const nlohmann::json& p);
    Report apply(duck::Connection& conn) const;
};

// Rejected (NotFound) when the user has no such report; the result is the removed id.
struct DeleteReport {
    static constexpr const char* kName = "report.delete";
    using Result = std::string;
    std::string id{};
    std::string user_id{};

    const std::string& owner() const { return user_id; }
    nlohmann::json params() const;
    static DeleteReport from_params(const nlohmann::json& p);
    std::string apply(duck::Connection& conn) const;
};

// Adds or removes one product. Rejected: NotFound, or Conflict when a new favorite
// would pass kMaxFavorites.
struct SetFavorite {
    static constexpr const char* kName = "report.set_favorite";
    using Result = Report;
    std::string id{};
    std::string user_id{};
    std::string product_id{};
    bool favorite = true;
    Micros now = 0;

    const std::string& owner() const { return user_id; }
    nlohmann::json params() const;
    static SetFavorite from_params(const nlohmann::json& p);
    Report apply(duck::Connection& conn) const;
};

// Replaces the list. Rejected (NotFound) when the user has no such report.
struct ReplaceFavorites {
    static constexpr const char* kName = "report.replace_favorites";
    using Result = Report;
    std::string id{};
    std::string user_id{};
    std::vector<std::string> favorites{};  // unique, in order
    Micros now = 0;

    const std::string& owner() const { return user_id; }
    nlohmann::json params() const;
    static ReplaceFavorites from_params(const nlohmann::json& p);
    Report apply(duck::Connection& conn) const;
};

}  // namespace k9::repo
