// JWT verification: HS256 and RS256 tokens made here (RSA keys generated with OpenSSL, HMACs
// computed with OpenSSL's EVP_Q_mac, not k9's hash code), published example tokens, and one
// test per refusal rule.

#include "api/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/hash.hpp"
#include "support/jwt_signing.hpp"

namespace k9::api {
namespace {
using nlohmann::json;

constexpr std::int64_t kNow = 1'750'000'000;  // seconds; the fixed clock of most tests
constexpr std::int64_t kSecond = 1'000'000;
const std::string kSecret = "dev-secret-that-is-long-enough-for-hs256";

std::string b64(std::string_view s) {
    return base64url_encode(s);
}

Clock fixed_clock(Micros t) {
    return [t] { return t; };
}

using test::hs256;
using test::RsaKey;
using test::signing_input;

std::string hmac(std::string_view key, std::string_view data) {
    return test::hmac_sha256(key, data);
}

// Replaces segment `i` (0 header, 1 payload, 2 signature) of a compact token.
std::string with_segment(const std::string& token, int i, const std::string& segment) {
    const std::size_t d1 = token.find('.');
    const std::size_t d2 = token.find('.', d1 + 1);
    std::string parts[3] = {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1),
                            token.substr(d2 + 1)};
    parts[i] = segment;
    return parts[0] + "." + parts[1] + "." + parts[2];
}

std::string segment(const std::string& token, int i) {
    const std::size_t d1 = token.find('.');
    const std::size_t d2 = token.find('.', d1 + 1);
    if (i == 0) return token.substr(0, d1);
    if (i == 1) return token.substr(d1 + 1, d2 - d1 - 1);
    return token.substr(d2 + 1);
}

class JwtTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        key_a_ = new RsaKey(2048);
        key_b_ = new RsaKey(2048);
        json set = {{"keys", {key_a_->jwk("kid-a"), key_b_->jwk("kid-b")}}};
        jwks_ = new std::shared_ptr<const Jwks>(Jwks::parse(set.dump()));
    }
    static void TearDownTestSuite() {
        delete jwks_;
        delete key_b_;
        delete key_a_;
    }

    static json claims(json extra = json::object()) {
        json c = {{"sub", "user-1"}, {"exp", kNow + 3600}, {"iat", kNow - 10}};
        c.update(extra);
        return c;
    }
    static JwtPolicy hs_policy() {
        JwtPolicy p;
        p.hs256_secret = kSecret;
        p.clock = fixed_clock(kNow * kSecond);
        return p;
    }
    static JwtPolicy rs_policy() {
        JwtPolicy p;
        p.jwks = *jwks_;
        p.clock = fixed_clock(kNow * kSecond);
        return p;
    }
    static std::string rs256(const RsaKey& key, const json& payload, const json& header) {
        return test::rs256_token(key, payload, header);
    }
    static std::string rs256(const json& payload, const std::string& kid = "kid-a") {
        return rs256(*key_a_, payload, {{"alg", "RS256"}, {"typ", "JWT"}, {"kid", kid}});
    }

    static RsaKey* key_a_;
    static RsaKey* key_b_;
    static std::shared_ptr<const Jwks>* jwks_;
};
RsaKey* JwtTest::key_a_ = nullptr;
RsaKey* JwtTest::key_b_ = nullptr;
std::shared_ptr<const Jwks>* JwtTest::jwks_ = nullptr;

// Expects verify_jwt to refuse with exactly `message`.
void expect_refused(const std::string& token, const JwtPolicy& policy, const std::string& message) {
    try {
        verify_jwt(token, policy);
        ADD_FAILURE() << "accepted; expected: " << message;
    } catch (const JwtError& e) {
        EXPECT_EQ(e.what(), message);
    }
}

// ---- valid tokens ----

TEST_F(JwtTest, MintedHs256TokenVerifies) {
    const std::string token = mint_hs256(claims({{"email", "a@example.com"}}), kSecret);
    const VerifiedToken v = verify_jwt(token, hs_policy());
    EXPECT_EQ(v.subject, "user-1");
    EXPECT_EQ(v.claims.at("email"), "a@example.com");
}

