#include "store/open_store.hpp"

#include "store/file_store.hpp"
#include "store/s3/s3_store.hpp"

namespace k9::store {

std::shared_ptr<ObjectStore> open_store(const StoreLocation& location, const S3Settings& settings,
                                        const EnvLookup& env) {
    if (location.kind == StoreLocation::Kind::File) {
        return std::make_shared<FileStore>(location.dir, FileStoreOptions{location.keep_versions});
    }
    return s3::make_s3_store(location, settings, env);
}

}  // namespace k9::store
