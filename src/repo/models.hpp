#pragma once
// The K9 business data as C++ values, and their JSON shapes in the API.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/time.hpp"

namespace k9::repo {

// Input a repository refuses before anything is written (maps to HTTP 400).
class InvalidInput : public std::invalid_argument {
  public:
    InvalidInput(std::string name, const std::string& message)
        : std::invalid_argument(message), field(std::move(name)) {}
    std::string field;
};

struct User {
    std::string user_id;
    std::string name;
    std::optional<std::string> email;
    std::optional<std::string> avatar_url;
    nlohmann::json preferences;  // null when never set
    Micros created_at = 0;
    Micros updated_at = 0;
    nlohmann::json to_json() const;
};

// A profile change: only the fields that are set change; a set-but-empty optional
// (email = std::nullopt inside) clears a nullable field.
struct ProfilePatch {
    std::optional<std::string> name;
    std::optional<std::optional<std::string>> email;
    std::optional<std::optional<std::string>> avatar_url;
    std::optional<nlohmann::json> preferences;
};

struct Report {
    std::string id;
    std::string title;
    std::string author;
    std::string date;  // YYYY-MM-DD
    std::string user_id;
    nlohmann::json reference;
    std::vector<std::string> favorites;
    Micros created_at = 0;
    Micros updated_at = 0;
    nlohmann::json to_json() const;
};

struct NewReport {
    std::string title;
    std::string author;
    std::string date;
    nlohmann::json reference;
    std::vector<std::string> favorites;
};

struct ReportPatch {
    std::optional<std::string> title;
    std::optional<std::string> author;
    std::optional<std::string> date;
    std::optional<nlohmann::json> reference;
};

struct ReportPage {
    std::vector<Report> items;
    std::optional<std::string> next_cursor;  // pass back to get the next page
};

// Limits enforced before a write is built.
inline constexpr std::size_t kMaxTextLength = 1000;
inline constexpr std::size_t kMaxProductIdLength = 256;
inline constexpr std::size_t kMaxFavorites = 10000;
inline constexpr std::size_t kMaxPageSize = 100;
inline constexpr std::size_t kDefaultPageSize = 20;

}  // namespace k9::repo
