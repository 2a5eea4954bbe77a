#include "db/mutation.hpp"

namespace k9::db {

void MutationRegistry::add(const std::string& name, MutationFn fn) {
    fns_[name] = std::move(fn);
}

const MutationFn& MutationRegistry::find(const std::string& name) const {
    auto it = fns_.find(name);
    if (it == fns_.end()) throw std::invalid_argument("unknown mutation '" + name + "'");
    return it->second;
}

nlohmann::json apply_sql_mutation(duck::Connection& conn, const nlohmann::json& params) {
    const std::string sql = params.at("sql").get<std::string>();
    std::size_t changed = 0;
    for (auto& stmt : conn.prepare_all(sql)) changed += stmt.execute().rows_changed();
    return {{"rows_changed", changed}};
}

}  // namespace k9::db
