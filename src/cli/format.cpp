#include "cli/format.hpp"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace k9::cli {

void print_table(const duck::Result& result, std::ostream& out) {
    const std::size_t cols = result.columns();
    std::vector<std::vector<std::string>> cells(result.rows() + 1, std::vector<std::string>(cols));
    std::vector<std::size_t> width(cols, 0);
    for (std::size_t c = 0; c < cols; ++c) {
        cells[0][c] = result.column_name(c);
        for (std::size_t r = 0; r < result.rows(); ++r) {
            cells[r + 1][c] = result.is_null(c, r) ? "NULL" : result.text(c, r);
        }
        for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
    }
    auto line = [&](const std::vector<std::string>& row) {
        for (std::size_t c = 0; c < cols; ++c) {
            out << (c ? " | " : "") << row[c];
            if (c + 1 < cols) out << std::string(width[c] - row[c].size(), ' ');
        }
        out << "\n";
    };
    line(cells[0]);
    for (std::size_t c = 0; c < cols; ++c) out << (c ? "-+-" : "") << std::string(width[c], '-');
    out << "\n";
    for (std::size_t r = 1; r < cells.size(); ++r) line(cells[r]);
    out << "(" << result.rows() << (result.rows() == 1 ? " row)" : " rows)") << "\n";
}

void print_columns(const std::vector<std::vector<std::string>>& rows, std::ostream& out,
                   const std::string& indent) {
    constexpr std::size_t kGap = 2;
    // A row's cells up to its last non-empty one: nothing is padded before nothing.
    auto used = [](const std::vector<std::string>& row) {
        std::size_t n = row.size();
        while (n > 0 && row[n - 1].empty()) --n;
        return n;
    };
    std::vector<std::size_t> width;
    for (const auto& row : rows) {
        const std::size_t n = used(row);
        if (width.size() < n) width.resize(n, 0);
        for (std::size_t c = 0; c + 1 < n; ++c) width[c] = std::max(width[c], row[c].size());
    }
    for (const auto& row : rows) {
        const std::size_t n = used(row);
        std::string line = indent;
        for (std::size_t c = 0; c < n; ++c) {
            line += row[c];
            if (c + 1 < n) line += std::string(width[c] - row[c].size() + kGap, ' ');
        }
        out << line << "\n";
    }
}

void print_settings(const std::vector<config::Setting>& settings, std::ostream& out) {
    std::vector<std::vector<std::string>> rows;
    rows.reserve(settings.size());
    for (const auto& s : settings) {
        rows.push_back({s.variable, s.value, s.source.empty() ? "" : "(" + s.source + ")"});
    }
    print_columns(rows, out, "  ");
}

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"bytes", "KB", "MB", "GB", "TB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1000 && u < 4) v /= 1000, ++u;
    char buf[64];
    if (u == 0) {
        std::snprintf(buf, sizeof buf, "%llu bytes", static_cast<unsigned long long>(bytes));
    } else {
        std::snprintf(buf, sizeof buf, "%.1f %s (%llu bytes)", v, units[u],
                      static_cast<unsigned long long>(bytes));
    }
    return buf;
}

}  // namespace k9::cli
