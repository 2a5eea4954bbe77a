#pragma once
// Tokens made for tests with OpenSSL directly (not k9's own JWT or hash code): RSA key pairs
// with their public halves as JWK, PEM and DER, RS256 signatures, HMAC-SHA256, and compact
// tokens from any header and payload (mint_hs256 refuses malformed claims; these do not).

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/hash.hpp"

namespace k9::test {

template <auto Free>
struct OpenSslFree {
    template <class T>
    void operator()(T* p) const {
        Free(p);
    }
};

// A big number parameter of `key` (e.g. OSSL_PKEY_PARAM_RSA_N) as big-endian bytes.
inline std::string bn_param(EVP_PKEY* key, const char* name) {
    BIGNUM* raw = nullptr;
    if (EVP_PKEY_get_bn_param(key, name, &raw) != 1)
        throw std::runtime_error("EVP_PKEY_get_bn_param failed");
    std::unique_ptr<BIGNUM, OpenSslFree<BN_free>> bn(raw);
    std::string out(static_cast<std::size_t>(BN_num_bytes(bn.get())), '\0');
    BN_bn2bin(bn.get(), reinterpret_cast<unsigned char*>(out.data()));
    return out;
}

// An RSA key pair made for the test, with its public half in the forms tests need.
struct RsaKey {
    std::unique_ptr<EVP_PKEY, OpenSslFree<EVP_PKEY_free>> key;
    std::string n, e;  // big-endian bytes
    std::string pem, der;

    explicit RsaKey(unsigned bits = 2048) : key(EVP_RSA_gen(bits)) {
        if (!key) throw std::runtime_error("EVP_RSA_gen failed");
        n = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_N);
        e = bn_param(key.get(), OSSL_PKEY_PARAM_RSA_E);
        std::unique_ptr<BIO, OpenSslFree<BIO_free_all>> bio(BIO_new(BIO_s_mem()));
        if (!bio || PEM_write_bio_PUBKEY(bio.get(), key.get()) != 1)
            throw std::runtime_error("PEM_write_bio_PUBKEY failed");
        char* data = nullptr;
        const long size = BIO_get_mem_data(bio.get(), &data);
        pem.assign(data, static_cast<std::size_t>(size));
        der.resize(static_cast<std::size_t>(i2d_PUBKEY(key.get(), nullptr)));
        auto* p = reinterpret_cast<unsigned char*>(der.data());
        if (i2d_PUBKEY(key.get(), &p) != static_cast<int>(der.size()))
            throw std::runtime_error("i2d_PUBKEY failed");
    }

    nlohmann::json jwk(const std::string& kid) const {
        return {{"kty", "RSA"},
                {"kid", kid},
                {"alg", "RS256"},
                {"use", "sig"},
                {"n", base64url_encode(n)},
                {"e", base64url_encode(e)}};
    }

    // RSASSA-PKCS1-v1_5 with SHA-256: the RS256 signature of `data`.
    std::string sign(std::string_view data) const {
        std::unique_ptr<EVP_MD_CTX, OpenSslFree<EVP_MD_CTX_free>> md(EVP_MD_CTX_new());
        std::size_t size = 0;
        const auto* in = reinterpret_cast<const unsigned char*>(data.data());
        if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
            EVP_DigestSign(md.get(), nullptr, &size, in, data.size()) != 1) {
            throw std::runtime_error("EVP_DigestSign setup failed");
        }
        std::string sig(size, '\0');
        if (EVP_DigestSign(md.get(), reinterpret_cast<unsigned char*>(sig.data()), &size, in,
                           data.size()) != 1) {
            throw std::runtime_error("EVP_DigestSign failed");
        }
        sig.resize(size);
        return sig;
    }
};

inline std::string hmac_sha256(std::string_view key, std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    std::size_t size = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                  reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, sizeof out,
                  &size) == nullptr) {
        throw std::runtime_error("EVP_Q_mac failed");
    }
    return std::string(reinterpret_cast<char*>(out), size);
}

inline std::string signing_input(const nlohmann::json& header, const nlohmann::json& payload) {
    return base64url_encode(header.dump()) + "." + base64url_encode(payload.dump());
}

// Any header and payload, HMAC-signed with `key`.
inline std::string hs256(const nlohmann::json& payload, std::string_view key,
                         const nlohmann::json& header = {{"alg", "HS256"}, {"typ", "JWT"}}) {
    const std::string input = signing_input(header, payload);
    return input + "." + base64url_encode(hmac_sha256(key, input));
}

// Any header and payload, RS256-signed with `key`.
inline std::string rs256_token(const RsaKey& key, const nlohmann::json& payload,
                               const nlohmann::json& header) {
    const std::string input = signing_input(header, payload);
    return input + "." + base64url_encode(key.sign(input));
}

}  // namespace k9::test
