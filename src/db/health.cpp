#include "db/health.hpp"

#include <algorithm>

namespace k9::db {

void HealthBoard::set(Slot slot, HealthIssue issue) {
    std::lock_guard lock(mutex_);
    slots_[static_cast<int>(slot)] = std::move(issue);
}

void HealthBoard::clear(Slot slot) {
    std::lock_guard lock(mutex_);
    slots_[static_cast<int>(slot)].reset();
}

std::optional<HealthIssue> HealthBoard::get(Slot slot) const {
    std::lock_guard lock(mutex_);
    return slots_[static_cast<int>(slot)];
}

std::optional<HealthIssue> HealthBoard::blocking() const {
    std::lock_guard lock(mutex_);
    for (const auto& s : slots_) {
        if (s) return s;
    }
    return std::nullopt;
}

void HealthBoard::warn(HealthIssue issue) {
    std::lock_guard lock(mutex_);
    auto same = std::find_if(warnings_.begin(), warnings_.end(),
                             [&](const HealthIssue& w) { return w.code == issue.code; });
    if (same != warnings_.end()) {
        *same = std::move(issue);
    } else {
        warnings_.push_back(std::move(issue));
    }
}

std::vector<HealthIssue> HealthBoard::warnings() const {
    std::lock_guard lock(mutex_);
    return warnings_;
}

Unavailable HealthBoard::fail(Slot slot, HealthIssue issue) {
    Unavailable e(issue.code, issue.hint, issue.detail);
    set(slot, std::move(issue));
    return e;
}

}  // namespace k9::db
