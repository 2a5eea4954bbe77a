#include "common/hash.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>
#include <vector>

#include "common/fs.hpp"

namespace k9 {

struct Sha256::Impl {
    EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
    impl_->ctx = EVP_MD_CTX_new();
    if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256: OpenSSL initialisation failed");
    }
}

Sha256::~Sha256() {
    EVP_MD_CTX_free(impl_->ctx);
}

void Sha256::update(const void* data, std::size_t size) {
    EVP_DigestUpdate(impl_->ctx, data, size);
}

Digest32 Sha256::finish() {
    Digest32 out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(impl_->ctx, out.data(), &len);
    return out;
}

Digest32 sha256(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

std::string sha256_hex(std::string_view data) {
    return to_hex(sha256(data));
}

std::string sha256_file_hex(const std::filesystem::path& path) {
    Sha256 h;
    fs::for_each_chunk(path, 1u << 20, [&](const char* data, std::size_t n) { h.update(data, n); });
    return to_hex(h.finish());
}

Digest32 hmac_sha256(std::string_view key, std::string_view data) {
    Digest32 out{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
    return out;
}

std::string to_hex(const unsigned char* data, std::size_t size) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(size * 2, '0');
    for (std::size_t i = 0; i < size; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0xf];
    }
    return out;
}

namespace {
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string encode(std::string_view data, bool url) {
    std::string out;
    out.reserve((data.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto at = [&](std::size_t k) { return static_cast<unsigned char>(data[k]); };
    auto put = [&](unsigned v) {
        char c = kB64[v & 63];
        if (url && c == '+') c = '-';
        if (url && c == '/') c = '_';
        out += c;
    };
    for (; i + 2 < data.size(); i += 3) {
        const unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
        put(v >> 18), put(v >> 12), put(v >> 6), put(v);
    }
    if (i + 1 == data.size()) {
        const unsigned v = at(i) << 16;
        put(v >> 18), put(v >> 12);
        if (!url) out += "==";
    } else if (i + 2 == data.size()) {
        const unsigned v = (at(i) << 16) | (at(i + 1) << 8);
        put(v >> 18), put(v >> 12), put(v >> 6);
        if (!url) out += '=';
    }
    return out;
}

std::string decode(std::string_view text, bool url) {
    while (!text.empty() && text.back() == '=') text.remove_suffix(1);
    std::string out;
    out.reserve(text.size() * 3 / 4);
    unsigned acc = 0;
    int bits = 0;
    for (char c : text) {
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == (url ? '-' : '+'))
            v = 62;
        else if (c == (url ? '_' : '/'))
            v = 63;
        else
            throw std::invalid_argument("not base64");
        acc = (acc << 6) | static_cast<unsigned>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    if (bits >= 6) throw std::invalid_argument("not base64: truncated");
    return out;
}
}  // namespace

std::string base64_encode(std::string_view data) {
    return encode(data, false);
}
std::string base64_decode(std::string_view text) {
    return decode(text, false);
}
std::string base64url_encode(std::string_view data) {
    return encode(data, true);
}
std::string base64url_decode(std::string_view text) {
    return decode(text, true);
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        throw std::runtime_error("random bytes: OpenSSL RAND_bytes failed");
    }
    return out;
}

std::string new_uuid_v7(std::int64_t unix_ms) {
    std::string b = random_bytes(16);
    auto ms = static_cast<std::uint64_t>(unix_ms);
    for (int i = 0; i < 6; ++i) b[i] = static_cast<char>((ms >> (8 * (5 - i))) & 0xff);
    b[6] = static_cast<char>((b[6] & 0x0f) | 0x70);
    b[8] = static_cast<char>((b[8] & 0x3f) | 0x80);
    const std::string hex = to_hex(reinterpret_cast<const unsigned char*>(b.data()), 16);
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
           hex.substr(16, 4) + "-" + hex.substr(20);
}

}  // namespace k9
