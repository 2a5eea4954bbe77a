// Journal entries as the store hands them back (db/journal.hpp): any bytes at an entry's key.
// Allowed: StoreError(Corrupt), the documented answer to "not a journal entry". Checked: the
// carried copies an entry yields are consecutive, end right before it, are of its
// partition and carry none themselves (anything else is dropped, never half kept); the
// entry's own part survives a serialize and parse unchanged.

#include <string>

#include "db/journal.hpp"
#include "fuzz_target.hpp"
#include "store/error.hpp"

K9_FUZZ_TARGET(data, size) {
    using k9::fuzz::check;
    const std::string bytes(k9::fuzz::as_text(data, size));
    k9::db::JournalEntry e;
    try {
        e = k9::db::JournalEntry::parse(bytes, "fuzz");
    } catch (const k9::store::StoreError& err) {
        check(err.kind() == k9::store::ErrorKind::Corrupt, "parse threw a StoreError not Corrupt",
              err.what());
        return 0;
    }
    std::int64_t expected = e.seq - static_cast<std::int64_t>(e.carried.size());
    for (const auto& c : e.carried) {
        check(c.partition == e.partition, "a carried copy of another partition", bytes);
        check(c.seq == expected++, "carried copies out of order", bytes);
        check(c.carried.empty(), "a carried copy carries copies", bytes);
    }
    const std::string own = e.serialize();
    const auto again = k9::db::JournalEntry::parse(own, "fuzz again");
    check(again.serialize() == own, "an entry changed through serialize and parse", own);
    check(again.carried.empty(), "serialize() carries no copies", own);
    return 0;
}
