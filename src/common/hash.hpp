#pragma once
// Hashes and encodings (OpenSSL underneath): SHA-256, MD5, HMAC-SHA256, hex, base64.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace k9 {

using Digest32 = std::array<unsigned char, 32>;

// Incremental SHA-256.
class Sha256 {
  public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    void update(const void* data, std::size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    Digest32 finish();

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

Digest32 sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
// SHA-256 of a whole file, as lowercase hex.
std::string sha256_file_hex(const std::filesystem::path& path);
Digest32 hmac_sha256(std::string_view key, std::string_view data);

std::string to_hex(const unsigned char* data, std::size_t size);
template <std::size_t N>
std::string to_hex(const std::array<unsigned char, N>& d) {
    return to_hex(d.data(), d.size());
}
std::string base64_encode(std::string_view data);
// Standard alphabet with padding; throws std::invalid_argument on bad input.
std::string base64_decode(std::string_view text);
// URL-safe alphabet, no padding (JWT, cursors).
std::string base64url_encode(std::string_view data);
// Accepts with or without padding; throws std::invalid_argument on bad input.
std::string base64url_decode(std::string_view text);

// Cryptographically random bytes.
std::string random_bytes(std::size_t n);
// A random RFC 9562 UUID version 7 (time-ordered), lowercase text.
std::string new_uuid_v7(std::int64_t unix_ms);

}  // namespace k9
