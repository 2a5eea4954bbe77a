#include "common/checksum.hpp"

#include <isa-l/crc.h>
#include <xxhash.h>

#include <stdexcept>
#include <vector>

#include "common/fs.hpp"
#include "common/hash.hpp"

namespace k9 {

struct Xxh128::State {
    XXH3_state_t* s = nullptr;
};

Xxh128::Xxh128() : state_(std::make_unique<State>()) {
    state_->s = XXH3_createState();
    if (state_->s == nullptr || XXH3_128bits_reset(state_->s) != XXH_OK) throw std::bad_alloc();
}

Xxh128::~Xxh128() {
    XXH3_freeState(state_->s);
}

void Xxh128::update(const void* data, std::size_t size) {
    XXH3_128bits_update(state_->s, data, size);
}

std::string Xxh128::hex() const {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_->s));
    return to_hex(canonical.digest, sizeof canonical.digest);
}

std::string xxh128_hex(std::string_view data) {
    Xxh128 h;
    h.update(data.data(), data.size());
    return h.hex();
}

std::string xxh128_file_hex(const std::filesystem::path& path) {
    Xxh128 h;
    fs::for_each_chunk(path, 4u << 20, [&](const char* data, std::size_t n) { h.update(data, n); });
    return h.hex();
}

void Crc32c::update(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    // ISA-L takes an int length: feed it in chunks below 2 GiB.
    constexpr std::size_t kChunk = 1u << 30;
    while (size > 0) {
        const std::size_t n = size < kChunk ? size : kChunk;
        raw_ = crc32_iscsi(const_cast<unsigned char*>(p), static_cast<int>(n), raw_);
        p += n;
        size -= n;
    }
}

std::string Crc32c::base64() const {
    const std::uint32_t v = value();
    const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                           static_cast<char>(v >> 8), static_cast<char>(v)};
    return base64_encode(std::string_view(bytes, 4));
}

std::uint32_t crc32c(std::string_view data) {
    Crc32c c;
    c.update(data.data(), data.size());
    return c.value();
}

}  // namespace k9
