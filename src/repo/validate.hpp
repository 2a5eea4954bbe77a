#pragma once
// Checks shared by the repositories; each throws InvalidInput naming the field.

#include <optional>
#include <string>

#include "repo/models.hpp"

namespace k9::repo {

void check_id(const std::string& field, const std::string& value);
void check_text(const std::string& field, const std::string& value, bool required);
void check_date(const std::string& field, const std::string& value);
void check_url(const std::string& field, const std::string& value);
void check_email(const std::string& field, const std::string& value);

}  // namespace k9::repo
