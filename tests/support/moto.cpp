#include "support/moto.hpp"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "common/http_client.hpp"
#include "support/temp_dir.hpp"

namespace k9::test {

namespace {
std::filesystem::path moto_log() {
    return std::filesystem::temp_directory_path() /
           ("k9-moto-" + std::to_string(::getpid()) + ".log");
}
}  // namespace

Moto::Moto() {
    auto found = run_process({"sh", "-c", "command -v moto_server"}, {});
    if (found.exit_code != 0) {
        throw std::runtime_error(
            "moto_server is not installed: the S3 tests need it (it comes with this machine "
            "image's Python, "
            "package moto[server]); install it or run on the image");
    }
    // A free port is free only until someone takes it: between free_port() and moto's own
    // bind, another test process (a fault proxy, a k9-api) may be given the same port, and
    // then a connection to it reaches that process, not this moto. So the port counts only
    // once moto's log says it listens there; a moto that could not bind exits, and another
    // port is tried.
    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        std::filesystem::remove(moto_log());
        process_ = std::make_unique<BackgroundProcess>(
            std::vector<std::string>{"moto_server", "-H", "127.0.0.1", "-p", std::to_string(port_)},
            Env{}, moto_log());
        const std::string listening = "Running on http://127.0.0.1:" + std::to_string(port_);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        bool started = false;
        while (process_->running() && std::chrono::steady_clock::now() < deadline) {
            if (slurp(moto_log()).find(listening) != std::string::npos &&
                wait_for_port(port_, std::chrono::seconds(5))) {
                started = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        if (started) return;
        if (attempt == 5) {
            throw std::runtime_error("moto_server did not start (last on port " +
                                     std::to_string(port_) + "); its log: " + moto_log().string());
        }
        process_.reset();
    }
}

Moto& Moto::instance() {
    // Destroyed at exit, which stops the server (BackgroundProcess kills its process group).
    static std::unique_ptr<Moto> moto(new Moto());
    return *moto;
}

void Moto::create_bucket(const std::string& name, bool versioned) {
    // Signed requests through k9's own client: bucket-level calls on an empty prefix.
    auto s3 = store(name, "");
    store::s3::S3Call create("CreateBucket", "PUT", "");
    s3->client().send(create, {409});
    if (versioned) {
        store::s3::S3Call v(
            "PutBucketVersioning", "PUT", "", {{"versioning", ""}}, {},
            "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
            "<Status>Enabled</Status></VersioningConfiguration>");
        s3->client().send(v);
    }
}

Env Moto::aws_env() const {
    return Env{{"AWS_ENDPOINT_URL_S3", endpoint()},   {"AWS_ACCESS_KEY_ID", "test"},
               {"AWS_SECRET_ACCESS_KEY", "test"},     {"AWS_REGION", "us-east-1"},
               {"AWS_EC2_METADATA_DISABLED", "true"}, {"K9_S3_RETRY_BASE_MS", "10"}};
}

store::S3Settings Moto::settings() const {
    store::S3Settings s;
    s.endpoint = endpoint();
    s.region = "us-east-1";
    s.retry_base_ms = 10;
    return s;
}

std::shared_ptr<store::s3::S3Store> Moto::store(const std::string& bucket,
                                                const std::string& prefix,
                                                store::S3Settings settings) const {
    store::StoreLocation loc;
    loc.kind = store::StoreLocation::Kind::S3;
    loc.bucket = bucket;
    loc.prefix = prefix;
    loc.url = "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix);
    return std::make_shared<store::s3::S3Store>(
        loc, settings, store::s3::static_credentials({"test", "test", "", std::nullopt}));
}

std::string unique_name() {
    static std::atomic<int> counter{0};
    return "p" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace k9::test
