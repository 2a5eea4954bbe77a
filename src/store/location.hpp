#pragma once
// Where the object store is: a K9_STORE_URL (file:///abs/dir[?versions=on] or
// s3://bucket[/prefix]) parsed and normalised.

#include <filesystem>
#include <string>

#include "common/env.hpp"

namespace k9::store {

// Where the object store is.
struct StoreLocation {
    enum class Kind { File, S3 };
    Kind kind = Kind::File;
    std::filesystem::path dir;   // File: absolute folder
    bool keep_versions = false;  // File: ?versions=on
    std::string bucket;          // S3
    std::string prefix;          // S3: "" or "some/prefix" (no slashes at the ends)
    std::string url;             // as given or derived, normalised
};

// Parses a K9_STORE_URL value; throws ConfigError naming `variable`.
StoreLocation parse_store_url(const std::string& variable, const std::string& url);
// Throws ConfigError unless `name` is a valid S3 bucket name.
void check_bucket_name(const std::string& variable, const std::string& name);

}  // namespace k9::store
