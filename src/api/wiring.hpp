#pragma once
// Wiring: how the front doors (k9db, k9-api serve, bootstrap) assemble k9's layers from a
// Config. The layers below take plain options and never read the configuration.

#include "config/config.hpp"
#include "db/manager.hpp"

namespace k9::api {

// The K9 API's DatabaseManager options: local path, key, the K9 schema and mutations, the
// durability settings and DuckDB's resources.
db::ManagerOptions manager_options(const config::Config& config);

}  // namespace k9::api
