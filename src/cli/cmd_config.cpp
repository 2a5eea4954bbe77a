#include "cli/commands.hpp"

#include <iomanip>

namespace k9::cli {

int run_config(Context& ctx, std::ostream& out) {
    const auto& c = ctx.config();
    out << "k9 configuration\n";
    for (const auto& s : c.settings) {
        out << "  " << std::left << std::setw(20) << s.variable << std::setw(48) << s.value << " ("
            << s.source << ")\n";
    }
    out << "  " << std::left << std::setw(20) << "snapshot" << ctx.remote_url() << "\n";
    return kOk;
}

}  // namespace k9::cli
