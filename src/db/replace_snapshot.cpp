#include "db/replace_snapshot.hpp"

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/log.hpp"
#include "db/duck.hpp"
#include "db/journal.hpp"
#include "db/snapshot.hpp"
#include "db/store_probe.hpp"

namespace k9::db {
namespace stdfs = std::filesystem;

namespace {

constexpr int kAttempts = 20;

// Claims the next seq with a reset entry; returns it.
std::int64_t append_reset(store::ObjectStore& store, const std::string& key, const std::string& writer) {
    Journal journal(store, key);
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        std::int64_t head = 0;
        if (auto snap = store.head_if_exists(key)) head = std::max<std::int64_t>(snapshot_seq(*snap), 0);
        const auto seqs = journal.list_after(head);
        if (!seqs.empty()) head = seqs.back();
        JournalEntry reset{head + 1, writer, to_hex(sha256(random_bytes(16))).substr(0, 16), {}, true};
        if (journal.append(reset) == Journal::AppendResult::Appended ||
            journal.is_ours(reset.seq, reset.writer, reset.nonce)) {
            return reset.seq;
        }
    }
    throw store::StoreError(store::ErrorKind::Transient, "could not claim a journal seq for the replacement of " +
                                                              store.url_for(key) + ": writers keep taking them");
}

// A copy of `file` whose k9_meta says it holds the history up to `seq`.
fs::TempFile marked_copy(const stdfs::path& file, std::int64_t seq) {
    fs::TempFile tmp(file.parent_path().empty() ? stdfs::path(".") : file.parent_path(), "k9-replace");
    fs::copy_into(file, tmp.fd(), tmp.path());
    {
        duck::Database db(tmp.path(), {});
        duck::Connection c(db);
        c.execute("CREATE TABLE IF NOT EXISTS k9_meta (name VARCHAR NOT NULL, value BIGINT NOT NULL)");
        c.execute("DELETE FROM k9_meta WHERE name = 'seq'");
        c.prepare("INSERT INTO k9_meta VALUES ('seq', ?)").bind(1, seq).execute();
        c.execute("CHECKPOINT");
    }
    std::error_code ec;
    stdfs::remove(tmp.path().string() + ".wal", ec);
    return tmp;
}

}  // namespace

store::ObjectInfo replace_snapshot(store::ObjectStore& store, const std::string& key, const stdfs::path& file,
                                   const ReplaceOptions& options) {
    store::PutOptions put;
    put.metadata = options.metadata;
    put.progress = options.progress;
    put.precondition = options.expected_etag ? store::Precondition::if_match(*options.expected_etag)
                                             : store::Precondition::if_none_match_any();
    // Nothing to supersede (no snapshot, no journal): the file goes up as it is.
    if (!options.journal || (!options.expected_etag && Journal(store, key).list_after(0).empty())) {
        return store.put_file(file, key, put);
    }

    require_conditional_writes(store, key);  // the reset takes a seq like any write
    const std::int64_t seq = append_reset(store, key, options.writer_id);
    fs::TempFile copy = marked_copy(file, seq);
    put.metadata[kMetaSeq] = std::to_string(seq);
    // Writers cannot pass the reset until this upload lands; a compaction of what they
    // had may still change the ETag meanwhile: take its ETag and try again.
    for (int attempt = 0;; ++attempt) {
        try {
            return store.put_file(copy.path(), key, put);
        } catch (const store::StoreError& e) {
            if (!e.is_precondition_failed() || attempt >= kAttempts) throw;
            const auto now = store.head_if_exists(key);
            if (now && snapshot_seq(*now) >= seq) throw;  // someone else replaced it: do not clobber
            put.precondition = now ? store::Precondition::if_match(now->etag)
                                   : store::Precondition::if_none_match_any();
            log::info("The snapshot changed during the replacement (a compaction); trying again");
        }
    }
}

}  // namespace k9::db
