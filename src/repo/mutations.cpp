#include "repo/mutations.hpp"

#include "repo/report_repository.hpp"
#include "repo/user_repository.hpp"

namespace k9::repo {

const db::MutationRegistry& k9_mutations() {
    static const db::MutationRegistry registry = [] {
        db::MutationRegistry r;
        UserRepository::register_mutations(r);
        ReportRepository::register_mutations(r);
        return r;
    }();
    return registry;
}

db::ManagerOptions k9_manager_options(const config::Config& config) {
    db::ManagerOptions options;
    options.db_path = config.db_path;
    options.key = config.key;
    options.mutations = &k9_mutations();
    db::apply_durability(config.durability, options);
    options.duckdb = {config.duckdb.threads, config.duckdb.memory_limit_mb};
    return options;
}

}  // namespace k9::repo
