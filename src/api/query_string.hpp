#pragma once
// Query strings as both front doors receive them (the local server's request target,
// API Gateway 2.0's rawQueryString): form-decoded names and values, repeated names kept.

#include <map>
#include <string>
#include <string_view>

namespace k9::api {

// "a=1&b=x+y&a=%32" -> {a:1, a:2, b:"x y"}; a leading '?' is skipped, a name without '='
// has the empty value, empty pairs are ignored.
void parse_query_string(std::string_view raw, std::multimap<std::string, std::string>& query);

}  // namespace k9::api
