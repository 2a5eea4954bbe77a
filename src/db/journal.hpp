#pragma once
// The write journal in the object store (K9_DURABILITY=journal). Every acknowledged write
// is an object created with If-None-Match: *, so exactly one writer owns each position:
//
//   <snapshot key>.journal/<ppp>/<seq, 20 digits>  an entry of partition ppp (3 digits)
//   <snapshot key>.journal/<seq, 20 digits>        the single journal of k9 before
//                                                  partitions (read only to upgrade it)
//
// The partition count is the snapshot's (metadata k9-partitions, and its k9_partitions
// table); a database gets it when its first partitioned snapshot is made (upgrade.hpp).
// An entry holds a batch of mutations of one partition (group commit), the writer's id
// and a nonce that lets a writer recognise its own entry after a lost response. The
// snapshot records every partition's last seq; entries at or below it are deleted once
// the snapshot has existed for the retention delay, on the store's clock.
//
// Carried copies: the seqs of a partition form blocks of kCarryBlock (1-32, 33-64, ...),
// and an entry carries copies of the entries of its block before it, as far as its
// writer holds them (field "carried"). A reader far behind fetches the last entry of
// each block instead of every entry: a cold start's first read of a long tail is a few
// GETs, not one per write. The copies are never the authority on what exists: a
// listing is (a missing entry is a hole whatever copies exist), and a reader takes from
// the store what no copy holds. Readers that do not know the field ignore it.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "db/mutation.hpp"
#include "store/object_store.hpp"

namespace k9::db {

struct JournalEntry {
    int partition = 0;
    std::int64_t seq = 0;
    std::string writer{};  // who wrote it (process-unique id)
    std::string nonce{};   // unique per append attempt
    std::vector<Mutation> mutations{};
    // A restore or an upload replaced the snapshot: the state after this entry is the
    // snapshot whose seq of this partition is this seq, not the result of the entries
    // before it. A reset takes the next seq of every partition.
    bool reset = false;
    // In the single journal of older k9: it ends here; the partitioned journal goes on.
    // Older k9 cannot read this entry (format 2) and stops, instead of writing past it.
    bool upgrade = false;

    // Copies of the entries just before this one (ascending, consecutive, ending at
    // seq - 1, same partition; none carry copies themselves). Filled by parse(); a
    // malformed list is dropped with a warning (the reader fetches those entries).
    std::vector<JournalEntry> carried{};

    // The entry alone, without carried copies.
    std::string serialize() const;
    // `own` (this entry's serialize()) with carried copies spliced in, each the
    // serialize() of an entry before it.
    static std::string with_copies(std::string own, const std::vector<std::string>& copies);
    // Whether `other` is this very append attempt (same writer and nonce): a 412, or a
    // PUT whose answer was lost, may hide our own entry.
    bool same_attempt(const JournalEntry& other) const;
    // Throws store::StoreError(Corrupt) when the bytes are not a journal entry. Reads
    // format 1 (the single journal: partition 0) and format 2.
    static JournalEntry parse(const std::string& bytes, const std::string& where);
};

// Where an object of the journal sits: an entry of a partition, an entry of the old
// single journal (partition -1), or something else (nullopt).
struct JournalPosition {
    int partition = 0;
    std::int64_t seq = 0;
    bool operator==(const JournalPosition&) const = default;
};

// Naming and access for one snapshot key's journal.
class Journal {
  public:
    Journal(store::ObjectStore& store, const std::string& snapshot_key);

    const std::string& prefix() const { return prefix_; }
    std::string key(int partition, std::int64_t seq) const;
    std::string legacy_key(std::int64_t seq) const;
    std::optional<JournalPosition> position_of(const std::string& key) const;

    enum class AppendResult { Appended, Taken };
    // Creates the entry's object (If-None-Match: *). Taken: the position has an entry:
    // someone else's, or our own earlier attempt's (read it and compare: same_attempt).
    // Other failures throw StoreError. Partition -1: the old single journal.
    AppendResult append(const JournalEntry& entry) { return append(entry, entry.serialize()); }
    // The same with the entry's bytes made by the caller (JournalEntry::with_copies).
    AppendResult append(const JournalEntry& entry, const std::string& bytes);
    // The entry at (partition, seq), or nullopt when there is none. Throws
    // StoreError(Corrupt) for an object that is not the entry it should be.
    std::optional<JournalEntry> read(int partition, std::int64_t seq);
    // Seqs of one partition's entries after `after`, ascending (one LIST, paginated).
    std::vector<std::int64_t> list(int partition, std::int64_t after);
    // Every entry of the journal, by partition (-1: the old single journal), ascending.
    std::map<int, std::vector<std::int64_t>> list_all();
    void remove(int partition, std::int64_t seq);
    // Positions that more than one writer created: on a store that keeps versions, a
    // version written while another was current (If-None-Match: * did not hold).
    // Empty on a store without versions, where this cannot be seen.
    std::vector<JournalPosition> doubly_owned();

  private:
    store::ObjectStore& store_;
    std::string prefix_;
};

// Entries first..last of a partition are missing while a later entry exists, above the
// snapshot's seq of that partition. k9 removes only entries a snapshot covers, so this
// is damage, never a race.
struct JournalHole {
    int partition = 0;
    std::int64_t first = 0;
    std::int64_t last = 0;
};

// The first gap in `seqs` (ascending, all above `after`), counting from after + 1.
std::optional<JournalHole> first_hole(int partition, std::int64_t after,
                                      const std::vector<std::int64_t>& seqs);

// What to tell an operator about a hole in the journal of `url` whose snapshot holds
// the partition up to `snapshot_seq`.
std::string hole_message(const std::string& url, const JournalHole& hole,
                         std::int64_t snapshot_seq);

// Carried copies (see above): the block size, and the most bytes of copies one entry carries.
inline constexpr std::int64_t kCarryBlock = 32;
inline constexpr std::size_t kMaxCarriedBytes = std::size_t{32} * 1024;
// The first seq of the block that holds `seq` (seqs start at 1).
constexpr std::int64_t carry_block_start(std::int64_t seq) {
    return seq - (seq - 1) % kCarryBlock;
}

inline constexpr const char* kMetaWriter = "k9-writer";
inline constexpr const char* kMetaNonce = "k9-nonce";

}  // namespace k9::db
