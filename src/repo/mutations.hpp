#pragma once
// The K9 API's schema and every K9 mutation, for the DatabaseManager
// (ManagerOptions::schema and ::mutations: migrate, apply and replay).

#include "db/manager.hpp"
#include "db/migrations.hpp"
#include "db/mutation.hpp"

namespace k9::repo {

const db::MutationRegistry& k9_mutations();
// The K9 tables (users, reports), oldest migration first (repo/schema.cpp).
const std::vector<db::Migration>& k9_schema();

}  // namespace k9::repo
