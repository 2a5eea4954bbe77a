#include "db/journal.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

#include "common/json_integer.hpp"
#include "common/log.hpp"
#include "db/partition.hpp"

namespace k9::db {
using nlohmann::json;
using store::ErrorKind;
using store::StoreError;

namespace {
constexpr int kLegacyFormat = 1;  // the single journal
constexpr int kFormat = 2;        // partitions
constexpr std::size_t kSeqDigits = 20;
constexpr std::size_t kPartitionDigits = 3;

std::string digits(std::int64_t v, int width) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
    return buf;
}

std::optional<std::int64_t> number(std::string_view s, std::size_t width) {
    if (s.size() != width) return std::nullopt;
    std::int64_t v = 0;
    for (const char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + (c - '0');
    }
    return v;
}

}  // namespace

std::string JournalEntry::serialize() const {
    json muts = json::array();
    for (const auto& m : mutations) {
        json one{{"name", m.name}, {"params", m.params}};
        if (!m.owner.empty()) one["owner"] = m.owner;
        muts.push_back(std::move(one));
    }
    json j{{"format", kFormat}, {"partition", partition}, {"seq", seq},
           {"writer", writer},  {"nonce", nonce},         {"mutations", muts}};
    if (reset) j["reset"] = true;
    if (upgrade) j["upgrade"] = true;
    return j.dump();
}

std::string JournalEntry::with_copies(std::string own, const std::vector<std::string>& copies) {
    if (copies.empty()) return own;
    own.pop_back();  // the closing brace of the entry's object
    own += R"(,"carried":[)";
    for (std::size_t i = 0; i < copies.size(); ++i) {
        if (i > 0) own += ',';
        own += copies[i];
    }
    own += "]}";
    return own;
}

namespace {

JournalEntry entry_from(const json& j, const std::string& where);

// The carried copies of `entry`, or none when they are not what they must be (they only
// save GETs: a reader without them fetches the entries).
std::vector<JournalEntry> carried_from(const json& list, const JournalEntry& entry,
                                       const std::string& where) {
    std::vector<JournalEntry> out;
    try {
        if (!list.is_array()) throw std::invalid_argument("carried is not a list");
        std::int64_t expected = entry.seq - static_cast<std::int64_t>(list.size());
        for (const auto& c : list) {
            if (c.contains("carried")) throw std::invalid_argument("a copy carries copies");
            JournalEntry e = entry_from(c, where);
            if (e.partition != entry.partition || e.seq != expected++)
                throw std::invalid_argument("copies out of order");
            out.push_back(std::move(e));
        }
    } catch (const std::exception& e) {
        log::warning(
            "A journal entry's carried copies are malformed; the entries are fetched "
            "instead",
            {{"entry", where}, {"error", e.what()}});
        out.clear();
    }
    return out;
}

JournalEntry entry_from(const json& j, const std::string& where) {
    const int format = json_integer<int>(j.at("format"));
    if (format != kFormat && format != kLegacyFormat) {
        throw StoreError(ErrorKind::Corrupt,
                         where + " is a journal entry of an unknown format; upgrade k9");
    }
    JournalEntry e;
    e.partition = format == kFormat ? json_integer<int>(j.at("partition")) : -1;
    e.seq = json_integer<std::int64_t>(j.at("seq"));
    e.writer = j.at("writer").get<std::string>();
    e.nonce = j.at("nonce").get<std::string>();
    for (const auto& m : j.at("mutations")) {
        e.mutations.push_back(
            {m.at("name").get<std::string>(), m.at("params"), m.value("owner", "")});
    }
    e.reset = j.value("reset", false);
    e.upgrade = j.value("upgrade", false);
    return e;
}

}  // namespace

JournalEntry JournalEntry::parse(const std::string& bytes, const std::string& where) {
    try {
        const json j = json::parse(bytes);
        JournalEntry e = entry_from(j, where);
        if (const auto it = j.find("carried"); it != j.end())
            e.carried = carried_from(*it, e, where);
        return e;
    } catch (const json::exception& e) {
        throw StoreError(ErrorKind::Corrupt, where + " is not a valid journal entry: " + e.what());
    }
}

Journal::Journal(store::ObjectStore& store, const std::string& snapshot_key)
    : store_(store), prefix_(snapshot_key + ".journal/") {}

std::string Journal::key(int partition, std::int64_t seq) const {
    if (partition < 0) return legacy_key(seq);
    return prefix_ + digits(partition, kPartitionDigits) + "/" + digits(seq, kSeqDigits);
}

std::string Journal::legacy_key(std::int64_t seq) const {
    return prefix_ + digits(seq, kSeqDigits);
}

