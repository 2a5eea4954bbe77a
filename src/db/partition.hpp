#pragma once
// Journal partitions. The K9 API's data is per user, so each user's writes go to one
// partition of the journal with a seq of its own: writes of different users never race
// for one object, and a reader of a user needs only that user's partition to be fresh.
// The partition count is fixed when the journal is created (its layout object, the
// snapshot's metadata and the database's k9_meta all record it).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace k9::db {

inline constexpr int kMaxPartitions = 256;
inline constexpr int kDefaultPartitions = 64;  // K9_JOURNAL_PARTITIONS (config.hpp): see the README

// The partition of an owner (a user id): XXH3-64 of its bytes, modulo `partitions`.
// Stable forever: changing it would move users between the partitions of existing
// journals and break their order.
int partition_of(std::string_view owner, int partitions);

// Every partition's seq, index = partition.
using PartitionSeqs = std::vector<std::int64_t>;

// "12,0,5": the form of the snapshot's k9-seqs metadata (S3 allows 2 KB of metadata:
// 256 partitions of up to 6 digits fit).
std::string encode_seqs(const PartitionSeqs& seqs);
// nullopt when `text` is not `partitions` non-negative integers.
std::optional<PartitionSeqs> decode_seqs(std::string_view text, int partitions);

}  // namespace k9::db
