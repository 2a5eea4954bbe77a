#include "db/replace_snapshot.hpp"

#include <future>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/duck.hpp"
#include "db/journal.hpp"
#include "db/k9_meta.hpp"
#include "db/local_database.hpp"
#include "db/snapshot.hpp"
#include "db/store_probe.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;
using store::StoreError;

namespace {

constexpr int kAttempts = 20;

std::string nonce() {
    return to_hex(sha256(random_bytes(16))).substr(0, 16);
}

// Claims the next seq of one partition with a reset entry, after `head`; returns it.
std::int64_t claim_reset(Journal& journal, int partition, std::int64_t head,
                         const std::string& writer) {
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        JournalEntry reset{.partition = partition,
                           .seq = head + 1,
                           .writer = writer,
                           .nonce = nonce(),
                           .reset = true};
        if (journal.append(reset) == Journal::AppendResult::Appended) return reset.seq;
        const auto there = journal.read(partition, reset.seq);
        if (there && there->same_attempt(reset)) return reset.seq;
        const auto later = journal.list(partition, reset.seq);
        head = later.empty() ? reset.seq : later.back();
    }
    throw StoreError(store::ErrorKind::Transient,
                     "could not claim a seq of partition " + std::to_string(partition) +
                         " for the replacement: writers keep taking them");
}

// A reset at the next seq of every partition (in parallel); returns their seqs.
PartitionSeqs claim_resets(store::ObjectStore& store, const std::string& key,
                           const PartitionSeqs& snapshot_seqs, const std::string& writer) {
    Journal journal(store, key);
    const auto listing = journal.list_all();
    PartitionSeqs resets(snapshot_seqs.size());
    std::vector<std::future<void>> claims;
    for (std::size_t p = 0; p < snapshot_seqs.size(); ++p) {
        std::int64_t head = snapshot_seqs[p];
        if (const auto it = listing.find(static_cast<int>(p));
            it != listing.end() && !it->second.empty()) {
            head = std::max(head, it->second.back());
        }
        claims.push_back(std::async(std::launch::async, [&, p, head] {
            Journal j(store, key);
            resets[p] = claim_reset(j, static_cast<int>(p), head, writer);
        }));
    }
    for (auto& c : claims) c.get();
    return resets;
}

// Closes the single journal of older k9 (see journal_upgrade.hpp): older k9 stops at
// the upgrade entry; what is before it is superseded by the replacement.
void close_single_journal(store::ObjectStore& store, const std::string& key,
                          const std::string& writer) {
    Journal journal(store, key);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        const auto seqs = journal.list(-1, 0);
        const JournalEntry marker{.partition = -1,
                                  .seq = seqs.empty() ? 1 : seqs.back() + 1,
                                  .writer = writer,
                                  .nonce = nonce(),
                                  .upgrade = true};
        if (journal.append(marker) == Journal::AppendResult::Appended) return;
        const auto there = journal.read(-1, marker.seq);
        if (there && (there->upgrade || there->same_attempt(marker))) return;
    }
    throw StoreError(store::ErrorKind::Transient,
                     "could not close the journal of " + store.url_for(key));
}

// A copy of `file` that says it holds every partition up to `seqs`.
fs::TempFile marked_copy(const stdfs::path& file, const PartitionSeqs& seqs) {
    fs::TempFile tmp(file.parent_path().empty() ? stdfs::path(".") : file.parent_path(),
                     "k9-replace");
    fs::copy_into(file, tmp.fd(), tmp.path());
    {
        duck::Database db(tmp.path(), duckdb_options(tmp.path()));
        duck::Connection c(db);
        meta::create_tables(c);
        meta::write_partition_seqs(c, seqs);
        c.execute("CHECKPOINT");
    }
    std::error_code ec;
    stdfs::remove(tmp.path().string() + ".wal", ec);
    return tmp;
}

}  // namespace

store::ObjectInfo replace_snapshot(store::ObjectStore& store, const std::string& key,
                                   const stdfs::path& file, const ReplaceOptions& options) {
    store::PutOptions put;
    put.metadata = options.metadata;
    put.progress = options.progress;
    put.precondition = options.expected_etag ? store::Precondition::if_match(*options.expected_etag)
                                             : store::Precondition::if_none_match_any();
    Journal journal(store, key);
    // Nothing to supersede (no snapshot, no journal): the file goes up as it is.
    if (!options.journal || (!options.expected_etag && journal.list_all().empty())) {
        return store.put_file(file, key, put);
    }

    require_conditional_writes(store, key);  // a reset takes a seq like any write
    const auto current = store.head_if_exists(key);
    PartitionSeqs resets;
    if (const auto seqs = current ? snapshot_partition_seqs(*current) : std::nullopt) {
        resets = claim_resets(store, key, *seqs, options.writer_id);
    } else {
        close_single_journal(store, key, options.writer_id);
        resets = PartitionSeqs(static_cast<std::size_t>(options.partitions), 0);
    }
    fs::TempFile copy = marked_copy(file, resets);
    put.metadata =
        partitioned_snapshot_metadata(resets, snapshot_schema(options.metadata), options.writer_id);
    // Writers cannot pass the resets until this upload lands; a compaction of what they
    // had may still change the ETag meanwhile: take its ETag and try again.
    for (int attempt = 0;; ++attempt) {
        try {
            return store.put_file(copy.path(), key, put);
        } catch (const StoreError& e) {
            if (!e.is_precondition_failed() || attempt >= kAttempts) throw;
            const auto now = store.head_if_exists(key);
            if (const auto seqs = now ? snapshot_partition_seqs(*now) : std::nullopt) {
                for (std::size_t p = 0; p < std::min(seqs->size(), resets.size()); ++p) {
                    if ((*seqs)[p] >= resets[p]) throw;  // someone else replaced it: do not clobber
                }
            }
            put.precondition = now ? store::Precondition::if_match(now->etag)
                                   : store::Precondition::if_none_match_any();
            log::info("The snapshot changed during the replacement (a compaction); trying again");
        }
    }
}

}  // namespace k9::db
