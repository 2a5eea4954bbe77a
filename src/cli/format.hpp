#pragma once
// Text output of k9db: tables and human-readable sizes.

#include <cstdint>
#include <ostream>
#include <string>

#include "db/duck.hpp"

namespace k9::cli {

// Prints a result as an aligned text table with a header row.
void print_table(const duck::Result& result, std::ostream& out);
// "1.5 MB (1572864 bytes)"
std::string human_bytes(std::uint64_t bytes);

}  // namespace k9::cli
