#include "store/open_store.hpp"

#include "store/file_store.hpp"

namespace k9::store {

std::shared_ptr<ObjectStore> open_store(const config::StoreLocation& location) {
    switch (location.kind) {
        case config::StoreLocation::Kind::File:
            return std::make_shared<FileStore>(location.dir, FileStoreOptions{location.keep_versions});
        case config::StoreLocation::Kind::S3:
            break;
    }
    throw StoreError(ErrorKind::InvalidArgument,
                     "the s3:// store is not part of this build yet; use a file:// store");
}

}  // namespace k9::store
