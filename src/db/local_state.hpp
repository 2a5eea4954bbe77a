#pragma once
// What k9 remembers about a local database file between processes, kept beside it in
// "<db>.k9state" (JSON, written atomically): which remote object it belongs to, the
// remote ETag and write sequence it was last equal to, and when it was last persisted.
// Pending writes = the database's own write sequence (k9_meta.seq, committed with
// each write) minus base_seq, so the count survives crashes without a write here.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

namespace k9::db {

struct LocalState {
    enum class Origin { Downloaded, Created, Unknown };

    std::string remote;                    // URL of the snapshot object
    Origin origin = Origin::Unknown;       // how the local file came to be
    std::optional<std::string> base_etag;  // remote ETag the file was last equal to
    std::int64_t base_seq = 0;  // k9_meta.seq (journal: the partitions' sum) at that point
    int base_schema = 0;        // schema version at that point
    std::optional<std::int64_t> last_persist;  // microseconds since the epoch
    std::optional<std::int64_t> last_download;
    std::string
        base_seqs;  // journal mode: every partition's seq at that point ("12,0,5"; "" unknown)

    static std::filesystem::path path_for(const std::filesystem::path& db_path);
    // nullopt when there is no state file. A damaged one is reported by throwing.
    static std::optional<LocalState> load(const std::filesystem::path& db_path);
    void save(const std::filesystem::path& db_path) const;
};

std::string to_string(LocalState::Origin origin);

}  // namespace k9::db
