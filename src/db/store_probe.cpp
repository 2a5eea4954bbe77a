#include "db/store_probe.hpp"

#include <future>
#include <mutex>
#include <set>

#include "common/log.hpp"

namespace k9::db {
using store::Precondition;
using store::StoreError;

namespace {

constexpr std::string_view kProbeBody =
    "k9 conditional-write probe: a create-only PUT of this key must fail\n";
constexpr const char* kNeverAnEtag = "\"k9-probe-no-object-has-this-etag\"";

std::mutex verified_mutex;
std::set<std::string> verified;  // url_for(probe key) of stores that passed

// Whether a PUT with `precondition` was refused (the store honoured the header).
bool refused(store::ObjectStore& store, const std::string& key, Precondition precondition) {
    store::PutOptions put;
    put.precondition = std::move(precondition);
    try {
        store.put_bytes(kProbeBody, key, put);
        return false;
    } catch (const StoreError& e) {
        if (e.is_precondition_failed() || e.is_not_found()) return true;
        throw;
    }
}

[[noreturn]] void refuse(store::ObjectStore& store, const std::string& key,
                         const std::string& header, const std::string& what_happened) {
    const std::string url = store.url_for(key);
    log::error("The store ignores conditional writes; journal mode refused",
               {{"probe", url}, {"header", header}});
    throw UnsafeStore(store.display_name() + " at " + url + " ignores " + header + ": " +
                      what_happened +
                      ". Journal mode gives each write a seq that exactly one writer may create, "
                      "and that needs the store "
                      "to refuse a conditional PUT whose condition fails; on this store two "
                      "containers could both take a seq "
                      "and acknowledged writes would be lost. Use a store that honours conditional "
                      "writes (Amazon S3 does; "
                      "see docs/operations.md), or set K9_DURABILITY=snapshot knowingly (writes "
                      "then wait in the local "
                      "file until a persist, and a container lost before it loses them)");
}

}  // namespace

std::string probe_key(const std::string& snapshot_key) {
    return snapshot_key + ".k9-probe";
}

void require_conditional_writes(store::ObjectStore& store, const std::string& snapshot_key) {
    const std::string key = probe_key(snapshot_key);
    const std::string id = store.url_for(key);
    {
        std::lock_guard lock(verified_mutex);
        if (verified.count(id) != 0) return;
    }
    // Both PUTs together: in the steady state (the probe object exists) both must fail.
    auto if_match = std::async(std::launch::async, [&] {
        return refused(store, key, Precondition::if_match(kNeverAnEtag));
    });
    bool create_refused = refused(store, key, Precondition::if_none_match_any());
    if (!create_refused) {
        // Created just now, or the header was ignored: the object exists now, so a second
        // create-only PUT must fail.
        create_refused = refused(store, key, Precondition::if_none_match_any());
        if (!create_refused) {
            if_match.wait();
            refuse(store, key, "If-None-Match: *",
                   "a create-only PUT of an existing object succeeded");
        }
    }
    if (!if_match.get())
        refuse(store, key, "If-Match",
               "a PUT with If-Match on an ETag the object never had succeeded");
    std::lock_guard lock(verified_mutex);
    verified.insert(id);
}

}  // namespace k9::db
