// The ObjectStore contract, run against every backend on every test run.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/hash.hpp"
#include "store/file_store.hpp"
#include "support/store_backends.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

using store::ErrorKind;
using store::Precondition;
using store::PutOptions;
using store::StoreError;

ErrorKind kind_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const StoreError& e) {
        return e.kind();
    }
    ADD_FAILURE() << "expected a StoreError";
    return ErrorKind::InvalidArgument;
}

PutOptions with(Precondition p) {
    PutOptions o;
    o.precondition = std::move(p);
    return o;
}

class StoreConformance : public ::testing::TestWithParam<test::BackendFactory> {
protected:
    void SetUp() override { store_ = GetParam().make(); }
    store::ObjectStore& s() { return *store_; }
    test::TempDir tmp_;
    std::shared_ptr<store::ObjectStore> store_;
};

TEST_P(StoreConformance, PutThenGetReturnsTheSameBytesAndMetadata) {
    auto put = s().put_bytes("hello world", "a/b.txt", PutOptions{{}, {{"k9-test", "yes"}}, {}});
    EXPECT_EQ(put.size, 11u);
    EXPECT_FALSE(put.etag.empty());
    store::ObjectInfo got;
    EXPECT_EQ(s().get_bytes("a/b.txt", &got), "hello world");
    EXPECT_EQ(got.etag, put.etag);
    auto head = s().head("a/b.txt");
    EXPECT_EQ(head.size, 11u);
    EXPECT_EQ(head.etag, put.etag);
    EXPECT_EQ(head.metadata.at("k9-test"), "yes");
}

TEST_P(StoreConformance, FileRoundTripIsByteIdentical) {
    const std::string big = random_bytes(3 * 1024 * 1024 + 17);
    test::spit(tmp_ / "src", big);
    auto put = s().put_file(tmp_ / "src", "db/big.bin");
    EXPECT_EQ(put.size, big.size());
    auto got = s().get_file("db/big.bin", tmp_ / "dst");
    EXPECT_EQ(got.etag, put.etag);
    EXPECT_EQ(test::slurp(tmp_ / "dst"), big);
}

TEST_P(StoreConformance, EmptyObject) {
    s().put_bytes("", "empty");
    EXPECT_EQ(s().head("empty").size, 0u);
    EXPECT_EQ(s().get_bytes("empty"), "");
    s().get_file("empty", tmp_ / "e");
    EXPECT_EQ(test::slurp(tmp_ / "e"), "");
}

TEST_P(StoreConformance, RangeGetReturnsOnlyThoseBytes) {
    s().put_bytes("0123456789", "r");
    store::GetOptions o;
    o.range = {{2, 5}};
    s().get_file("r", tmp_ / "part", o);
    EXPECT_EQ(test::slurp(tmp_ / "part"), "2345");
    o.range = {{8, 100}};  // past the end: clamped, as S3 does
    s().get_file("r", tmp_ / "tail", o);
    EXPECT_EQ(test::slurp(tmp_ / "tail"), "89");
}

TEST_P(StoreConformance, MissingObjectsAreNotFound) {
    EXPECT_EQ(kind_of([&] { s().head("nope"); }), ErrorKind::NotFound);
    EXPECT_EQ(kind_of([&] { s().get_bytes("nope"); }), ErrorKind::NotFound);
    EXPECT_EQ(kind_of([&] { s().get_file("nope", tmp_ / "x"); }), ErrorKind::NotFound);
    EXPECT_FALSE(s().head_if_exists("nope").has_value());
}

TEST_P(StoreConformance, CreateOnlyPutRefusesAnExistingKey) {
    s().put_bytes("first", "k", with(Precondition::if_none_match_any()));
    EXPECT_EQ(kind_of([&] { s().put_bytes("second", "k", with(Precondition::if_none_match_any())); }),
              ErrorKind::PreconditionFailed);
    EXPECT_EQ(s().get_bytes("k"), "first");
}

