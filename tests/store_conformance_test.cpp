// The ObjectStore contract, run against every backend on every test run.
#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdio>
#include <thread>

#include "common/hash.hpp"
#include "common/time.hpp"
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
    EXPECT_EQ(
        kind_of([&] { s().put_bytes("second", "k", with(Precondition::if_none_match_any())); }),
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
    for (const char* k : {"j/00000000000000000002", "j/00000000000000000001",
                          "j/00000000000000000010", "jx", "other/1"}) {
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

// Many races of a few writers each, on distinct keys: one race proves little about a
// check that fails now and then. An atomic backend must have exactly one winner in
// every race; moto (which checks, then writes) may have two in a few races, and the
// rate it showed is printed.
TEST_P(StoreConformance, ConcurrentCreateOnlyPutsHaveExactlyOneWinner) {
    constexpr int kWriters = 3;
    constexpr int kRaces = 300;
    constexpr auto kTimeBudget = std::chrono::seconds(30);
    constexpr double kMaxDoubleWinnerRate = 0.03;  // moto only
    std::vector<std::atomic<int>> winners(kRaces);
    std::atomic<int> lost{0}, other{0};
    std::atomic<int> races{0};  // started by every writer
    std::atomic<bool> out_of_time{false};
    const auto deadline = std::chrono::steady_clock::now() + kTimeBudget;
    // The completion step runs once per race, before any writer starts the next one.
    std::barrier start(kWriters, [&]() noexcept {
        if (std::chrono::steady_clock::now() > deadline) out_of_time = true;
    });
    auto writer = [&](int w) {
        for (int r = 0; r < kRaces; ++r) {
            start.arrive_and_wait();
            if (out_of_time) return;
            if (w == 0) ++races;
            try {
                s().put_bytes("writer " + std::to_string(w), "race/" + std::to_string(r),
                              with(Precondition::if_none_match_any()));
                ++winners[r];
            } catch (const StoreError& e) {
                (e.is_precondition_failed() ? lost : other)++;
            }
        }
    };
    std::vector<std::thread> threads;
    for (int w = 0; w < kWriters; ++w) threads.emplace_back(writer, w);
    for (auto& t : threads) t.join();

    const int run = races;
    int none = 0, doubled = 0;
    for (int r = 0; r < run; ++r) {
        none += winners[r] == 0;
        doubled += winners[r] > 1;
    }
    const double rate = run == 0 ? 0.0 : static_cast<double>(doubled) / run;
    std::printf(
        "[ measured ] %s: %d of %d races of %d create-only puts had more than one winner "
        "(%.2f%%)\n",
        GetParam().name.c_str(), doubled, run, kWriters, 100.0 * rate);
    RecordProperty("races", run);
    RecordProperty("races_with_two_winners", doubled);
    EXPECT_GE(run, kRaces / 3) << "the races took longer than " << kTimeBudget.count() << " s";
    EXPECT_EQ(none, 0) << "races that nobody won";
    EXPECT_EQ(other, 0) << "puts that failed with something else than PreconditionFailed";
    if (GetParam().atomic_create_only) {
        EXPECT_EQ(doubled, 0);
        EXPECT_EQ(lost, run * (kWriters - 1));
    } else {
        EXPECT_LE(rate, kMaxDoubleWinnerRate)
            << doubled << " of " << run << " races had two winners";
    }
}

// Ages are server_time - last_modified, both by the store's clock: right after a put the
// object is young, and the store's clock is the real time (give or take S3's 1 s
// resolution and a little skew).
TEST_P(StoreConformance, AnswersCarryTheStoresClock) {
    constexpr Micros kSecond = 1'000'000;
    const auto put = s().put_bytes("now", "clock/k");
    const Micros now = system_now();
    auto near_now = [&](Micros t) { return t > now - 5 * kSecond && t < now + 5 * kSecond; };
    EXPECT_PRED1(near_now, put.server_time);
    EXPECT_PRED1(near_now, put.last_modified);

    const auto head = s().head("clock/k");
    EXPECT_PRED1(near_now, head.server_time);
    const Micros age = head.server_time - head.last_modified;
    EXPECT_GE(age, -kSecond) << "the object looks younger than the store's clock says it can be";
    EXPECT_LE(age, 5 * kSecond);

    store::ObjectInfo got;
    s().get_bytes("clock/k", &got);
    EXPECT_PRED1(near_now, got.server_time);
    EXPECT_PRED1(near_now, s().get_file("clock/k", tmp_ / "c").server_time);
    EXPECT_EQ(got.last_modified, head.last_modified);
}

// Without versions there is at most one entry per key (S3 lists an unversioned bucket's
// objects as version "null"; the file store lists nothing).
TEST_P(StoreConformance, ListAllVersionsWithoutVersionsHasAtMostOneEntryPerKey) {
    s().put_bytes("1", "v/k");
    s().put_bytes("2", "v/k");
    s().put_bytes("3", "v/other");
    const auto versions = s().list_all_versions("v/");
    EXPECT_LE(versions.size(), 2u);
    for (std::size_t i = 1; i < versions.size(); ++i)
        EXPECT_LT(versions[i - 1].key, versions[i].key);
    for (const auto& v : versions) {
        EXPECT_TRUE(v.is_latest);
        EXPECT_FALSE(v.is_delete_marker);
    }
}

TEST_P(StoreConformance, UrlNamesTheObject) {
    const std::string url = s().url_for("databases/k9_api_dev.db");
    EXPECT_NE(url.find("databases/k9_api_dev.db"), std::string::npos);
    EXPECT_TRUE(url.rfind("file://", 0) == 0 || url.rfind("s3://", 0) == 0) << url;
}

INSTANTIATE_TEST_SUITE_P(AllBackends, StoreConformance, ::testing::ValuesIn(test::all_backends()),
                         [](const auto& p) { return p.param.name; });

// The contract of stores that keep versions.
class VersionedStoreConformance : public StoreConformance {};

TEST_P(VersionedStoreConformance, ListAllVersionsListsEveryVersionUnderThePrefix) {
    const auto a1 = s().put_bytes("a1", "j/a");
    const auto a2 = s().put_bytes("a2", "j/a");
    const auto b1 = s().put_bytes("b1", "j/b");
    s().remove("j/b");
    const auto c1 = s().put_bytes("c1", "j/c/deeper");
    s().put_bytes("x", "jx");
    s().put_bytes("y", "other");

    const auto versions = s().list_all_versions("j/");
    ASSERT_EQ(versions.size(), 5u);
    EXPECT_EQ(versions[0].key, "j/a");
    EXPECT_EQ(versions[0].version_id, a2.version_id);
    EXPECT_TRUE(versions[0].is_latest);
    EXPECT_EQ(versions[0].etag, a2.etag);
    EXPECT_EQ(versions[1].key, "j/a");
    EXPECT_EQ(versions[1].version_id, a1.version_id);
    EXPECT_FALSE(versions[1].is_latest);
    EXPECT_EQ(versions[1].size, 2u);
    EXPECT_EQ(versions[2].key, "j/b");
    EXPECT_TRUE(versions[2].is_delete_marker);
    EXPECT_TRUE(versions[2].is_latest);
    EXPECT_EQ(versions[3].key, "j/b");
    EXPECT_EQ(versions[3].version_id, b1.version_id);
    EXPECT_FALSE(versions[3].is_delete_marker);
    EXPECT_EQ(versions[4].key, "j/c/deeper");
    EXPECT_EQ(versions[4].version_id, c1.version_id);
    for (std::size_t i = 1; i < versions.size(); ++i) {
        if (versions[i].key == versions[i - 1].key) {
            EXPECT_LE(versions[i].last_modified, versions[i - 1].last_modified);
        }
    }

    EXPECT_EQ(s().list_all_versions("j").size(), 6u);  // "jx" too
    EXPECT_EQ(s().list_all_versions("").size(), 7u);
    EXPECT_TRUE(s().list_all_versions("nothing/").empty());
}

TEST_P(VersionedStoreConformance, ADeleteMarkerIsListedWhereItHappened) {
    // On a backend that lists times by the second, events a second apart keep their order.
    auto next_event = [&] {
        if (GetParam().versions_listed_by_second)
            std::this_thread::sleep_for(std::chrono::milliseconds(1100));
    };
    const auto v0 = s().put_bytes("v0", "k");
    const auto v1 = s().put_bytes("v1", "k");
    next_event();
    s().remove("k");
    next_event();
    const auto again = s().put_bytes("again", "k");
    const auto all = s().list_all_versions("k");
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all[0].version_id, again.version_id);
    EXPECT_TRUE(all[0].is_latest);
    EXPECT_TRUE(all[1].is_delete_marker);
    EXPECT_FALSE(all[1].is_latest);
    EXPECT_EQ(all[2].version_id, v1.version_id);
    EXPECT_EQ(all[3].version_id, v0.version_id);
    const auto one = s().list_versions("k");
    ASSERT_EQ(one.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        EXPECT_EQ(one[i].version_id, all[i].version_id) << i;
}

TEST_P(VersionedStoreConformance, ACurrentDeleteMarkerIsListedFirst) {
    s().put_bytes("v0", "k");
    s().put_bytes("v1", "k");
    s().remove("k");
    const auto all = s().list_all_versions("k");
    ASSERT_EQ(all.size(), 3u);
    EXPECT_TRUE(all[0].is_delete_marker);
    EXPECT_TRUE(all[0].is_latest);
    const auto one = s().list_versions("k");
    ASSERT_EQ(one.size(), all.size());
    for (std::size_t i = 0; i < all.size(); ++i)
        EXPECT_EQ(one[i].version_id, all[i].version_id) << i;
}

INSTANTIATE_TEST_SUITE_P(VersionedBackends, VersionedStoreConformance,
                         ::testing::ValuesIn(test::versioned_backends()),
                         [](const auto& p) { return p.param.name; });

}  // namespace
}  // namespace k9
