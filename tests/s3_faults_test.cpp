// S3 under faults, through a fault-injecting proxy in front of moto: error bursts,
// connections dropped mid-body, truncated and altered bodies, stalls. Each case ends
// in success within the retry budget or in a clear error, and never with a corrupt or
// partial database installed.
#include <gtest/gtest.h>

#include "common/checksum.hpp"
#include "common/hash.hpp"
#include "repo/user_repository.hpp"
#include "support/db_fixture.hpp"
#include "support/fault_proxy.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

using store::ErrorKind;
using store::StoreError;
using test::Fault;
using test::FaultRule;

class S3FaultsTest : public ::testing::Test {
  protected:
    void SetUp() override {
        moto_.create_bucket(bucket_);
        settings_ = moto_.settings();
        settings_.endpoint = proxy_.endpoint();
        settings_.part_size = 5ull << 20;
        settings_.multipart_threshold = 5ull << 20;
        settings_.concurrency = 3;
        settings_.stall_timeout_s = 1;
        // Go parallel at once, so that faults on ranged part GETs are exercised.
        settings_.parallel_below_mbps = 1'000'000;
        settings_.download_probe_ms = 0;
        store_ = moto_.store(bucket_, "f-" + test::unique_name(), settings_);
        data_ = random_bytes(12 * 1024 * 1024 + 99);  // three parts
        test::spit(tmp_ / "src", data_);
    }
    ErrorKind kind_of(const std::function<void()>& fn, std::string* message = nullptr) {
        try {
            fn();
        } catch (const StoreError& e) {
            if (message != nullptr) *message = e.what();
            return e.kind();
        }
        ADD_FAILURE() << "expected a StoreError";
        return ErrorKind::InvalidArgument;
    }
    std::uint64_t retries() { return store_->client().counters().retries; }
    // Holds back the body of the whole-object GET (after its headers and first bytes) so
    // that the parallel workers take the tail parts first, whatever the machine's speed.
    void slow_stream() { proxy_.add({Fault::StallBody, "GET", "", "", 1, 0, "", 500, "range:"}); }

    test::Moto& moto_ = test::Moto::instance();
    test::FaultProxy proxy_{moto_.port()};
    std::string bucket_ = "k9-faults";
    store::S3Settings settings_;
    std::shared_ptr<store::s3::S3Store> store_;
    std::string data_;
    test::TempDir tmp_;
};

// A store that ignores conditional writes (as some S3-compatible stores do), made of
// moto: the proxy forwards PUTs without If-None-Match / If-Match. Through it the
// preconditions do nothing; on moto itself they hold.
TEST_F(S3FaultsTest, DroppingPreconditionHeadersMakesAStoreThatIgnoresThem) {
    FaultRule ignore;
    ignore.fault = Fault::DropHeaders;
    ignore.method = "PUT";
    ignore.times = -1;
    ignore.drop_headers = {"If-None-Match", "IF-MATCH"};  // any case
    proxy_.add(ignore);
    store::PutOptions create, wrong_etag;
    create.precondition = store::Precondition::if_none_match_any();
    wrong_etag.precondition = store::Precondition::if_match("\"0123456789abcdef0123456789abcdef\"");

    store_->put_bytes("first", "k", create);
    EXPECT_NO_THROW(store_->put_bytes("second", "k", create));
    EXPECT_NO_THROW(store_->put_bytes("third", "k", wrong_etag));
    EXPECT_EQ(store_->get_bytes("k"), "third");
    EXPECT_EQ(proxy_.faults_injected(), 3);

    auto direct = moto_.store(bucket_, "f-" + test::unique_name());
    direct->put_bytes("first", "k", create);
    EXPECT_EQ(kind_of([&] { direct->put_bytes("second", "k", create); }),
              ErrorKind::PreconditionFailed);
    EXPECT_EQ(kind_of([&] { direct->put_bytes("third", "k", wrong_etag); }),
              ErrorKind::PreconditionFailed);
    EXPECT_EQ(direct->get_bytes("k"), "first");
}

TEST_F(S3FaultsTest, SlowDownBurstsAreRetriedToSuccess) {
    store_->put_file(tmp_ / "src", "db");
    proxy_.add({Fault::Status, "GET", "", "", 2, 503, "SlowDown"});
    const auto before = retries();
    store_->get_file("db", tmp_ / "out");
    EXPECT_EQ(test::slurp(tmp_ / "out"), data_);
    EXPECT_EQ(retries() - before, 2u);
}

TEST_F(S3FaultsTest, ABurstLongerThanTheBudgetIsAClearTransientError) {
    store_->put_file(tmp_ / "src", "db");
    proxy_.add({Fault::Status, "GET", "", "", -1, 503, "SlowDown"});
    std::string message;
    EXPECT_EQ(kind_of([&] { store_->get_file("db", tmp_ / "out"); }, &message),
              ErrorKind::Transient);
    EXPECT_NE(message.find("3 attempt"), std::string::npos) << message;
    EXPECT_NE(message.find("SlowDown"), std::string::npos) << message;
}

