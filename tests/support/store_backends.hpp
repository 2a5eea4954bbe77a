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
};

std::vector<BackendFactory> all_backends();

// gtest prints the backend by name.
inline void PrintTo(const BackendFactory& f, std::ostream* os) { *os << f.name; }

}  // namespace k9::test
