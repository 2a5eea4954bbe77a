#pragma once
// Every K9 mutation, for the DatabaseManager (apply and replay).

#include "config/config.hpp"
#include "db/manager.hpp"
#include "db/mutation.hpp"

namespace k9::repo {

const db::MutationRegistry& k9_mutations();

// The K9 API's DatabaseManager options from its configuration: local path, key, these
// mutations and the durability settings.
db::ManagerOptions k9_manager_options(const config::Config& config);

}  // namespace k9::repo
