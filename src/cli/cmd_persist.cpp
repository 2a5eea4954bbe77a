#include "cli/commands.hpp"

#include "cli/format.hpp"
#include "common/log.hpp"

namespace k9::cli {

int run_persist(Context& ctx, std::ostream& out) {
    auto& manager = ctx.manager();
    const std::int64_t pending = manager.pending_writes();
    try {
        const auto result = manager.persist();
        if (!result.uploaded) {
            out << "Nothing to persist: " << ctx.remote_url() << " is up to date (ETag "
                << result.etag << ")\n";
        } else {
            out << "Persisted " << pending << " pending write(s) to " << ctx.remote_url() << " ("
                << human_bytes(result.bytes) << ", ETag " << result.etag << ", "
                << static_cast<long long>(result.duration_ms) << " ms)\n";
        }
        return kOk;
    } catch (const db::PersistConflict& e) {
        log::error(e.what());
        return kConflict;
    }
}

}  // namespace k9::cli