TEST_F(JwtTest, MintHs256MatchesAnIndependentHmac) {
    // Expected value computed with Python's hmac/hashlib over the same bytes.
    const json c = {{"sub", "1234567890"}, {"name", "John Doe"}, {"exp", 1700000000}};
    EXPECT_EQ(mint_hs256(c, "your-256-bit-secret"),
              "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
              "eyJleHAiOjE3MDAwMDAwMDAsIm5hbWUiOiJKb2huIERvZSIsInN1YiI6IjEyMzQ1Njc4OTAifQ."
              "AOH6yLAnWV4m0T-9FmlRWSW7BBgzbnBnTsMZ39bi2I8");
    const std::string token = mint_hs256(claims(), kSecret);
    EXPECT_EQ(base64url_decode(segment(token, 0)), R"({"alg":"HS256","typ":"JWT"})");
    EXPECT_EQ(segment(token, 2), b64(hmac(kSecret, segment(token, 0) + "." + segment(token, 1))));
}

TEST_F(JwtTest, MintHs256RefusesIncompleteClaimsAndEmptySecret) {
    EXPECT_THROW(mint_hs256({{"exp", kNow}}, kSecret), std::invalid_argument);
    EXPECT_THROW(mint_hs256({{"sub", ""}, {"exp", kNow}}, kSecret), std::invalid_argument);
    EXPECT_THROW(mint_hs256({{"sub", "u"}}, kSecret), std::invalid_argument);
    EXPECT_THROW(mint_hs256({{"sub", "u"}, {"exp", "soon"}}, kSecret), std::invalid_argument);
    EXPECT_THROW(mint_hs256(json::array(), kSecret), std::invalid_argument);
    EXPECT_THROW(mint_hs256(claims(), ""), std::invalid_argument);
}

TEST_F(JwtTest, JwtIoExampleTokenSignatureIsChecked) {
    // The jwt.io HS256 example, signed with "your-256-bit-secret". It has no `exp`, so a
    // correct signature gets as far as the claim checks.
    const std::string token =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    JwtPolicy policy = hs_policy();
    policy.hs256_secret = "your-256-bit-secret";
    expect_refused(token, policy, "token has no expiry ('exp')");
    policy.hs256_secret = "your-256-bit-secreT";
    expect_refused(token, policy, "token signature is invalid");
}

TEST_F(JwtTest, Rfc7515AppendixA1TokenSignatureIsChecked) {
    // RFC 7515 A.1: {"iss":"joe", "exp":1300819380, ...}, key from its JWK `k`; no `sub`.
    const std::string token =
        "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
        "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cn"
        "VlfQ."
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    JwtPolicy policy;
    policy.hs256_secret = base64url_decode(
        "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow");
    policy.issuer = "joe";
    policy.clock = fixed_clock(1300819379 * kSecond);
    expect_refused(token, policy, "token has no subject ('sub')");
    policy.clock = fixed_clock((1300819380 + 61) * kSecond);
    expect_refused(token, policy, "token expired");
    policy.clock = fixed_clock(1300819379 * kSecond);
    policy.issuer = "jane";
    expect_refused(token, policy, "token issuer is not accepted");
    policy.hs256_secret->back() ^= 1;
    expect_refused(token, policy, "token signature is invalid");
}

TEST_F(JwtTest, Rs256TokenVerifiesWithTheKeyOfItsKid) {
    const VerifiedToken a = verify_jwt(rs256(claims()), rs_policy());
    EXPECT_EQ(a.subject, "user-1");
    EXPECT_EQ(a.claims.at("exp"), kNow + 3600);
    const std::string by_b = rs256(*key_b_, claims(), {{"alg", "RS256"}, {"kid", "kid-b"}});
    EXPECT_EQ(verify_jwt(by_b, rs_policy()).subject, "user-1");
}

