#pragma once
// A Mutation is every change to the database: a name and its parameters (JSON).
// The DatabaseManager applies it inside a transaction. Because ids and timestamps are
// made by the caller and carried in the parameters, applying the same mutation to the
// same state always gives the same result: it can be replayed from a journal.

#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "db/duck.hpp"

namespace k9::db {

struct Mutation {
    std::string name;
    nlohmann::json params = nlohmann::json::object();
    // Whose data it changes (a user id): in journal mode it goes to that owner's
    // partition of the journal. Empty: a write of the whole database.
    std::string owner;
};

// Thrown by a mutation that cannot apply to the current state. The transaction is
// rolled back and nothing is counted as written.
class MutationRejected : public std::runtime_error {
  public:
    enum class Reason { NotFound, Conflict, Invalid };
    MutationRejected(Reason why, const std::string& message)
        : std::runtime_error(message), reason(why) {}
    Reason reason;
};

// Applies a mutation on `conn` (inside the manager's transaction) and returns its
// result as JSON (e.g. the row written).
using MutationFn =
    std::function<nlohmann::json(duck::Connection& conn, const nlohmann::json& params)>;

class MutationRegistry {
  public:
    void add(const std::string& name, MutationFn fn);
    // Throws std::invalid_argument for an unknown name.
    const MutationFn& find(const std::string& name) const;
    bool contains(const std::string& name) const { return fns_.count(name) != 0; }

  private:
    std::map<std::string, MutationFn> fns_;
};

// The built-in "sql" mutation: params {"sql": "..."}; runs the statement(s) as given.
nlohmann::json apply_sql_mutation(duck::Connection& conn, const nlohmann::json& params);

}  // namespace k9::db