std::optional<JournalPosition> Journal::position_of(const std::string& k) const {
    if (k.compare(0, prefix_.size(), prefix_) != 0) return std::nullopt;
    const std::string_view rest = std::string_view(k).substr(prefix_.size());
    if (auto seq = number(rest, kSeqDigits)) return JournalPosition{-1, *seq};
    if (rest.size() != kPartitionDigits + 1 + kSeqDigits || rest[kPartitionDigits] != '/')
        return std::nullopt;
    const auto p = number(rest.substr(0, kPartitionDigits), kPartitionDigits);
    const auto seq = number(rest.substr(kPartitionDigits + 1), kSeqDigits);
    if (!p || !seq) return std::nullopt;
    return JournalPosition{static_cast<int>(*p), *seq};
}

Journal::AppendResult Journal::append(const JournalEntry& entry, const std::string& bytes) {
    store::PutOptions put;
    put.precondition = store::Precondition::if_none_match_any();
    put.metadata = {{kMetaWriter, entry.writer}, {kMetaNonce, entry.nonce}};
    try {
        store_.put_bytes(bytes, key(entry.partition, entry.seq), put);
        return AppendResult::Appended;
    } catch (const StoreError& e) {
        if (e.is_precondition_failed()) return AppendResult::Taken;
        throw;
    }
}

bool JournalEntry::same_attempt(const JournalEntry& other) const {
    return writer == other.writer && nonce == other.nonce;
}

std::optional<JournalEntry> Journal::read(int partition, std::int64_t seq) {
    const std::string k = key(partition, seq);
    std::string bytes;
    try {
        bytes = store_.get_bytes(k);
    } catch (const StoreError& e) {
        if (e.is_not_found()) return std::nullopt;
        throw;
    }
    JournalEntry e = JournalEntry::parse(bytes, store_.url_for(k));
    if (e.seq != seq || e.partition != partition) {
        throw StoreError(ErrorKind::Corrupt, store_.url_for(k) + " holds partition " +
                                                 std::to_string(e.partition) + " seq " +
                                                 std::to_string(e.seq));
    }
    return e;
}

std::vector<std::int64_t> Journal::list(int partition, std::int64_t after) {
    const std::string under =
        partition < 0 ? prefix_ : prefix_ + digits(partition, kPartitionDigits) + "/";
    std::vector<std::int64_t> out;
    for (const auto& o : store_.list(under, after > 0 ? key(partition, after) : std::string())) {
        const auto pos = position_of(o.key);
        if (pos && pos->partition == partition && pos->seq > after) out.push_back(pos->seq);
    }
    return out;
}

std::map<int, std::vector<std::int64_t>> Journal::list_all() {
    std::map<int, std::vector<std::int64_t>> out;
    for (const auto& o : store_.list(prefix_)) {
        if (const auto pos = position_of(o.key)) out[pos->partition].push_back(pos->seq);
    }
    return out;  // keys list in byte order: ascending seqs within a partition
}

void Journal::remove(int partition, std::int64_t seq) {
    store_.remove(key(partition, seq));
}

std::vector<JournalPosition> Journal::doubly_owned() {
    std::vector<JournalPosition> out;
    const auto versions = store_.list_all_versions(prefix_);
    // Newest first within a key: a version directly older than another version (no
    // delete marker between them) was still current when the newer one was written.
    for (std::size_t i = 0; i + 1 < versions.size(); ++i) {
        const auto& newer = versions[i];
        const auto& older = versions[i + 1];
        if (newer.key != older.key || newer.is_delete_marker || older.is_delete_marker) continue;
        const auto pos = position_of(newer.key);
        if (pos && (out.empty() || !(out.back() == *pos))) out.push_back(*pos);
    }
    return out;
}

std::optional<JournalHole> first_hole(int partition, std::int64_t after,
                                      const std::vector<std::int64_t>& seqs) {
    std::int64_t expected = after + 1;
    for (const std::int64_t s : seqs) {
        if (s > expected) return JournalHole{partition, expected, s - 1};
        expected = s + 1;
    }
    return std::nullopt;
}

std::string hole_message(const std::string& url, const JournalHole& hole,
                         std::int64_t snapshot_seq) {
    const std::string missing = hole.first == hole.last ? "entry " + std::to_string(hole.first)
                                                        : "entries " + std::to_string(hole.first) +
                                                              " to " + std::to_string(hole.last);
    return "partition " + std::to_string(hole.partition) + " of the journal of " + url +
           " is missing " + missing + " while entry " + std::to_string(hole.last + 1) +
           " exists, and the snapshot holds it only up to " + std::to_string(snapshot_seq) +
           ". k9 never removes entries above the snapshot, so someone deleted them: the writes "
           "after " +
           std::to_string(hole.first - 1) +
           " cannot be replayed. If the bucket keeps versions, undelete the missing entries "
           "(remove their "
           "delete markers); otherwise make a good version current with `k9db versions` and `k9db "
           "restore "
           "--version-id ID` (later writes are lost), or replace the database with `k9db --upload "
           "--file DB "
           "--force`. Until then the users of this partition get 503";
}

}  // namespace k9::db
