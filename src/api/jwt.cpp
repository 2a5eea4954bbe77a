#include "api/jwt.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "common/hash.hpp"

namespace k9::api {
using nlohmann::json;

namespace {

constexpr std::size_t kMaxTokenBytes = std::size_t{8} * 1024;
constexpr std::size_t kMaxSubjectBytes = 256;
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr std::size_t kMaxRsaExponentBytes = 8;
constexpr std::int64_t kMaxLeewaySeconds = 1'000'000'000;
constexpr std::int64_t kMicrosPerSecond = 1'000'000;
// Times are saturated here so that adding a leeway can never overflow.
constexpr Micros kTimeLimit = Micros{1} << 62;
constexpr const char* kBadSignature = "token signature is invalid";

template <auto Free>
struct Deleter {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

const unsigned char* bytes(std::string_view s) {
    return reinterpret_cast<const unsigned char*>(s.data());
}

bool is_base64url_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

// Unpadded, canonical base64url (unused trailing bits zero), or nullopt.
std::optional<std::string> decode_base64url(std::string_view text) {
    if (!std::all_of(text.begin(), text.end(), is_base64url_char)) return std::nullopt;
    try {
        std::string out = base64url_decode(text);
        if (base64url_encode(out) != text) return std::nullopt;
        return out;
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

// `value` quoted for a message when it is short and plainly harmless, else nothing.
std::string quoted_if_safe(const std::string& value, std::size_t max_size) {
    const bool safe =
        !value.empty() && value.size() <= max_size &&
        std::all_of(value.begin(), value.end(), [](char c) {
            return is_base64url_char(c) || c == '.' || c == '+' || c == '/' || c == '=';
        });
    return safe ? "'" + value + "' " : "";
}

const std::string* string_member(const json& object, const char* name) {
    const auto it = object.find(name);
    return it != object.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
}

json parse_object(std::string_view text, const char* what) {
    json value = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (value.is_discarded() || !value.is_object()) {
        throw JwtError(std::string("token ") + what + " is not a JSON object");
    }
    return value;
}

PkeyPtr rsa_public_key(const std::string& n, const std::string& e, const std::string& label) {
    if (n.empty() || n.size() > kMaxRsaBits / 8 + 1 || e.empty() ||
        e.size() > kMaxRsaExponentBytes) {
        throw JwtError("key set key " + label + "has a modulus or exponent of unsupported size");
    }
    BnPtr bn_n(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr));
    BnPtr bn_e(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr));
    ParamBldPtr builder(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !builder ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(builder.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
        ERR_clear_error();
        throw JwtError("key set key " + label + "could not be loaded: OpenSSL is out of memory");
    }
    ParamPtr params(OSSL_PARAM_BLD_to_param(builder.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        ERR_clear_error();
        throw JwtError("key set key " + label + "is not a valid RSA public key");
    }
    PkeyPtr key(raw);
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits) {
        throw JwtError("key set key " + label + "has a " + std::to_string(bits) +
                       "-bit modulus: 2048 to 8192 bits are accepted");
    }
    PkeyCtxPtr check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) {
        ERR_clear_error();
        throw JwtError("key set key " + label + "is not a valid RSA public key");
    }
    return key;
}

// A NumericDate claim (seconds, possibly fractional) in microseconds, saturated.
std::optional<Micros> numeric_date(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    if (!it->is_number() || !std::isfinite(it->get<long double>())) {
        throw JwtError(std::string("token '") + name + "' claim is not a number");
    }
    const long double micros = it->get<long double>() * kMicrosPerSecond;
    const auto limit = static_cast<long double>(kTimeLimit);
    return static_cast<Micros>(std::clamp(micros, -limit, limit));
}

void check_times(const json& claims, const JwtPolicy& policy) {
    const Micros now =
        std::clamp(policy.clock ? policy.clock() : system_now(), -kTimeLimit, kTimeLimit);
    const Micros leeway =
        std::clamp<std::int64_t>(policy.leeway_seconds, 0, kMaxLeewaySeconds) * kMicrosPerSecond;
    const std::optional<Micros> exp = numeric_date(claims, "exp");
    if (!exp) throw JwtError("token has no expiry ('exp')");
    if (now > *exp + leeway) throw JwtError("token expired");
    const std::optional<Micros> nbf = numeric_date(claims, "nbf");
    if (nbf && now + leeway < *nbf) throw JwtError("token is not valid yet ('nbf')");
    const std::optional<Micros> iat = numeric_date(claims, "iat");
    if (iat && *iat > now + leeway) throw JwtError("token was issued in the future ('iat')");
}

void check_audience(const json& claims, const std::vector<std::string>& audiences,
                    const std::string* token_use) {
    if (audiences.empty()) return;
    // Cognito ID tokens name the app client in `aud`, access tokens in `client_id`.
    const char* name = "client_id";
    if (token_use != nullptr) {
        if (*token_use == "id") name = "aud";
    } else if (claims.contains("aud")) {
        name = "aud";
    }
    const auto accepted = [&](const json& v) {
        return v.is_string() && std::find(audiences.begin(), audiences.end(),
                                          v.get_ref<const std::string&>()) != audiences.end();
    };
    const auto it = claims.find(name);
    bool ok = false;
    if (it != claims.end()) {
        const bool list = it->is_array() && std::string_view(name) == "aud";
        ok = list ? std::any_of(it->begin(), it->end(), accepted) : accepted(*it);
    }
    if (!ok) throw JwtError("token audience is not accepted");
}

// Returns the subject.
std::string check_claims(const json& claims, const JwtPolicy& policy) {
    check_times(claims, policy);
    if (policy.issuer) {
        const std::string* iss = string_member(claims, "iss");
        if (iss == nullptr || *iss != *policy.issuer) {
            throw JwtError("token issuer is not accepted");
        }
    }
    const std::string* token_use = nullptr;
    if (claims.contains("token_use")) {
        token_use = string_member(claims, "token_use");
        if (token_use == nullptr || (*token_use != "id" && *token_use != "access")) {
            throw JwtError("token use " +
                           (token_use ? quoted_if_safe(*token_use, 16) : std::string()) +
                           "is not accepted: only ID and access tokens are");
        }
    }
    check_audience(claims, policy.audiences, token_use);
    const std::string* sub = string_member(claims, "sub");
    if (sub == nullptr || sub->empty()) throw JwtError("token has no subject ('sub')");
    if (sub->size() > kMaxSubjectBytes) {
        throw JwtError("token subject ('sub') is longer than 256 bytes");
    }
    return *sub;
}

// Chooses the key by the header's `alg` (and `kid`) and checks the signature.
void check_signature(const json& header, std::string_view signing_input, std::string_view signature,
                     const JwtPolicy& policy) {
    const std::string* alg = string_member(header, "alg");
    if (alg == nullptr) throw JwtError("token header has no algorithm ('alg')");
    const bool hs256 = *alg == "HS256" && policy.hs256_secret && !policy.hs256_secret->empty();
    const bool rs256 = *alg == "RS256" && policy.jwks && !policy.jwks->empty();
    if (!hs256 && !rs256) {
        throw JwtError("token algorithm " + quoted_if_safe(*alg, 16) + "is not accepted");
    }
    if (header.contains("crit")) {
        throw JwtError("token header has critical parameters ('crit') that k9 does not support");
    }
    if (hs256) {
        // Only the configured secret is ever an HMAC key: never RSA key material.
        const Digest32 mac = hmac_sha256(*policy.hs256_secret, signing_input);
        if (signature.size() != mac.size() ||
            CRYPTO_memcmp(mac.data(), signature.data(), mac.size()) != 0) {
            throw JwtError(kBadSignature);
        }
        return;
    }
    const std::string* kid = string_member(header, "kid");
    if (kid == nullptr || kid->empty()) throw JwtError("token has no key id ('kid')");
    if (!policy.jwks->contains(*kid)) throw JwtError("token key id is not in the key set");
    if (!policy.jwks->verify_rs256(*kid, signing_input, signature)) throw JwtError(kBadSignature);
}

}  // namespace

// ---- Jwks ----

struct Jwks::Impl {
    std::map<std::string, PkeyPtr, std::less<>> keys;  // by kid
};

Jwks::Jwks() : impl_(std::make_unique<Impl>()) {}
Jwks::~Jwks() = default;

std::shared_ptr<const Jwks> Jwks::parse(std::string_view text) {
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) throw JwtError("key set is not valid JSON");
    const auto keys = doc.is_object() ? doc.find("keys") : doc.end();
    if (!doc.is_object() || keys == doc.end() || !keys->is_array()) {
        throw JwtError("key set is not a JWKS: expected an object with a \"keys\" array");
    }
    std::shared_ptr<Jwks> jwks(new Jwks());
    for (const json& key : *keys) {
        if (!key.is_object()) throw JwtError("key set entry is not a JSON object");
        const std::string* kty = string_member(key, "kty");
        const std::string* use = string_member(key, "use");
        const std::string* alg = string_member(key, "alg");
        const std::string* kid = string_member(key, "kid");
        if (kty == nullptr || *kty != "RSA") continue;
        if (key.contains("use") && (use == nullptr || *use != "sig")) continue;
        if (key.contains("alg") && (alg == nullptr || *alg != "RS256")) continue;
        if (kid == nullptr || kid->empty()) continue;  // a token could never select it
        const std::string label = quoted_if_safe(*kid, 64);
        const std::string* n = string_member(key, "n");
        const std::string* e = string_member(key, "e");
        const std::optional<std::string> n_bytes = n ? decode_base64url(*n) : std::nullopt;
        const std::optional<std::string> e_bytes = e ? decode_base64url(*e) : std::nullopt;
        if (!n_bytes || !e_bytes) {
            throw JwtError("key set key " + label +
                           "has no base64url modulus ('n') or exponent ('e')");
        }
        if (jwks->impl_->keys.count(*kid) != 0) {
            throw JwtError("key set key " + label + "appears twice: key ids must be unique");
        }
        jwks->impl_->keys.emplace(*kid, rsa_public_key(*n_bytes, *e_bytes, label));
    }
    return jwks;
}

bool Jwks::empty() const {
    return impl_->keys.empty();
}
std::size_t Jwks::size() const {
    return impl_->keys.size();
}
bool Jwks::contains(std::string_view kid) const {
    return impl_->keys.find(kid) != impl_->keys.end();
}

bool Jwks::verify_rs256(std::string_view kid, std::string_view signing_input,
                        std::string_view signature) const {
    const auto it = impl_->keys.find(kid);
    if (it == impl_->keys.end()) return false;
    EVP_PKEY* key = it->second.get();
    if (signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) return false;
    MdCtxPtr md(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pkey_ctx = nullptr;  // owned by `md`
    if (!md || EVP_DigestVerifyInit(md.get(), &pkey_ctx, EVP_sha256(), nullptr, key) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pkey_ctx, RSA_PKCS1_PADDING) != 1) {
        ERR_clear_error();
        throw JwtError("token signature could not be checked: OpenSSL failed to set up RS256");
    }
    const int rc = EVP_DigestVerify(md.get(), bytes(signature), signature.size(),
                                    bytes(signing_input), signing_input.size());
    ERR_clear_error();  // a bad signature leaves errors on this thread's queue
    return rc == 1;
}

// ---- tokens ----

VerifiedToken verify_jwt(std::string_view token, const JwtPolicy& policy) {
    if (token.size() > kMaxTokenBytes) {
        throw JwtError("token is too large: at most 8192 bytes are accepted");
    }
    const std::size_t dot1 = token.find('.');
    const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
        throw JwtError("token is not a compact JWS: expected three base64url segments");
    }
    const std::array<std::string_view, 3> segments = {
        token.substr(0, dot1), token.substr(dot1 + 1, dot2 - dot1 - 1), token.substr(dot2 + 1)};
    const std::array<const char*, 3> names = {"header", "payload", "signature"};
    std::array<std::string, 3> decoded;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        std::optional<std::string> d = decode_base64url(segments[i]);
        if (!d) throw JwtError(std::string("token ") + names[i] + " is not unpadded base64url");
        decoded[i] = std::move(*d);
    }
    const json header = parse_object(decoded[0], "header");
    check_signature(header, token.substr(0, dot2), decoded[2], policy);
    json claims = parse_object(decoded[1], "payload");
    std::string subject = check_claims(claims, policy);
    return VerifiedToken{std::move(subject), std::move(claims)};
}

