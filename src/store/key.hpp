#pragma once
// The rules every backend applies to what it is given, in one place. Keys: 1..1024
// bytes, no leading '/', no empty, "." or ".." path segments, no NUL, and not under the
// file store's internal folder. Metadata: names of lowercase letters, digits, '-' and
// '_'; printable ASCII values (what survives an S3 x-amz-meta-* header unchanged).
// Each throws StoreError(InvalidArgument) naming the rule that failed.

#include <map>
#include <string>

namespace k9::store {

void validate_key(const std::string& key);
void validate_version_id(const std::string& version_id);
void validate_metadata(const std::map<std::string, std::string>& metadata);

}  // namespace k9::store