TEST_F(JwtTest, PolicyWithBothKeysAcceptsBothAlgorithms) {
    JwtPolicy policy = rs_policy();
    policy.hs256_secret = kSecret;
    EXPECT_NO_THROW(verify_jwt(rs256(claims()), policy));
    EXPECT_NO_THROW(verify_jwt(mint_hs256(claims(), kSecret), policy));
}

TEST_F(JwtTest, UnsetClockMeansTheSystemClock) {
    JwtPolicy policy = hs_policy();
    policy.clock = nullptr;
    const std::int64_t now = system_now() / kSecond;
    EXPECT_NO_THROW(verify_jwt(mint_hs256({{"sub", "u"}, {"exp", now + 600}}, kSecret), policy));
    expect_refused(mint_hs256({{"sub", "u"}, {"exp", now - 600}}, kSecret), policy,
                   "token expired");
}

// ---- signatures ----

TEST_F(JwtTest, TamperedPayloadIsRefused) {
    const std::string forged = b64(claims({{"sub", "admin"}}).dump());
    expect_refused(with_segment(mint_hs256(claims(), kSecret), 1, forged), hs_policy(),
                   "token signature is invalid");
    expect_refused(with_segment(rs256(claims()), 1, forged), rs_policy(),
                   "token signature is invalid");
}

TEST_F(JwtTest, TamperedSignatureIsRefused) {
    for (const auto& [token, policy] : {std::pair{mint_hs256(claims(), kSecret), hs_policy()},
                                        std::pair{rs256(claims()), rs_policy()}}) {
        std::string sig = base64url_decode(segment(token, 2));
        sig[sig.size() / 2] ^= 0x01;
        expect_refused(with_segment(token, 2, b64(sig)), policy, "token signature is invalid");
        sig.pop_back();  // and a truncated one
        expect_refused(with_segment(token, 2, b64(sig)), policy, "token signature is invalid");
        expect_refused(with_segment(token, 2, ""), policy, "token signature is invalid");
    }
}

TEST_F(JwtTest, WrongSecretIsRefused) {
    expect_refused(mint_hs256(claims(), kSecret + "x"), hs_policy(), "token signature is invalid");
    expect_refused(hs256(claims(), ""), hs_policy(), "token signature is invalid");
}

TEST_F(JwtTest, EmptySecretAcceptsNoHs256Token) {
    JwtPolicy policy = hs_policy();
    policy.hs256_secret = "";
    expect_refused(hs256(claims(), ""), policy, "token algorithm 'HS256' is not accepted");
}

TEST_F(JwtTest, AlgNoneIsRefusedWithAndWithoutSignature) {
    JwtPolicy policy = rs_policy();
    policy.hs256_secret = kSecret;
    for (const char* alg : {"none", "None", "NONE"}) {
        const std::string input = signing_input({{"alg", alg}, {"typ", "JWT"}}, claims());
        const std::string expected = std::string("token algorithm '") + alg + "' is not accepted";
        expect_refused(input + ".", policy, expected);
        expect_refused(input + "." + b64(hmac(kSecret, input)), policy, expected);
    }
}

TEST_F(JwtTest, OtherAlgorithmsAreRefused) {
    JwtPolicy policy = rs_policy();
    policy.hs256_secret = kSecret;
    for (const char* alg : {"RS512", "RS384", "PS256", "ES256", "HS512", "HS384", "EdDSA"}) {
        const json header = {{"alg", alg}, {"kid", "kid-a"}};
        const std::string input = signing_input(header, claims());
        expect_refused(input + "." + b64(key_a_->sign(input)), policy,
                       std::string("token algorithm '") + alg + "' is not accepted");
    }
    expect_refused(hs256(claims(), kSecret, {{"typ", "JWT"}}), policy,
                   "token header has no algorithm ('alg')");
    expect_refused(hs256(claims(), kSecret, {{"alg", 256}}), policy,
                   "token header has no algorithm ('alg')");
    // A hostile alg value is not echoed back.
    expect_refused(hs256(claims(), kSecret, {{"alg", "<script>alert(1)</script>"}}), policy,
                   "token algorithm is not accepted");
}

