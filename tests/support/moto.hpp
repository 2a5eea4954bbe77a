#pragma once
// A real S3 server for the tests: moto_server from the machine image's Python, started
// once per test process on a free loopback port and stopped when the process ends.

#include <memory>
#include <string>

#include "config/config.hpp"
#include "store/s3/s3_store.hpp"
#include "support/process.hpp"

namespace k9::test {

class Moto {
  public:
    // The shared server; fails the calling test (and throws) when moto_server is missing.
    static Moto& instance();

    std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    // Creates the bucket if it does not exist yet.
    void create_bucket(const std::string& name, bool versioned = false);
    // What a child process needs to reach this server with test credentials.
    Env aws_env() const;
    // S3 settings for this server, with fast retries for tests.
    store::S3Settings settings() const;
    // A store on bucket/prefix with static test credentials.
    std::shared_ptr<store::s3::S3Store> store(const std::string& bucket, const std::string& prefix,
                                              store::S3Settings settings) const;
    std::shared_ptr<store::s3::S3Store> store(const std::string& bucket,
                                              const std::string& prefix = "") const {
        return store(bucket, prefix, settings());
    }

    ~Moto() = default;

  private:
    Moto();
    int port_ = 0;
    std::unique_ptr<BackgroundProcess> process_;
};

// A bucket-name-safe unique string for this process ("p1234-7").
std::string unique_name();

}  // namespace k9::test
