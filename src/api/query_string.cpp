#include "api/query_string.hpp"

#include <algorithm>

#include "common/http_client.hpp"

namespace k9::api {
namespace {

std::string form_decode(std::string_view text) {
    std::string plus_as_space(text);
    std::replace(plus_as_space.begin(), plus_as_space.end(), '+', ' ');
    return http::url_decode(plus_as_space);
}

}  // namespace

void parse_query_string(std::string_view raw, std::multimap<std::string, std::string>& query) {
    if (!raw.empty() && raw.front() == '?') raw.remove_prefix(1);
    while (!raw.empty()) {
        const auto amp = raw.find('&');
        const std::string_view pair = raw.substr(0, amp);
        raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) {
            query.emplace(form_decode(pair), "");
        } else {
            query.emplace(form_decode(pair.substr(0, eq)), form_decode(pair.substr(eq + 1)));
        }
    }
}

}  // namespace k9::api
