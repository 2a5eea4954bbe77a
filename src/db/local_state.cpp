#include "db/local_state.hpp"

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "common/fs.hpp"
#include "common/json_integer.hpp"

namespace k9::db {

std::string to_string(LocalState::Origin origin) {
    switch (origin) {
        case LocalState::Origin::Downloaded:
            return "downloaded";
        case LocalState::Origin::Created:
            return "created";
        case LocalState::Origin::Unknown:
            return "unknown";
    }
    return "unknown";
}

namespace {
LocalState::Origin origin_from(const std::string& text) {
    if (text == "downloaded") return LocalState::Origin::Downloaded;
    if (text == "created") return LocalState::Origin::Created;
    return LocalState::Origin::Unknown;
}

template <typename T>
nlohmann::json opt(const std::optional<T>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}
}  // namespace

std::filesystem::path LocalState::path_for(const std::filesystem::path& db_path) {
    return db_path.string() + ".k9state";
}

std::optional<LocalState> LocalState::load(const std::filesystem::path& db_path) {
    const auto path = path_for(db_path);
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) return std::nullopt;
    try {
        const auto j = nlohmann::json::parse(fs::read_file(path));
        LocalState s;
        s.remote = j.at("remote").get<std::string>();
        s.origin = origin_from(j.value("origin", "unknown"));
        if (!j.at("base_etag").is_null()) s.base_etag = j.at("base_etag").get<std::string>();
        s.base_seq = j.value("base_seq", std::int64_t{0});
        s.base_schema = j.value("base_schema", 0);
        s.base_seqs = j.value("base_seqs", "");
        if (j.contains("last_persist") && !j["last_persist"].is_null()) {
            s.last_persist = json_integer<std::int64_t>(j["last_persist"]);
        }
        if (j.contains("last_download") && !j["last_download"].is_null()) {
            s.last_download = json_integer<std::int64_t>(j["last_download"]);
        }
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw std::runtime_error("the state file " + path.string() + " is damaged (" + e.what() +
                                 "); move it away to treat the database as of unknown origin");
    }
}

void LocalState::save(const std::filesystem::path& db_path) const {
    const nlohmann::json j = {
        {"format", 1},
        {"remote", remote},
        {"origin", to_string(origin)},
        {"base_etag", opt(base_etag)},
        {"base_seq", base_seq},
        {"base_schema", base_schema},
        {"base_seqs", base_seqs},
        {"last_persist", opt(last_persist)},
        {"last_download", opt(last_download)},
    };
    fs::atomic_write(path_for(db_path), j.dump(2) + "\n");
}

}  // namespace k9::db
