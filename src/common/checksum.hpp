#pragma once
// Fast integrity checksums for whole objects:
//  - XXH3-128 (libxxhash): k9's own checksum of every stored object ("k9-xxh128"),
//    and the file store's ETag. 128 bits: accidental collisions do not happen.
//  - CRC32C (ISA-L): what S3 verifies on upload (x-amz-checksum-crc32c).
// Both are incremental; neither is a defence against someone who can write the bucket.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace k9 {

class Xxh128 {
  public:
    Xxh128();
    ~Xxh128();
    Xxh128(const Xxh128&) = delete;
    Xxh128& operator=(const Xxh128&) = delete;
    void update(const void* data, std::size_t size);
    // 32 lowercase hex digits.
    std::string hex() const;

  private:
    struct State;
    std::unique_ptr<State> state_;
};

std::string xxh128_hex(std::string_view data);
// Of the whole file's bytes.
std::string xxh128_file_hex(const std::filesystem::path& path);

class Crc32c {
  public:
    void update(const void* data, std::size_t size);
    std::uint32_t value() const { return ~raw_; }
    // Big-endian bytes of the value, base64: the form S3 headers use.
    std::string base64() const;

  private:
    std::uint32_t raw_ = 0xFFFFFFFFu;
};

std::uint32_t crc32c(std::string_view data);

}  // namespace k9
