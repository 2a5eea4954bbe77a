#pragma once
// HealthBoard: what stops this copy from serving requests right now, so that /health
// tells the truth in every state in which requests fail. Each problem has a slot, set
// where it is found and cleared where it is shown to be over:
//  - Local:   the local database cannot apply what is in the store (a failed commit
//             after its journal entry landed, a disk full, a failed replay); cleared
//             when the copy has been reloaded from the store.
//  - Journal: the journal cannot be read to the end (a hole, a damaged entry); cleared
//             by the next complete read of it.
//  - Store:   the last call to the store failed (unreachable, throttled past retries);
//             cleared by the next call that succeeds.
// Warnings (e.g. a journal seq with two owners) do not stop requests: they make /health
// "degraded". Thread-safe.

#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "db/unavailable.hpp"

namespace k9::db {

struct HealthIssue {
    std::string code;    // journal_corrupt | local_copy_unusable | store_unavailable | ...
    std::string hint;    // for clients: short, nothing about the bucket or its keys
    std::string detail;  // for operators (logs, k9db): what happened and what to do
};

class HealthBoard {
  public:
    enum class Slot { Local, Journal, Store };

    void set(Slot slot, HealthIssue issue);
    void clear(Slot slot);
    std::optional<HealthIssue> get(Slot slot) const;
    // The problem that stops requests (Local before Journal before Store), if any.
    std::optional<HealthIssue> blocking() const;
    void warn(HealthIssue issue);  // kept until the process ends; the same code once
    std::vector<HealthIssue> warnings() const;

    // Sets the slot and returns the exception to throw to the request.
    Unavailable fail(Slot slot, HealthIssue issue);

  private:
    mutable std::mutex mutex_;
    std::optional<HealthIssue> slots_[3];
    std::vector<HealthIssue> warnings_;
};

}  // namespace k9::db
