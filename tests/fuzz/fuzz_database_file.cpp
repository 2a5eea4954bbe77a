// A downloaded snapshot: the bytes are written to a file and go through the checks a download
// goes through before it is installed, db::verify_snapshot_file with the object's metadata
// (size = the input's size) and DuckDB's open check. A file it accepts is then read the way
// `k9db verify` reads one (db::summarize_tables: every table, every row).
// Allowed: StoreError(Corrupt) from the verification, the documented rejection; duck::Error
// from reading an accepted file. Anything else, and any crash in DuckDB, is a finding.

#include <cstring>
#include <fstream>
#include <string>

#include "db/duck.hpp"
#include "db/snapshot.hpp"
#include "fuzz_target.hpp"
#include "store/error.hpp"

namespace {

using k9::fuzz::check;

constexpr std::size_t kMagicOffset = 8;
constexpr std::size_t kMagicEnd = kMagicOffset + 4;

}  // namespace

K9_FUZZ_TARGET(data, size) {
    static k9::fuzz::ScratchDir dir("k9-fuzz-db");
    const std::filesystem::path file = dir.path() / "k9_api.db";
    std::filesystem::remove(dir.path() / "k9_api.db.wal");
    {
        std::ofstream out(file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
        check(out.good(), "cannot write the scratch database file", file.string());
    }

    k9::store::ObjectInfo info;
    info.key = "databases/k9_api_dev.db";
    info.size = size;
    try {
        k9::db::verify_snapshot_file(file, info, "fuzz://databases/k9_api_dev.db");
    } catch (const k9::store::StoreError& e) {
        check(e.kind() == k9::store::ErrorKind::Corrupt,
              "a bad snapshot was rejected as something other than Corrupt", e.what());
        return 0;
    }
    check(size >= kMagicEnd && std::memcmp(data + kMagicOffset, "DUCK", 4) == 0,
          "verify_snapshot_file accepted a file without DuckDB's magic");
    try {
        k9::db::summarize_tables(file);
    } catch (const k9::duck::Error&) {
    }
    return 0;
}