TEST_F(JwtTest, EachAlgorithmNeedsItsKeyMaterial) {
    expect_refused(rs256(claims()), hs_policy(), "token algorithm 'RS256' is not accepted");
    JwtPolicy empty_set = hs_policy();
    empty_set.jwks = Jwks::parse(R"({"keys":[]})");
    expect_refused(rs256(claims()), empty_set, "token algorithm 'RS256' is not accepted");
    expect_refused(mint_hs256(claims(), kSecret), rs_policy(),
                   "token algorithm 'HS256' is not accepted");
}

TEST_F(JwtTest, AlgorithmConfusionWithThePublicKeyAsHmacSecretIsRefused) {
    const json header = {{"alg", "HS256"}, {"typ", "JWT"}, {"kid", "kid-a"}};
    for (const std::string& key_bytes : {key_a_->pem, key_a_->der, key_a_->n}) {
        const std::string token = hs256(claims(), key_bytes, header);
        expect_refused(token, rs_policy(), "token algorithm 'HS256' is not accepted");
        JwtPolicy both = rs_policy();
        both.hs256_secret = kSecret;
        expect_refused(token, both, "token signature is invalid");
    }
}

TEST_F(JwtTest, Rs256KidMustNameTheSigningKey) {
    expect_refused(rs256(claims(), "kid-unknown"), rs_policy(),
                   "token key id is not in the key set");
    expect_refused(rs256(*key_a_, claims(), {{"alg", "RS256"}}), rs_policy(),
                   "token has no key id ('kid')");
    expect_refused(rs256(*key_a_, claims(), {{"alg", "RS256"}, {"kid", 7}}), rs_policy(),
                   "token has no key id ('kid')");
    // Signed by key A but naming key B.
    expect_refused(rs256(*key_a_, claims(), {{"alg", "RS256"}, {"kid", "kid-b"}}), rs_policy(),
                   "token signature is invalid");
}

TEST_F(JwtTest, CriticalHeaderParametersAreRefused) {
    const json header = {{"alg", "HS256"}, {"crit", {"b64"}}, {"b64", false}};
    expect_refused(hs256(claims(), kSecret, header), hs_policy(),
                   "token header has critical parameters ('crit') that k9 does not support");
}

// ---- claims ----

TEST_F(JwtTest, ExpiryIsRequiredAndNumeric) {
    json c = claims();
    c.erase("exp");
    expect_refused(hs256(c, kSecret), hs_policy(), "token has no expiry ('exp')");
    expect_refused(hs256(claims({{"exp", "tomorrow"}}), kSecret), hs_policy(),
                   "token 'exp' claim is not a number");
    expect_refused(hs256(claims({{"exp", true}}), kSecret), hs_policy(),
                   "token 'exp' claim is not a number");
    expect_refused(hs256(claims({{"nbf", "now"}}), kSecret), hs_policy(),
                   "token 'nbf' claim is not a number");
    EXPECT_NO_THROW(verify_jwt(hs256(claims({{"exp", kNow + 0.5}}), kSecret), hs_policy()));
    EXPECT_NO_THROW(verify_jwt(hs256(claims({{"exp", 1e300}}), kSecret), hs_policy()));
}

TEST_F(JwtTest, ExpiredTokenIsRefused) {
    expect_refused(mint_hs256(claims({{"exp", kNow - 61}}), kSecret), hs_policy(), "token expired");
    expect_refused(rs256(claims({{"exp", kNow - 3600}})), rs_policy(), "token expired");
}

TEST_F(JwtTest, NotYetValidTokenIsRefused) {
    expect_refused(mint_hs256(claims({{"nbf", kNow + 61}}), kSecret), hs_policy(),
                   "token is not valid yet ('nbf')");
    EXPECT_NO_THROW(verify_jwt(mint_hs256(claims({{"nbf", kNow - 5}}), kSecret), hs_policy()));
}

