#pragma once
// Opens the object store a StoreLocation names (file:// or s3://).

#include <memory>

#include "config/config.hpp"
#include "store/object_store.hpp"

namespace k9::store {

std::shared_ptr<ObjectStore> open_store(const config::StoreLocation& location);

}  // namespace k9::store
