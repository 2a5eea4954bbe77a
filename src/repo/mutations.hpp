#pragma once
// Every K9 mutation, for the DatabaseManager (apply and replay).

#include "db/mutation.hpp"

namespace k9::repo {

const db::MutationRegistry& k9_mutations();

}  // namespace k9::repo
