#pragma once
// The write journal in the object store (K9_DURABILITY=journal): every acknowledged
// write is an object `<snapshot key>.journal/<seq, 20 digits>` created with
// If-None-Match: *, so exactly one writer owns each seq. An entry holds a batch of
// mutations (group commit), the writer's id and a nonce that lets a writer recognise
// its own entry after a lost response. The snapshot records the last seq it contains;
// entries at or below it are deleted once the snapshot has existed for the retention
// delay.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "db/mutation.hpp"
#include "store/object_store.hpp"

namespace k9::db {

struct JournalEntry {
    std::int64_t seq = 0;
    std::string writer;  // who wrote it (process-unique id)
    std::string nonce;   // unique per append attempt
    std::vector<Mutation> mutations;
    // A restore or an upload replaced the snapshot: the state after this entry is the
    // snapshot whose k9-seq is this seq, not the result of the entries before it.
    bool reset = false;

    std::string serialize() const;
    // Throws store::StoreError(Corrupt) when the bytes are not a journal entry.
    static JournalEntry parse(const std::string& bytes, const std::string& where);
};

// Naming and access for one snapshot key's journal.
class Journal {
public:
    Journal(store::ObjectStore& store, std::string snapshot_key)
        : store_(store), prefix_(std::move(snapshot_key) + ".journal/") {}

    std::string key(std::int64_t seq) const;
    const std::string& prefix() const { return prefix_; }
    // The seq of a journal key, or nullopt for a key that is not one.
    std::optional<std::int64_t> seq_of(const std::string& key) const;

    enum class AppendResult { Appended, Taken };
    // Creates entry.seq (If-None-Match: *). Taken: someone else has that seq, or our own
    // earlier attempt does (see is_ours). Other failures throw StoreError.
    AppendResult append(const JournalEntry& entry);
    // Whether the stored entry at `seq` is the one this writer attempted with `nonce`.
    bool is_ours(std::int64_t seq, const std::string& writer, const std::string& nonce);
    // Seqs of the entries after `after`, ascending.
    std::vector<std::int64_t> list_after(std::int64_t after);
    JournalEntry read(std::int64_t seq);
    // Deletes the entries at or below `upto`; returns how many.
    int remove_upto(std::int64_t upto);
    // Seqs after `after` that more than one writer created: on a store that keeps
    // versions, a version written while another was current (If-None-Match: * did not
    // hold). Empty on a store without versions, where this cannot be seen.
    std::vector<std::int64_t> doubly_owned(std::int64_t after);

private:
    store::ObjectStore& store_;
    std::string prefix_;
};

// Entries first..last are missing while a later entry exists, above the snapshot's seq.
// k9 removes only entries a snapshot covers, so this is damage, never a race.
struct JournalHole {
    std::int64_t first = 0;
    std::int64_t last = 0;
};

// The first gap in `seqs` (ascending, all above `after`), counting from after + 1.
std::optional<JournalHole> first_hole(std::int64_t after, const std::vector<std::int64_t>& seqs);

// What to tell an operator about a hole in the journal of `url` whose snapshot holds
// up to `snapshot_seq`.
std::string hole_message(const std::string& url, const JournalHole& hole, std::int64_t snapshot_seq);

inline constexpr const char* kMetaWriter = "k9-writer";
inline constexpr const char* kMetaNonce = "k9-nonce";

}  // namespace k9::db
