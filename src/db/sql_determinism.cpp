#include "db/sql_determinism.hpp"

#include <array>
#include <cctype>

namespace k9::db {
namespace {

// Functions whose result depends on the clock, randomness or a sequence's state.
constexpr std::array<std::string_view, 20> kNondeterministic = {"now",
                                                                "current_timestamp",
                                                                "current_date",
                                                                "current_time",
                                                                "get_current_timestamp",
                                                                "get_current_time",
                                                                "today",
                                                                "transaction_timestamp",
                                                                "localtimestamp",
                                                                "localtime",
                                                                "random",
                                                                "setseed",
                                                                "uuid",
                                                                "gen_random_uuid",
                                                                "uuidv4",
                                                                "uuidv7",
                                                                "nextval",
                                                                "currval",
                                                                "current_localtimestamp",
                                                                "statement_timestamp"};

bool word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

}  // namespace

std::optional<std::string> nondeterministic_call(std::string_view sql) {
    std::string lower;
    lower.reserve(sql.size());
    // Blank out string literals, quoted identifiers and comments; lower-case the rest.
    for (std::size_t i = 0; i < sql.size(); ++i) {
        const char c = sql[i];
        if (c == '\'' || c == '"') {
            const char quote = c;
            lower += ' ';
            for (++i; i < sql.size(); ++i) {
                if (sql[i] == quote) {
                    if (i + 1 < sql.size() && sql[i + 1] == quote) {
                        ++i;  // doubled quote inside the literal
                        continue;
                    }
                    break;
                }
            }
            lower += ' ';
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            while (i < sql.size() && sql[i] != '\n') ++i;
            lower += ' ';
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            i += 2;
            while (i + 1 < sql.size() && !(sql[i] == '*' && sql[i + 1] == '/')) ++i;
            ++i;
            lower += ' ';
        } else {
            lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    for (std::size_t i = 0; i < lower.size(); ++i) {
        if (!word_char(lower[i]) || (i > 0 && word_char(lower[i - 1]))) continue;
        std::size_t end = i;
        while (end < lower.size() && word_char(lower[end])) ++end;
        const std::string_view word(lower.data() + i, end - i);
        for (const auto name : kNondeterministic) {
            if (word != name) continue;
            // A call ("now ()") or, for the SQL keywords, a bare use ("current_timestamp").
            std::size_t j = end;
            while (j < lower.size() && std::isspace(static_cast<unsigned char>(lower[j]))) ++j;
            const bool keyword = name.rfind("current_", 0) == 0 || name.rfind("local", 0) == 0;
            if ((j < lower.size() && lower[j] == '(') || keyword) return std::string(name);
        }
        i = end;
    }
    return std::nullopt;
}

}  // namespace k9::db
