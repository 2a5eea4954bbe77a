#pragma once
// Object key rules shared by every backend: 1..1024 bytes, no leading '/', no empty,
// "." or ".." path segments, no NUL, and not under the file store's internal folder.
// Throws StoreError(InvalidArgument) naming the rule that failed.

#include <string>

namespace k9::store {

void validate_key(const std::string& key);
void validate_version_id(const std::string& version_id);

}  // namespace k9::store
