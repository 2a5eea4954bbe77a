#pragma once
// Journal mode replays a `k9db sql` write on every other copy from its SQL text, so
// the statement must give the same result everywhere. This finds calls to functions
// whose value differs between runs (now(), random(), uuid(), nextval(), ...) outside
// string literals and comments.

#include <optional>
#include <string>
#include <string_view>

namespace k9::db {

// The first non-deterministic function the SQL calls, e.g. "now"; nullopt when none.
std::optional<std::string> nondeterministic_call(std::string_view sql);

}  // namespace k9::db
