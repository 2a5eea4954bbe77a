#include <gtest/gtest.h>

#include "common/checksum.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/time.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

TEST(Time, FormatsAndParsesIso8601) {
    EXPECT_EQ(format_iso8601(0), "1970-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_iso8601(1'700'000'000'123'456), "2023-11-14T22:13:20.123456Z");
    EXPECT_EQ(parse_iso8601("2023-11-14T22:13:20.123456Z"), 1'700'000'000'123'456);
    EXPECT_EQ(parse_iso8601("2023-11-14T23:13:20+01:00"), 1'700'000'000'000'000);
    EXPECT_EQ(parse_iso8601("2023-11-14T22:13:20.1Z"), 1'700'000'000'100'000);
    EXPECT_FALSE(parse_iso8601("2023-02-30T00:00:00Z"));
    EXPECT_FALSE(parse_iso8601("2023-11-14T22:13:20"));
    EXPECT_FALSE(parse_iso8601("2023-11-14T22:13:20Zjunk"));
    EXPECT_FALSE(parse_iso8601(""));
}

TEST(Time, CalendarDates) {
    EXPECT_TRUE(is_calendar_date("2024-02-29"));
    EXPECT_FALSE(is_calendar_date("2023-02-29"));
    EXPECT_FALSE(is_calendar_date("2024-13-01"));
    EXPECT_FALSE(is_calendar_date("2024-1-01"));
    EXPECT_FALSE(is_calendar_date("2024-01-01T00:00:00Z"));
}

TEST(Hash, KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(to_hex(hmac_sha256("key", "The quick brown fox jumps over the lazy dog")),
              "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    EXPECT_EQ(md5_base64(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

TEST(Hash, FileHashMatchesMemoryHash) {
    test::TempDir tmp;
    const std::string data = random_bytes(3'000'001);
    test::spit(tmp / "f", data);
    EXPECT_EQ(sha256_file_hex(tmp / "f"), sha256_hex(data));
}

TEST(Checksum, KnownVectors) {
    // CRC32C check value (RFC 3720 / the CRC catalogue): "123456789" -> 0xE3069283.
    EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
    EXPECT_EQ(crc32c(""), 0u);
    Crc32c parts;
    parts.update("1234", 4);
    parts.update("56789", 5);
    EXPECT_EQ(parts.value(), 0xE3069283u);
    EXPECT_EQ(parts.base64(), "4waSgw==");
    // XXH3-128 of the empty input, as published with xxHash.
    EXPECT_EQ(xxh128_hex(""), "99aa06d3014798d86001c324468d497f");
}

TEST(Checksum, FileChecksumMatchesMemoryChecksum) {
    test::TempDir tmp;
    const std::string data = random_bytes(5'000'003);
    test::spit(tmp / "f", data);
    EXPECT_EQ(xxh128_file_hex(tmp / "f"), xxh128_hex(data));
    EXPECT_NE(xxh128_hex(data), xxh128_hex(data.substr(1)));
}

TEST(Base64, RoundTripsAndRejectsGarbage) {
    for (std::string s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        EXPECT_EQ(base64_decode(base64_encode(s)), s);
        EXPECT_EQ(base64url_decode(base64url_encode(s)), s);
    }
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
    EXPECT_THROW(base64_decode("Zm9v!"), std::invalid_argument);
    EXPECT_THROW(base64url_decode("A"), std::invalid_argument);
}

TEST(Uuid, Version7IsTimeOrderedAndWellFormed) {
    const std::string a = new_uuid_v7(1000), b = new_uuid_v7(2000);
    EXPECT_EQ(a.size(), 36u);
    EXPECT_EQ(a[14], '7');
    EXPECT_LT(a, b);
    EXPECT_NE(new_uuid_v7(5), new_uuid_v7(5));
}

TEST(Fs, AtomicWriteReplacesWholeFiles) {
    test::TempDir tmp;
    fs::atomic_write(tmp / "f", "one");
    fs::atomic_write(tmp / "f", "two, longer");
    EXPECT_EQ(test::slurp(tmp / "f"), "two, longer");
    int entries = 0;
    for (const auto& e : std::filesystem::directory_iterator(tmp.path())) entries += e.exists();
    EXPECT_EQ(entries, 1) << "no temp file may be left behind";
}

TEST(Fs, TempFileIsRemovedUnlessCommitted) {
    test::TempDir tmp;
    std::filesystem::path p;
    {
        fs::TempFile t(tmp.path(), "x");
        p = t.path();
        EXPECT_TRUE(std::filesystem::exists(p));
    }
    EXPECT_FALSE(std::filesystem::exists(p));
}

TEST(Fs, ExclusiveLockIsExclusiveSharedIsShared) {
    test::TempDir tmp;
    auto a = fs::FileLock::try_lock(tmp / "l", fs::FileLock::Mode::Shared);
    auto b = fs::FileLock::try_lock(tmp / "l", fs::FileLock::Mode::Shared);
    EXPECT_TRUE(a.owns());
    EXPECT_TRUE(b.owns());
    EXPECT_FALSE(fs::FileLock::try_lock(tmp / "l", fs::FileLock::Mode::Exclusive).owns());
}

}  // namespace
}  // namespace k9