TEST_F(JwtTest, IssuedInTheFutureIsRefused) {
    expect_refused(mint_hs256(claims({{"iat", kNow + 61}}), kSecret), hs_policy(),
                   "token was issued in the future ('iat')");
}

TEST_F(JwtTest, LeewayIsRespectedAtTheBoundary) {
    // exp = nbf = iat = T; leeway 60 s: the edges are T + 60 s and T - 60 s, to the microsecond.
    constexpr std::int64_t t = kNow;
    JwtPolicy policy = hs_policy();
    const auto at = [&](Micros now) {
        policy.clock = fixed_clock(now);
        return policy;
    };
    const std::string exp = mint_hs256({{"sub", "u"}, {"exp", t}}, kSecret);
    EXPECT_NO_THROW(verify_jwt(exp, at((t + 60) * kSecond)));
    expect_refused(exp, at((t + 60) * kSecond + 1), "token expired");

    const std::string nbf = mint_hs256({{"sub", "u"}, {"exp", t + 3600}, {"nbf", t}}, kSecret);
    EXPECT_NO_THROW(verify_jwt(nbf, at((t - 60) * kSecond)));
    expect_refused(nbf, at((t - 60) * kSecond - 1), "token is not valid yet ('nbf')");

    const std::string iat = mint_hs256({{"sub", "u"}, {"exp", t + 3600}, {"iat", t}}, kSecret);
    EXPECT_NO_THROW(verify_jwt(iat, at((t - 60) * kSecond)));
    expect_refused(iat, at((t - 60) * kSecond - 1), "token was issued in the future ('iat')");

    policy.leeway_seconds = 0;
    EXPECT_NO_THROW(verify_jwt(exp, at(t * kSecond)));
    expect_refused(exp, at(t * kSecond + 1), "token expired");
    policy.leeway_seconds = -5;  // treated as no leeway
    EXPECT_NO_THROW(verify_jwt(exp, at(t * kSecond)));
    expect_refused(exp, at(t * kSecond + 1), "token expired");
    policy.leeway_seconds = 300;
    EXPECT_NO_THROW(verify_jwt(exp, at((t + 300) * kSecond)));
}

TEST_F(JwtTest, IssuerIsCheckedWhenThePolicySetsIt) {
    const std::string iss = cognito_issuer("us-east-1_AbC123");
    JwtPolicy policy = rs_policy();
    policy.issuer = iss;
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"iss", iss}})), policy));
    expect_refused(rs256(claims({{"iss", iss + "x"}})), policy, "token issuer is not accepted");
    expect_refused(rs256(claims({{"iss", json::array({iss})}})), policy,
                   "token issuer is not accepted");
    expect_refused(rs256(claims()), policy, "token issuer is not accepted");
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"iss", "anyone"}})), rs_policy()));
}

TEST_F(JwtTest, AudienceOfIdTokensIsChecked) {
    JwtPolicy policy = rs_policy();
    policy.audiences = {"client-1", "client-2"};
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"token_use", "id"}, {"aud", "client-2"}})), policy));
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"aud", {"other", "client-1"}}})), policy));
    expect_refused(rs256(claims({{"token_use", "id"}, {"aud", "client-3"}})), policy,
                   "token audience is not accepted");
    expect_refused(rs256(claims({{"aud", {"other", "more"}}})), policy,
                   "token audience is not accepted");
    expect_refused(rs256(claims()), policy, "token audience is not accepted");
    // An ID token is judged by `aud`, even when it also carries an accepted client_id.
    expect_refused(
        rs256(claims({{"token_use", "id"}, {"aud", "client-3"}, {"client_id", "client-1"}})),
        policy, "token audience is not accepted");
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"aud", "anyone"}})), rs_policy()));
}