TEST_P(StoreConformance, IfMatchReplacesOnlyTheVersionRead) {
    auto v1 = s().put_bytes("v1", "k");
    auto v2 = s().put_bytes("v2", "k", with(Precondition::if_match(v1.etag)));
    EXPECT_NE(v1.etag, v2.etag);
    EXPECT_EQ(kind_of([&] { s().put_bytes("v3", "k", with(Precondition::if_match(v1.etag))); }),
              ErrorKind::PreconditionFailed);
    EXPECT_EQ(s().get_bytes("k"), "v2");
    EXPECT_EQ(kind_of([&] { s().put_bytes("x", "absent", with(Precondition::if_match(v1.etag))); }),
              ErrorKind::PreconditionFailed);
    EXPECT_FALSE(s().head_if_exists("absent"));
}

TEST_P(StoreConformance, GetIfMatchFailsWhenTheObjectChanged) {
    auto v1 = s().put_bytes("v1", "k");
    s().put_bytes("v2-different", "k");
    store::GetOptions o;
    o.if_match = v1.etag;
    EXPECT_EQ(kind_of([&] { s().get_file("k", tmp_ / "x", o); }), ErrorKind::PreconditionFailed);
}

TEST_P(StoreConformance, ListsByPrefixInKeyOrder) {
    for (const char* k : {"j/00000000000000000002", "j/00000000000000000001", "j/00000000000000000010",
                          "jx", "other/1"}) {
        s().put_bytes(k, k);
    }
    auto all = s().list("j/");
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].key, "j/00000000000000000001");
    EXPECT_EQ(all[1].key, "j/00000000000000000002");
    EXPECT_EQ(all[2].key, "j/00000000000000000010");
    EXPECT_EQ(all[0].size, 22u);
    auto after = s().list("j/", "j/00000000000000000001");
    ASSERT_EQ(after.size(), 2u);
    EXPECT_EQ(after[0].key, "j/00000000000000000002");
    EXPECT_EQ(s().list("j/", "", 1).size(), 1u);
    EXPECT_EQ(s().list("j").size(), 4u);  // "jx" too
    EXPECT_TRUE(s().list("nothing/").empty());
}

TEST_P(StoreConformance, RemoveDeletesAndIsIdempotent) {
    s().put_bytes("x", "d/x");
    s().remove("d/x");
    EXPECT_FALSE(s().head_if_exists("d/x"));
    EXPECT_NO_THROW(s().remove("d/x"));
    EXPECT_TRUE(s().list("d/").empty());
}

TEST_P(StoreConformance, KeysWithSpecialCharactersRoundTrip) {
    for (const std::string key : {"with space/a b.db", "plus+sign=equals.db", "unicodé/ключ/鍵.db",
                                  "tilde~and(parens)!*'.db", "percent%20literal.db"}) {
        SCOPED_TRACE(key);
        s().put_bytes("data:" + key, key);
        EXPECT_EQ(s().get_bytes(key), "data:" + key);
        auto listed = s().list(key);
        ASSERT_EQ(listed.size(), 1u);
        EXPECT_EQ(listed[0].key, key);
    }
}

TEST_P(StoreConformance, InvalidKeysAreRefused) {
    for (const std::string key : {"", "/abs", "a//b", "a/../b", "trailing/"}) {
        SCOPED_TRACE(key);
        EXPECT_EQ(kind_of([&] { s().put_bytes("x", key); }), ErrorKind::InvalidArgument);
    }
}

TEST_P(StoreConformance, ConcurrentCreateOnlyPutsHaveExactlyOneWinner) {
    constexpr int kWriters = 8;
    std::atomic<int> won{0}, lost{0}, other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
        threads.emplace_back([&, i] {
            try {
                s().put_bytes("writer " + std::to_string(i), "race", with(Precondition::if_none_match_any()));
                ++won;
            } catch (const StoreError& e) {
                (e.is_precondition_failed() ? lost : other)++;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(won, 1);
    EXPECT_EQ(lost, kWriters - 1);
    EXPECT_EQ(other, 0);
}

TEST_P(StoreConformance, UrlNamesTheObject) {
    const std::string url = s().url_for("databases/k9_api_dev.db");
    EXPECT_NE(url.find("databases/k9_api_dev.db"), std::string::npos);
    EXPECT_TRUE(url.rfind("file://", 0) == 0 || url.rfind("s3://", 0) == 0) << url;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StoreConformance, ::testing::ValuesIn(test::all_backends()),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace k9
