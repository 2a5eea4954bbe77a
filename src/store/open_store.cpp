#include "store/open_store.hpp"

#include "store/file_store.hpp"
#include "store/s3/s3_store.hpp"

namespace k9::store {

std::shared_ptr<ObjectStore> open_store(const config::Config& config,
                                        const config::EnvLookup& env) {
    const auto& location = config.store;
    if (location.kind == config::StoreLocation::Kind::File) {
        return std::make_shared<FileStore>(location.dir, FileStoreOptions{location.keep_versions});
    }
    return s3::make_s3_store(location, config.s3, env);
}

}  // namespace k9::store
