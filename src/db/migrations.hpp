#pragma once
// Schema migrations of the application's tables (the K9 API's come from repo/schema.cpp
// through ManagerOptions::schema): numbered, each applied in its own transaction and
// recorded in schema_migrations. A database whose schema is newer than this binary knows
// is refused before anything touches it. k9's own tables are db/k9_meta.hpp's.

#include <stdexcept>
#include <string>
#include <vector>

#include "db/duck.hpp"

namespace k9::db {

struct Migration {
    int version;
    std::string name;
    std::string sql;
};

class SchemaTooNew : public std::runtime_error {
  public:
    SchemaTooNew(int found, int supported);
    int found;
    int supported;
};

// The newest version of an application's schema (its migrations, oldest first).
int latest_schema_version(const std::vector<Migration>& migrations);

// 0 when the database has no schema_migrations table yet.
int schema_version(duck::Connection& conn);

// Applies every migration above the current version; returns how many ran.
// Throws SchemaTooNew when the database is ahead of `migrations`.
int migrate(duck::Connection& conn, const std::vector<Migration>& migrations);

}  // namespace k9::db
