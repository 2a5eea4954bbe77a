#pragma once
// The write of user profiles as a typed mutation (db::TypedMutation): see
// report_mutations.hpp for the rules every mutation follows.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/time.hpp"
#include "db/duck.hpp"
#include "repo/models.hpp"

namespace k9::repo {

// Creates the profile (name required then: rejected Invalid without it) or changes the
// fields that are set; a set-but-empty email or avatar_url clears it, a null
// preferences clears them.
struct UpsertProfile {
    static constexpr const char* kName = "user.upsert_profile";
    using Result = User;
    std::string user_id{};
    std::optional<std::string> name{};
    std::optional<std::optional<std::string>> email{};
    std::optional<std::optional<std::string>> avatar_url{};
    std::optional<nlohmann::json> preferences{};  // an object, or null
    Micros now = 0;

    const std::string& owner() const { return user_id; }
    nlohmann::json params() const;
    static UpsertProfile from_params(const nlohmann::json& p);
    User apply(duck::Connection& conn) const;
};

}  // namespace k9::repo
