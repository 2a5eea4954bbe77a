#pragma once
// A Mutation is every change to the database: a name and its parameters (JSON), the form
// the journal keeps. Code that writes uses a typed mutation (TypedMutation below: one type
// per change, with its parameters, journal form and apply); the DatabaseManager applies
// it inside a transaction. Because ids and timestamps are
// made by the caller and carried in the parameters, applying the same mutation to the
// same state always gives the same result: it can be replayed from a journal.

#include <any>
#include <concepts>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

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

// Applies a mutation from its journal form on `conn` (inside the manager's transaction)
// and returns its result as JSON: replays, and the untyped "sql" of k9db.
using MutationFn =
    std::function<nlohmann::json(duck::Connection& conn, const nlohmann::json& params)>;

// A typed mutation: one type per kind of change, its parameters as members.
//   kName            its name in the journal; never changes once entries use it
//   Result           what apply() returns: what the caller answers with, no second read
//   owner()          whose data it changes (its journal partition)
//   params()         its parameters in the journal, and from_params() back again
//                    (throws nlohmann::json::exception for parameters it cannot take)
//   apply(conn)      the change, inside the manager's transaction; throws MutationRejected
//                    when it does not apply to the current state, before changing anything
template <typename M>
concept TypedMutation = requires(const M& m, duck::Connection& conn, const nlohmann::json& p) {
    { M::kName } -> std::convertible_to<const char*>;
    typename M::Result;
    { m.owner() } -> std::convertible_to<std::string>;
    { m.params() } -> std::same_as<nlohmann::json>;
    { M::from_params(p) } -> std::same_as<M>;
    { m.apply(conn) } -> std::same_as<typename M::Result>;
};

// A typed mutation may also apply many of its kind at once in replays (one statement for
// many rows, where one statement per row is DuckDB's floor: about 0.5 ms):
//   static void apply_all(duck::Connection&, const std::vector<M>&)
// with the same effect as apply() on each in order.
template <typename M>
concept BatchedMutation = TypedMutation<M> &&
    requires(duck::Connection& conn, const std::vector<M>& many) {
    {M::apply_all(conn, many)};
};

// The form the journal keeps: a typed mutation's name, parameters and owner.
template <TypedMutation M>
Mutation journal_form(const M& m) {
    return {M::kName, m.params(), m.owner()};
}

// How the copy that takes a write applies it: the typed mutation itself, its result held
// as it is (std::any of M::Result).
using LocalApply = std::function<std::any(duck::Connection& conn)>;

// Replays a run of mutations of one name from their journal forms, in order.
using BatchFn =
    std::function<void(duck::Connection& conn, const std::vector<const nlohmann::json*>& params)>;

class MutationRegistry {
  public:
    void add(const std::string& name, MutationFn fn);
    // Registers a typed mutation for replay: from_params, then apply (the result is not
    // needed); a BatchedMutation also as a batch.
    template <TypedMutation M>
    void add() {
        add(M::kName, [](duck::Connection& conn, const nlohmann::json& params) {
            M::from_params(params).apply(conn);
            return nlohmann::json();
        });
        if constexpr (BatchedMutation<M>) {
            batches_[M::kName] = [](duck::Connection& conn,
                                    const std::vector<const nlohmann::json*>& params) {
                std::vector<M> many;
                many.reserve(params.size());
                for (const auto* p : params) many.push_back(M::from_params(*p));
                M::apply_all(conn, many);
            };
        }
    }
    // The batch replay of `name`; null when it has none.
    const BatchFn* find_batch(const std::string& name) const {
        const auto it = batches_.find(name);
        return it == batches_.end() ? nullptr : &it->second;
    }
    // Throws std::invalid_argument for an unknown name.
    const MutationFn& find(const std::string& name) const;
    bool contains(const std::string& name) const { return fns_.count(name) != 0; }

  private:
    std::map<std::string, MutationFn> fns_;
    std::map<std::string, BatchFn> batches_;
};

// The built-in "sql" mutation: params {"sql": "..."}; runs the statement(s) as given.
nlohmann::json apply_sql_mutation(duck::Connection& conn, const nlohmann::json& params);

}  // namespace k9::db
