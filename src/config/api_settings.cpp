// The "api" variables of the registry, read into ApiSettings.
#include <algorithm>
#include <filesystem>

#include "config/config.hpp"

namespace k9::config {
namespace {

constexpr std::size_t kMinSecretBytes = 32;

std::vector<std::string> comma_list(const std::string& list) {
    std::vector<std::string> items;
    std::size_t start = 0;
    while (start <= list.size()) {
        const auto comma = list.find(',', start);
        std::string item =
            list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        item.erase(0, item.find_first_not_of(' '));
        item.erase(item.find_last_not_of(' ') + 1);
        if (!item.empty()) items.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

}  // namespace

ApiSettings load_api_settings(EnvReader& env, bool journal) {
    ApiSettings a;
    if (auto s = env.text("K9_JWT_SECRET")) {
        if (s->size() < kMinSecretBytes) {
            throw ConfigError("K9_JWT_SECRET",
                              "is " + std::to_string(s->size()) +
                                  " bytes; HS256 needs at least 32 (e.g. openssl rand -hex 32)");
        }
        a.jwt_secret = *s;
    }
    if (auto f = env.text("K9_JWKS_FILE")) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(*f, ec)) {
            throw ConfigError("K9_JWKS_FILE",
                              "'" + *f + "' is not a readable file (a JSON Web Key Set)");
        }
        a.jwks_file = *f;
    }
    if (auto p = env.text("K9_COGNITO_USER_POOL_ID")) {
        const auto us = p->find('_');
        const bool ok =
            us != std::string::npos && us > 0 && us + 1 < p->size() &&
            std::all_of(p->begin(), p->end(), [](char c) {
                return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
            });
        if (!ok)
            throw ConfigError("K9_COGNITO_USER_POOL_ID",
                              "'" + *p + "' is not a user pool id (e.g. us-east-1_AbC123)");
        a.user_pool_id = *p;
    }
    if (auto list = env.text("K9_JWT_AUDIENCE")) a.audiences = comma_list(*list);
    // In journal mode a persist is a compaction: the default count is higher.
    const int persist_writes = journal ? 1000 : a.persist_writes;
    a.persist_writes = static_cast<int>(env.number("K9_PERSIST_WRITES", persist_writes));
    if (!env.text("K9_PERSIST_WRITES")) {
        env.show("K9_PERSIST_WRITES", std::to_string(a.persist_writes),
                 journal ? "1000 in journal mode" : "10 in snapshot mode");
    }
    a.persist_interval_s =
        static_cast<int>(env.number("K9_PERSIST_INTERVAL", a.persist_interval_s));
    a.persist_tail = static_cast<int>(env.number("K9_PERSIST_TAIL", a.persist_tail));
    a.max_body_bytes = static_cast<std::size_t>(
        env.number("K9_MAX_BODY_BYTES", static_cast<long long>(a.max_body_bytes)));
    if (auto g = env.text("K9_ADMIN_GROUP")) {
        const bool ok =
            !g->empty() && g->size() <= 128 && std::none_of(g->begin(), g->end(), [](char c) {
                return std::isspace(static_cast<unsigned char>(c)) || c == ',' || c == '[' ||
                       c == ']';
            });
        if (!ok) {
            throw ConfigError("K9_ADMIN_GROUP", "'" + g->substr(0, 64) +
                                                    "' is not a group name (no spaces, commas or "
                                                    "brackets, at most 128 characters)");
        }
        a.admin_group = *g;
    }
    a.admin_calls_per_minute =
        static_cast<int>(env.number("K9_ADMIN_CALLS_PER_MINUTE", a.admin_calls_per_minute));
    a.response_cache_mb = static_cast<int>(env.number("K9_RESPONSE_CACHE_MB", a.response_cache_mb));
    return a;
}

}  // namespace k9::config
