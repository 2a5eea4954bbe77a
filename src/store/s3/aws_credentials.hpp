#pragma once
// AWS credentials as the signer and the credential providers exchange them.

#include <cstdint>
#include <optional>
#include <string>

namespace k9::store::s3 {

struct Credentials {
    std::string access_key_id;
    std::string secret_access_key;
    std::string session_token;               // empty when there is none
    std::optional<std::int64_t> expiration;  // microseconds since the epoch; unset: never
};

}  // namespace k9::store::s3
