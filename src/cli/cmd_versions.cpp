#include <iomanip>

#include "cli/commands.hpp"
#include "cli/format.hpp"
#include "common/log.hpp"

namespace k9::cli {

int run_versions(Context& ctx, std::ostream& out) {
    const auto versions = ctx.store().list_versions(ctx.config().key);
    if (versions.empty()) {
        out << "No versions of " << ctx.remote_url()
            << " (the object does not exist, or the store keeps no versions: enable bucket "
               "versioning, "
               "or use file://...?versions=on)\n";
        return kOk;
    }
    out << "Versions of " << ctx.remote_url() << ", newest first\n";
    out << std::left << std::setw(40) << "version id" << std::setw(30) << "last modified"
        << std::setw(26) << "size"
        << "\n";
    for (const auto& v : versions) {
        out << std::left << std::setw(40) << v.version_id << std::setw(30)
            << format_iso8601(v.last_modified) << std::setw(26)
            << (v.is_delete_marker ? "(deleted)" : human_bytes(v.size))
            << (v.is_latest ? "current" : "") << "\n";
    }
    return kOk;
}

}  // namespace k9::cli
