#pragma once
// Opens the object store a location names (file:// or s3://).

#include <memory>

#include "common/env.hpp"
#include "store/location.hpp"
#include "store/object_store.hpp"
#include "store/s3/s3_settings.hpp"

namespace k9::store {

// `settings` and `env` (the credential chain) are used for s3:// only.
std::shared_ptr<ObjectStore> open_store(const StoreLocation& location, const S3Settings& settings,
                                        const EnvLookup& env);

}  // namespace k9::store
