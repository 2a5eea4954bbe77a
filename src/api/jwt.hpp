#pragma once
// JSON Web Token verification for requests no API Gateway authorizer checked (the local
// server, Lambda Function URLs), and development tokens for `k9db token`.
//
// Only compact JWS (RFC 7515) signed with HS256 (a shared development secret) or RS256 (the
// RSA keys of a Cognito user pool's JWKS) is accepted. Keys always come from the policy,
// never from the token: header parameters such as `jku`, `jwk` and `x5u` are ignored.

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/time.hpp"

namespace k9::api {

// Why a token (or a key set) was refused. The message is safe to return to the client: it
// never echoes the token or any secret.
class JwtError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// RSA public keys from a JSON Web Key Set (Cognito publishes one per user pool at
// <issuer>/.well-known/jwks.json). Immutable once parsed; safe to share between threads.
class Jwks {
  public:
    // Parses {"keys":[{"kty":"RSA","kid":..,"n":..,"e":..,"alg":"RS256","use":"sig"},...]}.
    // Skipped: keys of other types, keys without a `kid`, keys whose `use` is not "sig" and
    // keys whose `alg` is not RS256. Throws JwtError when the JSON is not a key set, or when
    // a usable RSA key is malformed, outside 2048..8192 bits, fails OpenSSL's public-key check
    // (which wants an exponent of at least 65537), or repeats another key's kid.
    static std::shared_ptr<const Jwks> parse(std::string_view json);

    ~Jwks();
    Jwks(const Jwks&) = delete;
    Jwks& operator=(const Jwks&) = delete;

    bool empty() const;
    std::size_t size() const;
    bool contains(std::string_view kid) const;

    // True when `signature` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of
    // `signing_input` by the key `kid`; false for a wrong signature or an unknown kid.
    bool verify_rs256(std::string_view kid, std::string_view signing_input,
                      std::string_view signature) const;

  private:
    Jwks();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// What verify_jwt accepts. A token algorithm is accepted only when its key material is set:
// HS256 needs a non-empty hs256_secret, RS256 a non-empty jwks.
struct JwtPolicy {
    std::optional<std::string> hs256_secret;  // K9_JWT_SECRET: development tokens (HS256)
    std::shared_ptr<const Jwks> jwks;         // RS256 keys (Cognito)
    std::optional<std::string> issuer;        // when set, `iss` must equal it
    // When non-empty, `aud` (ID tokens) or `client_id` (access tokens) must be one of them.
    // Which claim is read follows `token_use`; without it, `aud` when present, else client_id.
    std::vector<std::string> audiences;
    std::int64_t leeway_seconds = 60;  // clock skew allowed on exp / nbf / iat (negative: 0)
    Clock clock = system_clock();      // unset: the system clock
};

struct VerifiedToken {
    std::string subject;  // `sub`: the user id
    nlohmann::json claims;
};

// Verifies a compact JWS (header.payload.signature), then its claims, which are read only once
// the signature holds. The token: at most 8 KiB; three unpadded base64url segments; a JSON
// object header whose `alg` the policy accepts and no `crit`; the signature (HS256 in constant
// time; RS256 only with the key whose kid matches the header's); a JSON object payload; `exp`
// (required), `nbf`, `iat` within leeway; `iss` and audience when the policy sets them; `sub`
// a non-empty string of at most 256 bytes; `token_use`, when present, "id" or "access".
// Throws JwtError.
VerifiedToken verify_jwt(std::string_view token, const JwtPolicy& policy);

// An HS256 token for development (k9db token), header {"alg":"HS256","typ":"JWT"}.
// `claims` must be an object holding a non-empty string `sub` and a numeric `exp`, and the
// secret must not be empty; otherwise throws std::invalid_argument.
std::string mint_hs256(const nlohmann::json& claims, std::string_view secret);

// "https://cognito-idp.<region>.amazonaws.com/<pool id>"; the region is the part of the pool
// id before '_' (us-east-1_AbC123 -> us-east-1). Throws std::invalid_argument for a malformed
// pool id.
std::string cognito_issuer(const std::string& user_pool_id);

}  // namespace k9::api