// AWS's standard mode: failures spend the client's retry quota, and successes earn it back
// (1 token each), so a service that recovers gets retries again.
TEST_F(S3FaultsTest, TheRetryQuotaIsSpentByFailuresAndEarnedBackBySuccesses) {
    store_->put_file(tmp_ / "src", "db");
    proxy_.add({Fault::Status, "HEAD", "", "", -1, 503, "SlowDown"});
    std::string message;
    for (int i = 0; i < 60 && message.find("retry quota") == std::string::npos; ++i) {
        EXPECT_EQ(kind_of([&] { store_->head("db"); }, &message), ErrorKind::Transient);
    }
    ASSERT_NE(message.find("retry quota is spent"), std::string::npos) << message;
    ASSERT_NE(message.find("after 1 attempt"), std::string::npos) << message;

    proxy_.clear();
    for (int i = 0; i < 10; ++i) store_->head("db");  // 10 tokens back: two retries' worth
    proxy_.add({Fault::Status, "HEAD", "", "", 1, 503, "SlowDown"});
    const auto before = retries();
    EXPECT_EQ(store_->head("db").size, data_.size());
    EXPECT_EQ(retries() - before, 1u);
}

TEST_F(S3FaultsTest, AConnectionResetMidBodyRetriesOnlyThatPart) {
    // No stall detection within the held-back stream's 500 ms, even on a loaded machine
    // (the sanitizer suite): the one retry counted must be the reset's.
    settings_.stall_timeout_s = 10;
    store_ = moto_.store(bucket_, "f-" + test::unique_name(), settings_);
    store_->put_file(tmp_ / "src", "db");
    slow_stream();
    proxy_.add({Fault::Reset, "GET", "", "range: bytes=10485760-", 1});  // the last part
    const auto before = retries();
    store_->get_file("db", tmp_ / "out");
    EXPECT_EQ(test::slurp(tmp_ / "out"), data_);
    EXPECT_EQ(proxy_.faults_injected(), 2);
    EXPECT_EQ(retries() - before, 1u) << "only the broken part is fetched again";
}

TEST_F(S3FaultsTest, ABrokenSingleStreamResumesFromItsLastByte) {
    auto single = settings_;
    single.parallel_below_mbps = 0;  // never parallel: one stream
    auto s = moto_.store(bucket_, "single-" + test::unique_name(), single);
    s->put_file(tmp_ / "src", "db");
    proxy_.add({Fault::Reset, "GET", "", "", 1});
    // Counts (without harm) a ranged GET asking for the rest, pinned to the ETag.
    proxy_.add({Fault::Stall, "GET", "", "if-match:", 1, 0, "", 0});
    const int seen = proxy_.requests_seen();
    s->get_file("db", tmp_ / "out");
    EXPECT_EQ(test::slurp(tmp_ / "out"), data_);
    EXPECT_EQ(proxy_.requests_seen() - seen, 2) << "the broken GET and one resuming GET";
    EXPECT_EQ(proxy_.faults_injected(), 2) << "the resuming GET carries If-Match";
}

TEST_F(S3FaultsTest, ASlowStreamGetsHelpByParallelRangedGets) {
    store_->put_file(tmp_ / "src", "db");
    slow_stream();
    proxy_.add({Fault::Stall, "GET", "", "if-match:", -1, 0, "", 0});  // counts pinned part GETs
    const auto before = store_->client().counters().requests;
    std::uint64_t progress = 0;
    store::GetOptions o;
    o.progress = [&](std::uint64_t done, std::uint64_t) { progress = done; };
    store_->get_file("db", tmp_ / "out", o);
    EXPECT_EQ(test::slurp(tmp_ / "out"), data_);
    EXPECT_EQ(progress, data_.size());
    EXPECT_EQ(store_->client().counters().requests - before, 3u) << "the stream and two tail parts";
    EXPECT_EQ(proxy_.faults_injected(), 1 + 2) << "both parts were pinned with If-Match";
}

TEST_F(S3FaultsTest, ATruncatedBodyIsRetried) {
    store_->put_bytes("a small object", "small");
    proxy_.add({Fault::Truncate, "GET", "", "", 1});
    EXPECT_EQ(store_->get_bytes("small"), "a small object");
}

TEST_F(S3FaultsTest, AlteredBytesAreCaughtByTheChecksum) {
    store_->put_file(tmp_ / "src", "db");
    slow_stream();
    proxy_.add({Fault::FlipBytes, "GET", "", "range: bytes=5242880-", 1});  // the middle part
    std::string message;
    EXPECT_EQ(kind_of([&] { store_->get_file("db", tmp_ / "out"); }, &message), ErrorKind::Corrupt);
    EXPECT_NE(message.find("checksum"), std::string::npos) << message;
}