std::string mint_hs256(const json& claims, std::string_view secret) {
    if (!claims.is_object()) throw std::invalid_argument("token claims must be a JSON object");
    const std::string* sub = string_member(claims, "sub");
    if (sub == nullptr || sub->empty()) {
        throw std::invalid_argument("token claims need a non-empty string 'sub' (the user id)");
    }
    if (!claims.contains("exp") || !claims["exp"].is_number()) {
        throw std::invalid_argument("token claims need a numeric 'exp' (seconds since epoch)");
    }
    if (secret.empty()) throw std::invalid_argument("HS256 secret is empty: set K9_JWT_SECRET");
    std::string payload;
    try {
        payload = claims.dump();
    } catch (const json::exception&) {
        throw std::invalid_argument("token claims hold a string that is not UTF-8");
    }
    const json header = {{"alg", "HS256"}, {"typ", "JWT"}};
    std::string token = base64url_encode(header.dump()) + "." + base64url_encode(payload);
    const Digest32 mac = hmac_sha256(secret, token);
    token += "." + base64url_encode(
                       std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
    return token;
}

std::string cognito_issuer(const std::string& user_pool_id) {
    // <region>_<id>: region like us-east-1 or us-gov-west-1, id alphanumeric.
    const std::size_t underscore = user_pool_id.find('_');
    const std::string region = user_pool_id.substr(0, underscore);
    const std::string id =
        underscore == std::string::npos ? std::string() : user_pool_id.substr(underscore + 1);
    const auto lower_digit_dash = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    };
    const auto alnum = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    };
    const bool region_ok = region.size() >= 4 && region.size() <= 32 &&
                           std::all_of(region.begin(), region.end(), lower_digit_dash) &&
                           region.front() >= 'a' && region.front() <= 'z' && region.back() >= '0' &&
                           region.back() <= '9' && region.find('-') != std::string::npos &&
                           region.find("--") == std::string::npos;
    const bool id_ok =
        !id.empty() && user_pool_id.size() <= 55 && std::all_of(id.begin(), id.end(), alnum);
    if (!region_ok || !id_ok) {
        throw std::invalid_argument("Cognito user pool id '" + user_pool_id +
                                    "' is malformed: expected <region>_<id>, e.g. "
                                    "us-east-1_AbC123");
    }
    return "https://cognito-idp." + region + ".amazonaws.com/" + user_pool_id;
}

}  // namespace k9::api
