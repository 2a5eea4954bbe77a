// JWT verification as the API does it for requests no authorizer checked: api::verify_jwt
// with an HS256 secret and a JWKS (one fixed RSA key), under a lenient policy and a strict one
// (Cognito issuer and app client); and api::Jwks::parse on the same bytes.
// Allowed: JwtError only. Checked: an accepted token has a non-empty subject of at most 256
// bytes that is its claims' "sub", and passes the strict policy only if it passes the lenient
// one; a parsed key set only holds keys it can be asked about.
// Seeds (corpus/fuzz_jwt) were signed with a throwaway RSA key whose public half is below;
// its private half was not kept. To add RS256 seeds, make a new key and replace kFuzzJwks.

#include <memory>
#include <optional>
#include <string>

#include "api/jwt.hpp"
#include "fuzz_target.hpp"

namespace {

using k9::fuzz::check;
namespace api = k9::api;

constexpr const char* kFuzzJwks =
    R"({"keys":[{"kty":"RSA","kid":"fuzz-key-1","alg":"RS256","use":"sig","e":"AQAB","n":")"
    "yiob7W-NubSfGeDA3GtceMnK8kyusOvObIAO3XpOFXq4YPSFHuytMfU55IGLGFLkRRa9HgR_tOW9tPfjk8b_k7"
    "PtoZk4lzNF8Xw-r6yGNv1mkPBCJPIsowRiY13Pwn-Odbz6_vUIqcurURTdKUbiktPRiCFxOi7BDQWQiobl5YzZ"
    "XVQsdp_iBIzCXB23AHVoNjLBdxf-St8Edvankk6Y8M857VnVtEyLYjp5Cwh4yPAoDE-lz8ixT0pVLJrgmmeoqo"
    "Nls-6A87sf7QJ9krQ-QZ1yS7j48drWDwF4wx7iZ4rBUeS7ogsbKVCi4ECK1vSkNTEnqNYmVDV4dPWVTGH4xw"
    R"("}]})";
constexpr const char* kSecret = "fuzz-jwt-secret-0123456789abcdef-0123456789";
constexpr const char* kIssuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Fuzz1";
constexpr k9::Micros kNow = 1'750'000'000LL * 1'000'000;  // the seeds' tokens are valid then

struct Policies {
    api::JwtPolicy lenient;
    api::JwtPolicy strict;
};

const Policies& policies() {
    static const Policies p = [] {
        Policies out;
        out.lenient.hs256_secret = kSecret;
        out.lenient.jwks = api::Jwks::parse(kFuzzJwks);
        out.lenient.clock = [] { return kNow; };
        out.strict = out.lenient;
        out.strict.issuer = kIssuer;
        out.strict.audiences = {"fuzz-client"};
        out.strict.leeway_seconds = 0;
        return out;
    }();
    return p;
}

std::optional<api::VerifiedToken> verify(std::string_view token, const api::JwtPolicy& policy) {
    try {
        return api::verify_jwt(token, policy);
    } catch (const api::JwtError&) {
        return std::nullopt;
    }
}

void check_verified(const api::VerifiedToken& t) {
    check(!t.subject.empty() && t.subject.size() <= 256, "verify_jwt accepted a bad subject");
    check(t.claims.is_object() && t.claims.contains("sub") && t.claims["sub"] == t.subject,
          "verify_jwt's subject is not the claims' sub");
}

}  // namespace

K9_FUZZ_TARGET(data, size) {
    const std::string_view text = k9::fuzz::as_text(data, size);
    const Policies& p = policies();

    const auto lenient = verify(text, p.lenient);
    if (lenient) check_verified(*lenient);
    const auto strict = verify(text, p.strict);
    if (strict) {
        check_verified(*strict);
        check(lenient.has_value(), "a token passed the strict policy but not the lenient one");
    }

    std::shared_ptr<const api::Jwks> jwks;
    try {
        jwks = api::Jwks::parse(text);
    } catch (const api::JwtError&) {
        return 0;
    }
    check(jwks != nullptr, "Jwks::parse returned no key set");
    check(jwks->empty() == (jwks->size() == 0), "Jwks::empty disagrees with size");
    check(!jwks->contains(""), "Jwks::parse kept a key without a kid");
    check(!jwks->verify_rs256("", "input", std::string(256, 'x')),
          "verify_rs256 accepted an unknown kid");
    return 0;
}
