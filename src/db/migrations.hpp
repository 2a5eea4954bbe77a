#pragma once
// Schema migrations: numbered, each applied in its own transaction and recorded in
// schema_migrations. A database whose schema is newer than this binary knows is
// refused before anything touches it.

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

// The K9 schema, oldest first.
const std::vector<Migration>& k9_migrations();
int latest_schema_version(const std::vector<Migration>& migrations = k9_migrations());

// 0 when the database has no schema_migrations table yet.
int schema_version(duck::Connection& conn);

// Applies every migration above the current version; returns how many ran.
// Throws SchemaTooNew when the database is ahead of `migrations`.
int migrate(duck::Connection& conn, const std::vector<Migration>& migrations = k9_migrations());

}  // namespace k9::db