TEST_F(JwtTest, ClientIdIsAcceptedForAccessTokens) {
    JwtPolicy policy = rs_policy();
    policy.audiences = {"client-1"};
    const json access = {{"token_use", "access"}, {"client_id", "client-1"}, {"scope", "openid"}};
    EXPECT_EQ(verify_jwt(rs256(claims(access)), policy).subject, "user-1");
    expect_refused(rs256(claims({{"token_use", "access"}, {"client_id", "client-9"}})), policy,
                   "token audience is not accepted");
    expect_refused(rs256(claims({{"token_use", "access"}, {"aud", "client-1"}})), policy,
                   "token audience is not accepted");
    expect_refused(rs256(claims({{"token_use", "access"}, {"client_id", {"client-1"}}})), policy,
                   "token audience is not accepted");
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"client_id", "client-1"}})), policy));
}

TEST_F(JwtTest, SubjectIsRequired) {
    json c = claims();
    c.erase("sub");
    expect_refused(hs256(c, kSecret), hs_policy(), "token has no subject ('sub')");
    expect_refused(hs256(claims({{"sub", ""}}), kSecret), hs_policy(),
                   "token has no subject ('sub')");
    expect_refused(hs256(claims({{"sub", 42}}), kSecret), hs_policy(),
                   "token has no subject ('sub')");
    EXPECT_EQ(verify_jwt(hs256(claims({{"sub", std::string(256, 's')}}), kSecret), hs_policy())
                  .subject.size(),
              256u);
    expect_refused(hs256(claims({{"sub", std::string(257, 's')}}), kSecret), hs_policy(),
                   "token subject ('sub') is longer than 256 bytes");
}

TEST_F(JwtTest, TokenUseMustBeIdOrAccess) {
    expect_refused(rs256(claims({{"token_use", "refresh"}})), rs_policy(),
                   "token use 'refresh' is not accepted: only ID and access tokens are");
    expect_refused(rs256(claims({{"token_use", 1}})), rs_policy(),
                   "token use is not accepted: only ID and access tokens are");
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"token_use", "id"}})), rs_policy()));
    EXPECT_NO_THROW(verify_jwt(rs256(claims({{"token_use", "access"}})), rs_policy()));
}

// ---- shape ----

TEST_F(JwtTest, HeaderAndPayloadMustBeJsonObjects) {
    const std::string good = mint_hs256(claims(), kSecret);
    const auto resign = [](const std::string& header_b64, const std::string& payload_b64) {
        const std::string input = header_b64 + "." + payload_b64;
        return input + "." + b64(hmac(kSecret, input));
    };
    const std::string payload = segment(good, 1);
    const std::string header = segment(good, 0);
    for (const char* bad : {"not json", R"(["alg","HS256"])", R"("HS256")", R"({"alg":"HS256")"}) {
        expect_refused(resign(b64(bad), payload), hs_policy(), "token header is not a JSON object");
        expect_refused(resign(header, b64(bad)), hs_policy(), "token payload is not a JSON object");
    }
    expect_refused(resign(b64("\xff\xfe"), payload), hs_policy(),
                   "token header is not a JSON object");
}

TEST_F(JwtTest, SegmentsMustBeUnpaddedBase64url) {
    const std::string good = mint_hs256(claims(), kSecret);
    const std::string h = segment(good, 0), p = segment(good, 1), s = segment(good, 2);
    ASSERT_NO_THROW(verify_jwt(good, hs_policy()));
    expect_refused(h + "=." + p + "." + s, hs_policy(), "token header is not unpadded base64url");
    expect_refused(h + ".*" + p + "." + s, hs_policy(), "token payload is not unpadded base64url");
    expect_refused(h + "." + p + "." + s + "=", hs_policy(),
                   "token signature is not unpadded base64url");
    // Standard-alphabet characters, whitespace, and a length no encoding produces.
    const std::string std_alphabet = base64_encode(base64url_decode(s));
    expect_refused(h + "." + p + "." + std_alphabet, hs_policy(),
                   "token signature is not unpadded base64url");
    expect_refused(h + "." + p + " ." + s, hs_policy(), "token payload is not unpadded base64url");
    expect_refused(h + "." + p + "." + s + "AA", hs_policy(),  // 45 characters
                   "token signature is not unpadded base64url");
    // Non-canonical: the 43rd character of a 32-byte signature carries 2 unused bits, which
    // canonical encoding leaves zero. Setting one gives a different text for the same bytes.
    static constexpr std::string_view kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string loose = s;
    loose.back() = kAlphabet[kAlphabet.find(s.back()) + 1];
    ASSERT_EQ(base64url_decode(loose), base64url_decode(s));
    expect_refused(h + "." + p + "." + loose, hs_policy(),
                   "token signature is not unpadded base64url");
}

