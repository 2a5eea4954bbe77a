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

std::shared_ptr<store::ObjectStore> file_store(bool keep_versions) {
    return std::make_shared<store::FileStore>(folders().emplace_back().path() / "store",
                                              store::FileStoreOptions{keep_versions});
}

std::shared_ptr<store::ObjectStore> moto_store(const std::string& bucket, bool versioned) {
    auto& moto = Moto::instance();
    moto.create_bucket(bucket, versioned);
    return moto.store(bucket, "t-" + unique_name());
}
}  // namespace

std::vector<BackendFactory> all_backends() {
    return {
        {"file", [] { return file_store(false); }},
        {"s3", [] { return moto_store("k9-conformance", false); }, false},
    };
}

std::vector<BackendFactory> versioned_backends() {
    return {
        {"file", [] { return file_store(true); }},
        {"s3", [] { return moto_store("k9-conformance-versioned", true); }, false, true},
    };
}

}  // namespace k9::test
