// What only the s3:// backend promises, against a real S3 server (moto): multipart
// uploads and parallel ranged downloads, no orphaned parts, encryption, versions,
// and errors that keep "missing bucket" apart from "missing object".
#include <gtest/gtest.h>

#include "common/checksum.hpp"
#include "common/hash.hpp"
#include "common/http_client.hpp"
#include "store/s3/object_headers.hpp"
#include "store/s3/xml.hpp"
#include "support/moto.hpp"
#include "support/temp_dir.hpp"

namespace k9 {
namespace {

using store::ErrorKind;
using store::Precondition;
using store::StoreError;

class S3StoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        moto_.create_bucket(bucket_);
        settings_ = moto_.settings();
        settings_.part_size = 5ull << 20;  // the S3 minimum, so tests stay small
        settings_.multipart_threshold = 5ull << 20;
        settings_.concurrency = 4;
        prefix_ = "t-" + test::unique_name();
        store_ = moto_.store(bucket_, prefix_, settings_);
    }
    ErrorKind kind_of(const std::function<void()>& fn) {
        try {
            fn();
        } catch (const StoreError& e) {
            return e.kind();
        }
        ADD_FAILURE() << "expected a StoreError";
        return ErrorKind::InvalidArgument;
    }
    // Multipart uploads in progress in the bucket (there must be none left behind).
    std::string in_progress_uploads() {
        store::s3::S3Call list("ListMultipartUploads", "GET", "", {{"uploads", ""}});
        return moto_.store(bucket_, "")->client().send(list).body;
    }

    test::Moto& moto_ = test::Moto::instance();
    std::string bucket_ = "k9-s3-store";
    std::string prefix_;
    store::S3Settings settings_;
    std::shared_ptr<store::s3::S3Store> store_;
    test::TempDir tmp_;
};

TEST_F(S3StoreTest, LargeObjectsGoMultipartAndComeBackIdentical) {
    const std::string data = random_bytes(12 * 1024 * 1024 + 12345);  // 3 parts
    test::spit(tmp_ / "big", data);
    std::uint64_t last_progress = 0;
    store::PutOptions put;
    put.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, data.size());
        last_progress = done;
    };
    auto info = store_->put_file(tmp_ / "big", "db/big.db", put);
    EXPECT_EQ(last_progress, data.size());
    EXPECT_NE(info.etag.find('-'), std::string::npos)
        << "a multipart ETag ends in -<parts>: " << info.etag;
    EXPECT_EQ(info.checksum, xxh128_hex(data));
    EXPECT_NE(info.server_time, 0) << "CompleteMultipartUpload's Date is the store's clock";

    // On loopback one stream is fast: a single GET (parallel ranges: s3_faults_test).
    auto before = store_->client().counters().requests;
    auto got = store_->get_file("db/big.db", tmp_ / "back");
    EXPECT_EQ(test::slurp(tmp_ / "back"), data);
    EXPECT_EQ(got.size, data.size());
    EXPECT_EQ(got.checksum, info.checksum);
    EXPECT_NE(got.server_time, 0);
    EXPECT_EQ(store_->client().counters().requests - before, 1u);
    EXPECT_EQ(in_progress_uploads().find("<Upload>"), std::string::npos);
}

TEST_F(S3StoreTest, SmallObjectsAreOnePutAndOneGet) {
    test::spit(tmp_ / "small", "small database");
    const auto before = store_->client().counters().requests;
    auto info = store_->put_file(tmp_ / "small", "db/small.db");
    EXPECT_EQ(info.etag.find('-'), std::string::npos);
    store_->get_file("db/small.db", tmp_ / "back");
    EXPECT_EQ(store_->client().counters().requests - before, 2u);
}

TEST_F(S3StoreTest, MultipartHonoursPreconditionsAndLeavesNoParts) {
    const std::string data = random_bytes(11 * 1024 * 1024);
    test::spit(tmp_ / "big", data);
    store::PutOptions create;
    create.precondition = Precondition::if_none_match_any();
    auto first = store_->put_file(tmp_ / "big", "db/cond.db", create);
    EXPECT_EQ(kind_of([&] { store_->put_file(tmp_ / "big", "db/cond.db", create); }),
              ErrorKind::PreconditionFailed);
    store::PutOptions replace;
    replace.precondition = Precondition::if_match("\"not-the-etag\"");
    EXPECT_EQ(kind_of([&] { store_->put_file(tmp_ / "big", "db/cond.db", replace); }),
              ErrorKind::PreconditionFailed);
    replace.precondition = Precondition::if_match(first.etag);
    EXPECT_NO_THROW(store_->put_file(tmp_ / "big", "db/cond.db", replace));
    EXPECT_EQ(in_progress_uploads().find("<Upload>"), std::string::npos) << in_progress_uploads();
}

