#include "api/wiring.hpp"

#include "repo/mutations.hpp"

namespace k9::api {

db::ManagerOptions manager_options(const config::Config& config) {
    db::ManagerOptions options;
    options.db_path = config.db_path;
    options.key = config.key;
    options.mutations = &repo::k9_mutations();
    options.schema = &repo::k9_schema();
    const auto& d = config.durability;
    options.durability = d.journal ? db::Durability::Journal : db::Durability::Snapshot;
    options.journal_retention_s = d.retention_s;
    options.max_staleness_ms = d.max_staleness_ms;
    options.max_batch = d.max_batch;
    options.partitions = d.partitions;
    options.duckdb = {config.duckdb.threads, config.duckdb.memory_limit_mb};
    return options;
}

}  // namespace k9::api
