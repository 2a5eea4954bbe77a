#include "support/store_backends.hpp"

#include <list>

#include "store/file_store.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"

namespace k9::test {

namespace {
// Folders live until the test binary exits.
std::list<TempDir>& folders() {
    static std::list<TempDir> dirs;
    return dirs;
}
}  // namespace

std::vector<BackendFactory> all_backends() {
    return {
        {"file", [] { return std::make_shared<store::FileStore>(folders().emplace_back().path() / "store"); }},
        {"s3", [] {
             auto& moto = Moto::instance();
             moto.create_bucket("k9-conformance");
             return moto.store("k9-conformance", "t-" + unique_name());
         }},
    };
}

}  // namespace k9::test
