#pragma once
// The backends the conformance suite runs against, each giving a fresh, empty store.

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "store/object_store.hpp"

namespace k9::test {

struct BackendFactory {
    std::string name;
    std::function<std::shared_ptr<store::ObjectStore>()> make;
    // Whether concurrent create-only puts on one key always have exactly one winner.
    // moto's If-None-Match: * checks, then writes: now and then two win.
    bool atomic_create_only = true;
    // Whether listed versions carry times of 1 s resolution with delete markers listed
    // apart from versions (moto): then their order within one second is not known.
    bool versions_listed_by_second = false;
};

// Every backend, as configured by default (no versions kept).
std::vector<BackendFactory> all_backends();
// Every backend keeping versions: file:// with versions on, moto with a versioned bucket.
std::vector<BackendFactory> versioned_backends();

// gtest prints the backend by name.
inline void PrintTo(const BackendFactory& f, std::ostream* os) {
    *os << f.name;
}

}  // namespace k9::test
