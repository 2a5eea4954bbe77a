#include "db/journal.hpp"

#include <cstdio>

#include <nlohmann/json.hpp>

namespace k9::db {
using nlohmann::json;
using store::ErrorKind;
using store::StoreError;

namespace {
constexpr int kFormat = 1;
constexpr std::size_t kSeqDigits = 20;
}  // namespace

std::string JournalEntry::serialize() const {
    json muts = json::array();
    for (const auto& m : mutations) muts.push_back({{"name", m.name}, {"params", m.params}});
    json j{{"format", kFormat}, {"seq", seq}, {"writer", writer}, {"nonce", nonce}, {"mutations", muts}};
    if (reset) j["reset"] = true;
    return j.dump();
}

JournalEntry JournalEntry::parse(const std::string& bytes, const std::string& where) {
    try {
        const json j = json::parse(bytes);
        if (j.at("format").get<int>() != kFormat) {
            throw StoreError(ErrorKind::Corrupt, where + " is a journal entry of an unknown format; upgrade k9");
        }
        JournalEntry e;
        e.seq = j.at("seq").get<std::int64_t>();
        e.writer = j.at("writer").get<std::string>();
        e.nonce = j.at("nonce").get<std::string>();
        for (const auto& m : j.at("mutations")) e.mutations.push_back({m.at("name").get<std::string>(), m.at("params")});
        e.reset = j.value("reset", false);
        return e;
    } catch (const json::exception& e) {
        throw StoreError(ErrorKind::Corrupt, where + " is not a valid journal entry: " + e.what());
    }
}

std::string Journal::key(std::int64_t seq) const {
    char digits[32];
    std::snprintf(digits, sizeof digits, "%020lld", static_cast<long long>(seq));
    return prefix_ + digits;
}

std::optional<std::int64_t> Journal::seq_of(const std::string& k) const {
    if (k.size() != prefix_.size() + kSeqDigits || k.compare(0, prefix_.size(), prefix_) != 0) return std::nullopt;
    std::int64_t v = 0;
    for (std::size_t i = prefix_.size(); i < k.size(); ++i) {
        if (k[i] < '0' || k[i] > '9') return std::nullopt;
        v = v * 10 + (k[i] - '0');
    }
    return v;
}

Journal::AppendResult Journal::append(const JournalEntry& entry) {
    store::PutOptions put;
    put.precondition = store::Precondition::if_none_match_any();
    put.metadata = {{kMetaWriter, entry.writer}, {kMetaNonce, entry.nonce}};
    try {
        store_.put_bytes(entry.serialize(), key(entry.seq), put);
        return AppendResult::Appended;
    } catch (const StoreError& e) {
        if (e.is_precondition_failed()) return AppendResult::Taken;
        throw;
    }
}

bool Journal::is_ours(std::int64_t seq, const std::string& writer, const std::string& nonce) {
    try {
        const auto info = store_.head(key(seq));
        auto w = info.metadata.find(kMetaWriter);
        auto n = info.metadata.find(kMetaNonce);
        return w != info.metadata.end() && n != info.metadata.end() && w->second == writer && n->second == nonce;
    } catch (const StoreError& e) {
        if (e.is_not_found()) return false;
        throw;
    }
}

std::vector<std::int64_t> Journal::list_after(std::int64_t after) {
    std::vector<std::int64_t> out;
    for (const auto& o : store_.list(prefix_, after > 0 ? key(after) : std::string())) {
        if (auto s = seq_of(o.key); s && *s > after) out.push_back(*s);
    }
    return out;
}

JournalEntry Journal::read(std::int64_t seq) {
    const std::string k = key(seq);
    JournalEntry e = JournalEntry::parse(store_.get_bytes(k), store_.url_for(k));
    if (e.seq != seq) {
        throw StoreError(ErrorKind::Corrupt, store_.url_for(k) + " holds seq " + std::to_string(e.seq));
    }
    return e;
}

int Journal::remove_upto(std::int64_t upto) {
    int removed = 0;
    for (const auto& o : store_.list(prefix_)) {
        const auto s = seq_of(o.key);
        if (!s || *s > upto) continue;
        store_.remove(o.key);
        ++removed;
    }
    return removed;
}

std::vector<std::int64_t> Journal::doubly_owned(std::int64_t after) {
    std::vector<std::int64_t> out;
    const auto versions = store_.list_all_versions(prefix_);
    // Newest first within a key: a version directly older than another version (no
    // delete marker between them) was still current when the newer one was written.
    for (std::size_t i = 0; i + 1 < versions.size(); ++i) {
        const auto& newer = versions[i];
        const auto& older = versions[i + 1];
        if (newer.key != older.key || newer.is_delete_marker || older.is_delete_marker) continue;
        const auto s = seq_of(newer.key);
        if (s && *s > after && (out.empty() || out.back() != *s)) out.push_back(*s);
    }
    return out;
}

std::optional<JournalHole> first_hole(std::int64_t after, const std::vector<std::int64_t>& seqs) {
    std::int64_t expected = after + 1;
    for (const std::int64_t s : seqs) {
        if (s > expected) return JournalHole{expected, s - 1};
        expected = s + 1;
    }
    return std::nullopt;
}

std::string hole_message(const std::string& url, const JournalHole& hole, std::int64_t snapshot_seq) {
    const std::string missing = hole.first == hole.last
                                    ? "entry " + std::to_string(hole.first)
                                    : "entries " + std::to_string(hole.first) + " to " + std::to_string(hole.last);
    return "the journal of " + url + " is missing " + missing + " while entry " + std::to_string(hole.last + 1) +
           " exists, and the snapshot holds only up to " + std::to_string(snapshot_seq) +
           ". k9 never removes entries above the snapshot, so someone deleted them: the writes after " +
           std::to_string(hole.first - 1) +
           " cannot be replayed. If the bucket keeps versions, undelete the missing entries (remove their "
           "delete markers); otherwise make a good version current with `k9db versions` and `k9db restore "
           "--version-id ID` (later writes are lost), or replace the database with `k9db --upload --file DB "
           "--force`. Until then this copy serves nothing newer than entry " +
           std::to_string(hole.first - 1);
}

}  // namespace k9::db