TEST_F(S3FaultsTest, AStalledServerTimesOutAndIsRetried) {
    store_->put_bytes("patience", "slow");
    proxy_.add({Fault::Stall, "GET", "", "", 1, 0, "", 2500});
    const auto before = retries();
    EXPECT_EQ(store_->get_bytes("slow"), "patience");
    EXPECT_EQ(retries() - before, 1u);
}

TEST_F(S3FaultsTest, UploadsSurviveErrorsAndResetsOnParts) {
    proxy_.add({Fault::Status, "PUT", "partNumber=2", "", 1, 500, "InternalError"});
    proxy_.add({Fault::Reset, "PUT", "partNumber=3", "", 1});
    auto info = store_->put_file(tmp_ / "src", "up");
    EXPECT_EQ(info.checksum, xxh128_hex(data_));
    store_->get_file("up", tmp_ / "out");
    EXPECT_EQ(test::slurp(tmp_ / "out"), data_);
}

TEST_F(S3FaultsTest, ACompleteThatAnswers200WithAnErrorIsRetried) {
    proxy_.add({Fault::Status, "POST", "uploadId=", "", 1, 200, "InternalError"});
    store_->put_file(tmp_ / "src", "complete");
    store_->get_file("complete", tmp_ / "out");
    EXPECT_EQ(test::slurp(tmp_ / "out"), data_);
}

TEST_F(S3FaultsTest, TheCompleteCarriesThePreconditionAndA412AbortsTheUpload) {
    proxy_.add(
        {Fault::Status, "POST", "uploadId=", "if-none-match: *", 1, 412, "PreconditionFailed"});
    store::PutOptions o;
    o.precondition = store::Precondition::if_none_match_any();
    EXPECT_EQ(kind_of([&] { store_->put_file(tmp_ / "src", "cond", o); }),
              ErrorKind::PreconditionFailed);
    EXPECT_EQ(proxy_.faults_injected(), 1)
        << "the precondition header must be on the Complete request";
    EXPECT_FALSE(store_->head_if_exists("cond"));
    store::s3::S3Call list("ListMultipartUploads", "GET", "", {{"uploads", ""}});
    EXPECT_EQ(moto_.store(bucket_)->client().send(list).body.find("<Upload>"), std::string::npos)
        << "the failed upload was aborted, no parts left";
}

TEST_F(S3FaultsTest, ConditionalRequestConflictIsRetriedThenAPreconditionFailure) {
    proxy_.add({Fault::Status, "PUT", "", "", -1, 409, "ConditionalRequestConflict"});
    store::PutOptions o;
    o.precondition = store::Precondition::if_none_match_any();
    EXPECT_EQ(kind_of([&] { store_->put_bytes("x", "conflict", o); }),
              ErrorKind::PreconditionFailed);
    EXPECT_EQ(proxy_.faults_injected(), 3);
}

TEST_F(S3FaultsTest, AccessDeniedIsNotRetriedAndSaysWhatToCheck) {
    proxy_.add({Fault::Status, "GET", "", "", -1, 403, "AccessDenied"});
    std::string message;
    EXPECT_EQ(kind_of([&] { store_->get_bytes("anything"); }, &message), ErrorKind::AccessDenied);
    EXPECT_EQ(proxy_.faults_injected(), 1);
    EXPECT_NE(message.find("s3:GetObject"), std::string::npos) << message;
}

TEST_F(S3FaultsTest, ColdStartThroughFaultsNeverInstallsABadDatabase) {
    const auto seed = test::make_manager(tmp_ / "seed.db", store_);
    repo::UserRepository(*seed).upsert_profile("u", {"U", {}, {}, {}});
    seed->persist();

    proxy_.add({Fault::FlipBytes, "GET", "", "", 1});
    auto altered = test::make_manager(tmp_ / "a.db", store_);
    EXPECT_THROW(altered->get_connection(), db::ColdStartError);
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "a.db"));

    proxy_.clear();
    proxy_.add({Fault::Status, "GET", "", "", -1, 503, "SlowDown"});
    auto unavailable = test::make_manager(tmp_ / "b.db", store_);
    EXPECT_THROW(unavailable->get_connection(), db::ColdStartError);
    EXPECT_FALSE(std::filesystem::exists(tmp_ / "b.db"));

    proxy_.clear();
    proxy_.add({Fault::Reset, "GET", "", "", 1});
    auto recovered = test::make_manager(tmp_ / "c.db", store_);
    EXPECT_TRUE(repo::UserRepository(*recovered).get_user("u").has_value());
}

}  // namespace
}  // namespace k9
