#pragma once
// Text output of k9db: tables, aligned rows and human-readable sizes.

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "db/duck.hpp"

namespace k9::cli {

// Prints a result as an aligned text table with a header row.
void print_table(const duck::Result& result, std::ostream& out);
// Prints rows as columns at least two spaces apart, whatever the lengths: a column is as
// wide as its widest cell that has another after it (a row's last cell sets no width).
// Every line starts with `indent`; no trailing spaces.
void print_columns(const std::vector<std::vector<std::string>>& rows, std::ostream& out,
                   const std::string& indent = "");
// Prints `k9db --config`'s rows: "  VARIABLE  value  (source)" (no parentheses when the
// source is empty).
void print_settings(const std::vector<config::Setting>& settings, std::ostream& out);
// "1.5 MB (1572864 bytes)"
std::string human_bytes(std::uint64_t bytes);

}  // namespace k9::cli
