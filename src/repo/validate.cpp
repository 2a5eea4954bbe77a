#include "repo/validate.hpp"

#include <algorithm>

#include "common/utf8.hpp"

namespace k9::repo {

namespace {
bool has_control_chars(const std::string& s) {
    return std::any_of(s.begin(), s.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u < 0x20 && c != '\t' && c != '\n' && c != '\r';
    });
}
}  // namespace

void check_id(const std::string& field, const std::string& value) {
    if (value.empty() || value.size() > kMaxProductIdLength) {
        throw InvalidInput(
            field, field + " must be 1 to " + std::to_string(kMaxProductIdLength) + " characters");
    }
    if (!is_valid_utf8(value)) throw InvalidInput(field, field + " must be valid UTF-8");
    if (has_control_chars(value) || value.find('/') != std::string::npos) {
        throw InvalidInput(field, field + " must not contain control characters or '/'");
    }
}

void check_text(const std::string& field, const std::string& value, bool required) {
    if (required && value.find_first_not_of(" \t\r\n") == std::string::npos) {
        throw InvalidInput(field, field + " must not be empty");
    }
    if (value.size() > kMaxTextLength) {
        throw InvalidInput(field,
                           field + " must be at most " + std::to_string(kMaxTextLength) + " bytes");
    }
    if (!is_valid_utf8(value)) throw InvalidInput(field, field + " must be valid UTF-8");
    if (has_control_chars(value))
        throw InvalidInput(field, field + " must not contain control characters");
}

void check_date(const std::string& field, const std::string& value) {
    if (!is_calendar_date(value)) {
        throw InvalidInput(field, field + " must be a calendar date as YYYY-MM-DD, got '" +
                                      value.substr(0, 40) + "'");
    }
}

void check_url(const std::string& field, const std::string& value) {
    check_text(field, value, true);
    if (value.rfind("https://", 0) != 0 && value.rfind("http://", 0) != 0) {
        throw InvalidInput(field, field + " must be an http:// or https:// URL");
    }
}

void check_email(const std::string& field, const std::string& value) {
    check_text(field, value, true);
    const auto at = value.find('@');
    if (at == std::string::npos || at == 0 || at + 1 >= value.size() ||
        value.find_first_of(" \t") != std::string::npos) {
        throw InvalidInput(field, field + " must be an email address");
    }
}

}  // namespace k9::repo
