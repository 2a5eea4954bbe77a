#include "cli/commands.hpp"

#include "cli/format.hpp"

namespace k9::cli {

int run_config(Context& ctx, std::ostream& out) {
    auto rows = ctx.config().settings;
    rows.push_back({"snapshot", ctx.remote_url(), ""});
    out << "k9 configuration\n";
    print_settings(rows, out);
    return kOk;
}

}  // namespace k9::cli
