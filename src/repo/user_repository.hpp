#pragma once
// UserRepository: user profiles, keyed by the Cognito `sub`. Reads use prepared
// statements on a connection of their own; every write is a Mutation applied by the
// DatabaseManager (UpsertProfile, repo/user_mutations.hpp), with its timestamp made here.

#include <optional>
#include <string>

#include "common/time.hpp"
#include "db/manager.hpp"
#include "db/mutation.hpp"
#include "repo/models.hpp"

namespace k9::repo {

class UserRepository {
  public:
    explicit UserRepository(db::DatabaseManager& manager, Clock clock = system_clock())
        : manager_(manager), clock_(std::move(clock)) {}

    std::optional<User> get_user(const std::string& user_id);

    // Creates the profile on first write (name required then) or changes the given
    // fields. Throws InvalidInput for bad values.
    User upsert_profile(const std::string& user_id, const ProfilePatch& patch);

  private:
    db::DatabaseManager& manager_;
    Clock clock_;
};

// Reads one user on `conn`; nullopt when absent.
std::optional<User> find_user(duck::Connection& conn, const std::string& user_id);

}  // namespace k9::repo
