#pragma once
// Opens the object store a configuration names (file:// or s3://).

#include <memory>

#include "config/config.hpp"
#include "store/object_store.hpp"

namespace k9::store {

std::shared_ptr<ObjectStore> open_store(const config::Config& config, const config::EnvLookup& env);

}  // namespace k9::store