TEST_F(S3StoreTest, WritesAreEncryptedAtRestByDefault) {
    store_->put_bytes("secret-ish", "enc/x");
    store::s3::S3Call head("HeadObject", "HEAD", "enc/x");
    auto resp = store_->client().send(head);
    EXPECT_EQ(resp.header("x-amz-server-side-encryption").value_or(""), "AES256");
}

TEST_F(S3StoreTest, AMissingBucketIsNotAMissingObject) {
    auto s = moto_.store("k9-no-such-bucket-" + test::unique_name(), "");
    try {
        s->get_file("databases/k9_api_dev.db", tmp_ / "x");
        FAIL() << "expected an error";
    } catch (const StoreError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
        EXPECT_NE(std::string(e.what()).find("NoSuchBucket"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("DATABASE_S3_BUCKET"), std::string::npos) << e.what();
    }
}

TEST_F(S3StoreTest, ErrorsCarryTheS3CodeAndRequestId) {
    try {
        store_->get_bytes("missing");
        FAIL();
    } catch (const StoreError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::NotFound);
        EXPECT_NE(std::string(e.what()).find("NoSuchKey"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("s3://k9-s3-store/"), std::string::npos) << e.what();
    }
}

TEST_F(S3StoreTest, ListingPagesThroughManyKeys) {
    for (int i = 0; i < 25; ++i) store_->put_bytes("x", "many/" + std::to_string(100 + i));
    EXPECT_EQ(store_->list("many/").size(), 25u);
    EXPECT_EQ(store_->list("many/", "many/110").size(), 14u);
    EXPECT_EQ(store_->list("many/", "", 7).size(), 7u);
}

TEST_F(S3StoreTest, VersionsAreListedAndReadable) {
    moto_.create_bucket("k9-versioned", true);
    auto s = moto_.store("k9-versioned", "v-" + test::unique_name(), settings_);
    auto v1 = s->put_bytes("version one", "db.db");
    auto v2 = s->put_bytes("version two", "db.db");
    ASSERT_FALSE(v1.version_id.empty());
    auto versions = s->list_versions("db.db");
    ASSERT_EQ(versions.size(), 2u);
    EXPECT_TRUE(versions[0].is_latest);
    EXPECT_EQ(versions[0].version_id, v2.version_id);
    EXPECT_EQ(versions[1].version_id, v1.version_id);
    store::GetOptions o;
    o.version_id = v1.version_id;
    s->get_file("db.db", tmp_ / "old", o);
    EXPECT_EQ(test::slurp(tmp_ / "old"), "version one");
}

TEST_F(S3StoreTest, AllVersionsStayUnderTheStoresPrefix) {
    moto_.create_bucket("k9-versioned", true);
    const std::string prefix = "v-" + test::unique_name();
    auto s = moto_.store("k9-versioned", prefix, settings_);
    auto longer =
        moto_.store("k9-versioned", prefix + "x", settings_);  // shares the text, not the folder
    s->put_bytes("1", "j/1");
    s->put_bytes("2", "j/1");
    s->put_bytes("3", "j/2");
    longer->put_bytes("4", "j/1");
    const auto versions = s->list_all_versions("");
    ASSERT_EQ(versions.size(), 3u);
    EXPECT_EQ(versions[0].key, "j/1");
    EXPECT_EQ(versions[1].key, "j/1");
    EXPECT_EQ(versions[2].key, "j/2");
    EXPECT_EQ(longer->list_all_versions("j/").size(), 1u);
}

// The server's clock is its Date header; a reply without one leaves it unknown (0).
TEST(S3Headers, DateIsTheServersClock) {
    http::Response r;
    r.status = 200;
    r.headers = {{"last-modified", "Wed, 25 Nov 2026 17:18:52 GMT"},
                 {"date", "Wed, 25 Nov 2026 18:18:53 GMT"}};
    const auto info = store::s3::object_info("k", r);
    EXPECT_EQ(format_iso8601(info.last_modified), "2026-11-25T17:18:52.000000Z");
    EXPECT_EQ(info.server_time - info.last_modified, 3601LL * 1'000'000);
    r.headers.pop_back();
    EXPECT_EQ(store::s3::object_info("k", r).server_time, 0);
}

TEST_F(S3StoreTest, PrefixIsolatesStores) {
    auto a = moto_.store(bucket_, "iso-a-" + test::unique_name());
    auto b = moto_.store(bucket_, "iso-b-" + test::unique_name());
    a->put_bytes("a", "same/key");
    EXPECT_FALSE(b->head_if_exists("same/key"));
    EXPECT_EQ(a->list("").size(), 1u);
    EXPECT_EQ(a->list("")[0].key, "same/key");
}

TEST(S3Address, PathStyleForCustomEndpointsVirtualHostedForAws) {
    store::StoreLocation loc;
    loc.kind = store::StoreLocation::Kind::S3;
    loc.bucket = "my-bucket";
    store::S3Settings aws;
    aws.region = "eu-west-1";
    auto a = store::s3::s3_address(loc, aws, "databases/k9 api+1.db", {});
    EXPECT_EQ(a.url, "https://my-bucket.s3.eu-west-1.amazonaws.com/databases/k9%20api%2B1.db");
    EXPECT_EQ(a.host, "my-bucket.s3.eu-west-1.amazonaws.com");
    EXPECT_EQ(a.canonical_uri, "/databases/k9%20api%2B1.db");
    auto list = store::s3::s3_address(loc, aws, "", {{"list-type", "2"}, {"prefix", "a b/"}});
    EXPECT_EQ(list.url,
              "https://my-bucket.s3.eu-west-1.amazonaws.com/?list-type=2&prefix=a%20b%2F");

    store::S3Settings custom = aws;
    custom.endpoint = "http://127.0.0.1:9000";
    loc.prefix = "env/dev";
    auto p = store::s3::s3_address(loc, custom, "x=y.db", {{"uploads", ""}});
    EXPECT_EQ(p.url, "http://127.0.0.1:9000/my-bucket/env/dev/x%3Dy.db?uploads");
    EXPECT_EQ(p.host, "127.0.0.1:9000");
    EXPECT_EQ(p.canonical_uri, "/my-bucket/env/dev/x%3Dy.db");

    loc.bucket = "dotted.bucket.name";  // a TLS wildcard cannot cover dots: path-style on AWS
    loc.prefix.clear();
    auto d = store::s3::s3_address(loc, aws, "k", {});
    EXPECT_EQ(d.url, "https://s3.eu-west-1.amazonaws.com/dotted.bucket.name/k");
}

TEST_F(S3StoreTest, KmsEncryptionWhenConfigured) {
    auto kms = settings_;
    kms.sse = "aws:kms";
    kms.sse_kms_key_id = "alias/k9-test";
    auto s = moto_.store(bucket_, prefix_, kms);
    s->put_bytes("kms", "kms/x");
    store::s3::S3Call head("HeadObject", "HEAD", "kms/x");
    auto resp = s->client().send(head);
    EXPECT_EQ(resp.header("x-amz-server-side-encryption").value_or(""), "aws:kms");
    EXPECT_EQ(resp.header("x-amz-server-side-encryption-aws-kms-key-id").value_or(""),
              "alias/k9-test");
}

TEST(S3Xml, CompleteMultipartWithAnErrorBodyIsAnError) {
    const auto err = store::s3::parse_error(
        "<?xml version=\"1.0\"?><Error><Code>InternalError</Code><Message>We encountered an "
        "internal error."
        "</Message><RequestId>656c76696e6727732072657175657374</RequestId></Error>");
    ASSERT_TRUE(err);
    EXPECT_EQ(err->code, "InternalError");
    EXPECT_EQ(err->request_id, "656c76696e6727732072657175657374");
    EXPECT_FALSE(store::s3::parse_error(
        "<CompleteMultipartUploadResult><ETag>x</ETag></CompleteMultipartUploadResult>"));
    EXPECT_THROW(store::s3::parse_complete_multipart("<Compl"), StoreError);
}

TEST(S3Xml, ListingsParse) {
    auto page = store::s3::parse_list_objects_v2(
        "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>tok</"
        "NextContinuationToken>"
        "<Contents><Key>a/b</Key><Size>12</Size><ETag>\"e\"</"
        "ETag><LastModified>2026-11-25T17:18:52.000Z"
        "</LastModified></Contents></ListBucketResult>");
    ASSERT_EQ(page.objects.size(), 1u);
    EXPECT_EQ(page.objects[0].key, "a/b");
    EXPECT_EQ(page.objects[0].size, 12u);
    EXPECT_TRUE(page.truncated);
    EXPECT_EQ(page.next_continuation_token, "tok");
    EXPECT_EQ(format_iso8601(page.objects[0].last_modified), "2026-11-25T17:18:52.000000Z");
    EXPECT_THROW(store::s3::parse_list_objects_v2(
                     "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"),
                 StoreError);
    EXPECT_THROW(store::s3::parse_list_objects_v2("not xml"), StoreError);
}

}  // namespace
}  // namespace k9
