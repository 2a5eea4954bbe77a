#pragma once
// UTF-8 validity: well-formed sequences only (no overlongs, no surrogates, nothing
// above U+10FFFF). Text that reaches DuckDB or JSON must pass it.

#include <string_view>

namespace k9 {

bool is_valid_utf8(std::string_view text);

}  // namespace k9
