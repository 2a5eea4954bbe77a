// The K9 API's tables, as numbered migrations (db/migrations.hpp). k9's bookkeeping
// tables are the DatabaseManager's own (db/k9_meta.hpp).
#include "repo/mutations.hpp"

namespace k9::repo {

const std::vector<db::Migration>& k9_schema() {
    static const std::vector<db::Migration> migrations = {
        {1, "k9 business data: users, reports", R"sql(
CREATE TABLE IF NOT EXISTS users (
    user_id     VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    email       VARCHAR,
    avatar_url  VARCHAR,
    preferences JSON,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS reports (
    id          VARCHAR PRIMARY KEY,
    title       VARCHAR NOT NULL,
    author      VARCHAR NOT NULL,
    date        DATE NOT NULL,
    user_id     VARCHAR NOT NULL,
    reference   JSON NOT NULL,
    favorites   JSON,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_user_id_idx ON reports (user_id);
CREATE INDEX IF NOT EXISTS reports_created_at_idx ON reports (created_at);
)sql"},
        // Version 2 created k9's k9_partitions table, which the DatabaseManager now makes
        // itself; the version stays, so that files made before and after agree.
        {2, "k9 bookkeeping: the journal's partitions (made by k9 itself)", "SELECT 1"},
    };
    return migrations;
}

}  // namespace k9::repo
