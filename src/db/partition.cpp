#include "db/partition.hpp"

#include <xxhash.h>

#include <charconv>

namespace k9::db {

int partition_of(std::string_view owner, int partitions) {
    const XXH64_hash_t h = XXH3_64bits(owner.data(), owner.size());
    return static_cast<int>(h % static_cast<XXH64_hash_t>(partitions));
}

std::string encode_seqs(const PartitionSeqs& seqs) {
    std::string out;
    for (std::size_t i = 0; i < seqs.size(); ++i) {
        if (i > 0) out += ',';
        out += std::to_string(seqs[i]);
    }
    return out;
}

std::optional<PartitionSeqs> decode_seqs(std::string_view text, int partitions) {
    PartitionSeqs out;
    std::size_t from = 0;
    while (from <= text.size()) {
        const std::size_t comma = std::min(text.find(',', from), text.size());
        std::int64_t v = -1;
        const auto* first = text.data() + from;
        const auto* last = text.data() + comma;
        const auto [end, ec] = std::from_chars(first, last, v);
        if (ec != std::errc() || end != last || v < 0) return std::nullopt;
        out.push_back(v);
        from = comma + 1;
    }
    if (static_cast<int>(out.size()) != partitions) return std::nullopt;
    return out;
}

}  // namespace k9::db