TEST_F(JwtTest, ExactlyThreeSegmentsAreAccepted) {
    const std::string good = mint_hs256(claims(), kSecret);
    const std::string h = segment(good, 0), p = segment(good, 1), s = segment(good, 2);
    const std::string message = "token is not a compact JWS: expected three base64url segments";
    expect_refused("", hs_policy(), message);
    expect_refused(h, hs_policy(), message);
    expect_refused(h + "." + p, hs_policy(), message);
    expect_refused(h + "." + p + "." + s + "." + s, hs_policy(), message);
    expect_refused(good + ".", hs_policy(), message);
    expect_refused(h + ".." + p + "." + s, hs_policy(), message);
}

TEST_F(JwtTest, TokensOver8KiBAreRefused) {
    // Valid tokens of exactly 8192 and 8193 bytes, padding the header and the payload (each
    // segment's length skips every fourth value, their sum does not).
    const auto sized = [](std::size_t size) {
        for (std::size_t h = 0; h < 4; ++h) {
            for (std::size_t p = 5800; p < 6200; ++p) {
                const json header = {{"alg", "HS256"}, {"pad", std::string(h, 'h')}};
                std::string token = hs256(claims({{"pad", std::string(p, 'p')}}), kSecret, header);
                if (token.size() == size) return token;
            }
        }
        throw std::logic_error("no token of the wanted size");
    };
    EXPECT_NO_THROW(verify_jwt(sized(8192), hs_policy()));
    expect_refused(sized(8193), hs_policy(), "token is too large: at most 8192 bytes are accepted");
    expect_refused(std::string(100'000, 'a'), hs_policy(),
                   "token is too large: at most 8192 bytes are accepted");
}

TEST_F(JwtTest, MessagesNeverEchoTheTokenOrSecret) {
    const std::string good = mint_hs256(claims(), kSecret);
    const std::vector<std::string> bad = {
        mint_hs256(claims(), kSecret + "!"),
        mint_hs256(claims({{"exp", kNow - 3600}}), kSecret),
        with_segment(good, 1, b64("{\"sub\":\"x\"")),
        good + "=",
        hs256(claims({{"token_use", "user-1-secret-use-value-that-is-long"}}), kSecret),
    };
    for (const std::string& token : bad) {
        try {
            verify_jwt(token, hs_policy());
            ADD_FAILURE() << "accepted";
        } catch (const JwtError& e) {
            const std::string what = e.what();
            EXPECT_EQ(what.find(segment(token, 1)), std::string::npos) << what;
            EXPECT_EQ(what.find(segment(token, 2).substr(0, 10)), std::string::npos) << what;
            EXPECT_EQ(what.find(kSecret), std::string::npos) << what;
            EXPECT_EQ(what.find("user-1"), std::string::npos) << what;
        }
    }
}

// ---- key sets ----

TEST_F(JwtTest, JwksSkipsKeysThatAreNotRs256SigningKeys) {
    const json set = {
        {"keys",
         {{{"kty", "EC"}, {"kid", "ec"}, {"crv", "P-256"}, {"x", "AAAA"}, {"y", "AAAA"}},
          {{"kty", "oct"}, {"kid", "oct"}, {"k", "c2VjcmV0"}},
          [] {
              json k = key_b_->jwk("enc");
              k["use"] = "enc";
              return k;
          }(),
          [] {
              json k = key_b_->jwk("rs512");
              k["alg"] = "RS512";
              return k;
          }(),
          [] {
              json k = key_b_->jwk("no-kid");
              k.erase("kid");
              return k;
          }(),
          [] {
              json k = key_a_->jwk("bare");
              k.erase("alg");
              k.erase("use");
              return k;
          }()}}};
    const auto jwks = Jwks::parse(set.dump());
    EXPECT_EQ(jwks->size(), 1u);
    EXPECT_TRUE(jwks->contains("bare"));
    EXPECT_FALSE(jwks->contains("ec"));
    EXPECT_FALSE(jwks->contains("enc"));
    JwtPolicy policy = rs_policy();
    policy.jwks = jwks;
    EXPECT_NO_THROW(
        verify_jwt(rs256(*key_a_, claims(), {{"alg", "RS256"}, {"kid", "bare"}}), policy));
    expect_refused(rs256(*key_b_, claims(), {{"alg", "RS256"}, {"kid", "enc"}}), policy,
                   "token key id is not in the key set");

    const auto only_ec = Jwks::parse(R"({"keys":[{"kty":"EC","kid":"x","crv":"P-256"}]})");
    EXPECT_TRUE(only_ec->empty());
    EXPECT_FALSE(jwks->empty());
}

TEST_F(JwtTest, JwksRefusesWhatIsNotAKeySet) {
    for (const char* text : {"", "garbage", "{\"keys\":[", "[]", "{}", R"({"keys":{}})",
                             R"({"keys":"none"})", R"({"keys":[1]})", "null"}) {
        EXPECT_THROW(Jwks::parse(text), JwtError) << text;
    }
    const auto refused = [](json key) {
        EXPECT_THROW(Jwks::parse(json{{"keys", {key}}}.dump()), JwtError) << key.dump();
    };
    json no_n = key_a_->jwk("k");
    no_n.erase("n");
    refused(no_n);
    json padded_n = key_a_->jwk("k");
    padded_n["n"] = padded_n["n"].get<std::string>() + "=";
    refused(padded_n);
    json even_n = key_a_->jwk("k");  // an even modulus is not an RSA key
    std::string n = key_a_->n;
    n.back() = static_cast<char>(n.back() & ~1);
    even_n["n"] = b64(n);
    refused(even_n);
    const RsaKey weak(1024);
    refused(weak.jwk("weak"));
    json exponent_one = key_a_->jwk("k");
    exponent_one["e"] = b64("\x01");
    refused(exponent_one);
    EXPECT_THROW(Jwks::parse(json{{"keys", {key_a_->jwk("dup"), key_b_->jwk("dup")}}}.dump()),
                 JwtError);
}

TEST_F(JwtTest, JwksVerifyRs256Directly) {
    const std::string input = "header.payload";
    const std::string sig = key_a_->sign(input);
    EXPECT_TRUE((*jwks_)->verify_rs256("kid-a", input, sig));
    EXPECT_FALSE((*jwks_)->verify_rs256("kid-b", input, sig));
    EXPECT_FALSE((*jwks_)->verify_rs256("kid-x", input, sig));
    EXPECT_FALSE((*jwks_)->verify_rs256("kid-a", input + "!", sig));
}

// ---- Cognito ----

TEST(CognitoIssuer, RegionComesFromThePoolId) {
    EXPECT_EQ(cognito_issuer("us-east-1_AbC123"),
              "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AbC123");
    EXPECT_EQ(cognito_issuer("eu-central-1_x9"),
              "https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_x9");
    EXPECT_EQ(cognito_issuer("us-gov-west-1_Z"),
              "https://cognito-idp.us-gov-west-1.amazonaws.com/us-gov-west-1_Z");
}

TEST(CognitoIssuer, MalformedPoolIdsAreRefused) {
    for (const char* id :
         {"", "us-east-1", "us-east-1_", "_AbC123", "US-EAST-1_AbC123", "us-east_AbC123",
          "useast1_AbC123", "us-east-1_Ab_C", "us-east-1_Ab-C", "us east-1_AbC", "us-east-1_AbC/..",
          "us--east-1_AbC", "https://evil.example/x_1"}) {
        EXPECT_THROW(cognito_issuer(id), std::invalid_argument) << id;
    }
}

}  // namespace
}  // namespace k9::api
