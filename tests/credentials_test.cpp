#include "store/s3/credentials.hpp"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "store/error.hpp"
#include "support/log_capture.hpp"
#include "support/temp_dir.hpp"

namespace k9::store::s3 {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Env = std::map<std::string, std::string>;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Key material that must never show up in a log line or an error message.
constexpr const char* kSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzSECRET";
constexpr const char* kToken = "IQoJb3JpZ2luX2VjSESSIONTOKEN";

const Micros kT0 = *parse_iso8601("2026-03-01T12:00:00Z");
constexpr Micros kMinute = 60'000'000;

// Expiration the way AWS writes it: whole seconds, "Z".
std::string aws_time(Micros t) {
    return format_iso8601(t).substr(0, 19) + "Z";
}

std::string creds_json(const std::string& key_id, Micros expiration) {
    return json{{"AccessKeyId", key_id},
                {"SecretAccessKey", kSecret},
                {"Token", kToken},
                {"Expiration", aws_time(expiration)}}
        .dump();
}

struct Sent {
    std::string method;
    std::string url;
    Headers headers;
    std::chrono::milliseconds timeout;
};

// The HttpFetch side of the tests, recording every request. loopback() speaks real HTTP with
// httplib but only to 127.0.0.1 (anything else is "refused": no test can reach a real metadata
// service); canned() answers every request with one reply, without any network.
class Http {
  public:
    HttpFetch loopback() {
        return [this](const std::string& method, const std::string& url, const Headers& headers,
                      std::chrono::milliseconds timeout) {
            record(method, url, headers, timeout);
            if (!url.starts_with("http://127.0.0.1:"))
                return HttpReply{0, "", "refused by the test"};
            const auto path_at = url.find('/', std::string("http://").size());
            httplib::Client client(url.substr(0, path_at));
            client.set_connection_timeout(timeout);
            client.set_read_timeout(timeout);
            const std::string path = path_at == std::string::npos ? "/" : url.substr(path_at);
            const httplib::Headers h(headers.begin(), headers.end());
            const httplib::Result res =
                method == "PUT" ? client.Put(path, h, "", "text/plain") : client.Get(path, h);
            if (!res) return HttpReply{0, "", httplib::to_string(res.error())};
            return HttpReply{res->status, res->body, ""};
        };
    }
    HttpFetch canned(HttpReply reply) {
        return [this, reply](const std::string& method, const std::string& url,
                             const Headers& headers, std::chrono::milliseconds timeout) {
            record(method, url, headers, timeout);
            return reply;
        };
    }
    std::vector<Sent> sent() const {
        std::lock_guard lock(mutex_);
        return sent_;
    }

  private:
    void record(const std::string& method, const std::string& url, const Headers& headers,
                std::chrono::milliseconds timeout) {
        std::lock_guard lock(mutex_);
        sent_.push_back({method, url, headers, timeout});
    }
    mutable std::mutex mutex_;
    std::vector<Sent> sent_;
};

// An httplib::Server on 127.0.0.1, a free port, serving from its own thread.
class LoopbackServer {
  public:
    explicit LoopbackServer(const std::function<void(httplib::Server&)>& routes) {
        routes(server_);
        port_ = server_.bind_to_any_port("127.0.0.1");
        EXPECT_GT(port_, 0);
        thread_ = std::thread([this] { server_.listen_after_bind(); });
        while (!server_.is_running()) std::this_thread::sleep_for(1ms);
    }
    ~LoopbackServer() {
        server_.stop();
        thread_.join();
    }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  private:
    httplib::Server server_;
    int port_ = -1;
    std::thread thread_;
};

// A container credentials endpoint (ECS agent, EKS Pod Identity agent): GET /creds, checking the
// Authorization header when told to.
class ContainerEndpoint {
  public:
    std::string url() const { return server_.url() + "/creds"; }
    int hits() const { return hits_; }
    void require_authorization(const std::string& value) {
        set([&] { auth_ = value; });
    }
    void answer(const std::string& key_id, Micros expiration) {
        set([&] { key_id_ = key_id, expiration_ = expiration; });
    }
    void fail_with(int status) {
        set([&] { status_ = status; });
    }
    void delay(std::chrono::milliseconds d) {
        set([&] { delay_ = d; });
    }

  private:
    void set(const std::function<void()>& change) {
        std::lock_guard lock(mutex_);
        change();
    }
    void handle(const httplib::Request& req, httplib::Response& res) {
        ++hits_;
        std::unique_lock lock(mutex_);
        const auto [auth, key_id, expiration, status, pause] =
            std::tuple(auth_, key_id_, expiration_, status_, delay_);
        lock.unlock();
        std::this_thread::sleep_for(pause);
        if (status != 200) {
            res.status = status;
            res.set_content(json{{"code", "InternalError"}, {"detail", kSecret}}.dump(),
                            "application/json");
        } else if (!auth.empty() && req.get_header_value("Authorization") != auth) {
            res.status = 401;
            res.set_content(R"({"code":"AccessDenied","message":"bad Authorization"})",
                            "application/json");
        } else {
            res.set_content(creds_json(key_id, expiration), "application/json");
        }
    }

    mutable std::mutex mutex_;
    std::atomic<int> hits_{0};
    std::string auth_;
    std::string key_id_ = "ASIACONTAINER";
    Micros expiration_ = kT0 + 60 * kMinute;
    int status_ = 200;
    std::chrono::milliseconds delay_{0};
    LoopbackServer server_{[this](httplib::Server& s) {
        s.Get("/creds", [this](const httplib::Request& q, httplib::Response& r) { handle(q, r); });
    }};
};

// IMDSv2 as EC2 documents it: PUT /latest/api/token with a TTL header (1..21600 s) returns a
// token; every metadata GET without a valid X-aws-ec2-metadata-token answers 401.
class Imds {
  public:
    explicit Imds(bool has_role = true) : has_role_(has_role) {}
    std::string url() const { return server_.url(); }
    std::vector<std::string> log() const {
        std::lock_guard lock(mutex_);
        return log_;
    }

  private:
    void token(const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mutex_);
        const std::string ttl = req.get_header_value("X-aws-ec2-metadata-token-ttl-seconds");
        log_.push_back("PUT token ttl=" + ttl);
        const int seconds = ttl.empty() ? 0 : std::atoi(ttl.c_str());
        if (seconds < 1 || seconds > 21600) {
            res.status = 400;
            return;
        }
        const std::string t = "imds-token-" + std::to_string(tokens_.size());
        tokens_.insert(t);
        res.set_header("X-aws-ec2-metadata-token-ttl-seconds", ttl);
        res.set_content(t, "text/plain");
    }
    // Logs the GET; false (and a 401) when its token is missing or unknown.
    bool authorized(const httplib::Request& req, httplib::Response& res) {
        std::lock_guard lock(mutex_);
        const std::string t = req.get_header_value("X-aws-ec2-metadata-token");
        log_.push_back("GET " + req.path + (t.empty() ? " no-token" : ""));
        if (tokens_.contains(t)) return true;
        res.status = 401;
        return false;
    }

    const bool has_role_;
    mutable std::mutex mutex_;
    std::vector<std::string> log_;
    std::set<std::string> tokens_;
    LoopbackServer server_{[this](httplib::Server& s) {
        s.Put("/latest/api/token",
              [this](const httplib::Request& q, httplib::Response& r) { token(q, r); });
        s.Get("/latest/meta-data/iam/security-credentials/",
              [this](const httplib::Request& q, httplib::Response& r) {
                  if (!authorized(q, r)) return;
                  if (has_role_)
                      r.set_content("k9-role", "text/plain");
                  else
                      r.status = 404;
              });
        s.Get("/latest/meta-data/iam/security-credentials/k9-role",
              [this](const httplib::Request& q, httplib::Response& r) {
                  if (!authorized(q, r)) return;
                  json j = json::parse(creds_json("ASIAIMDS", kT0 + 360 * kMinute));
                  j["Code"] = "Success";
                  j["LastUpdated"] = aws_time(kT0);
                  j["Type"] = "AWS-HMAC";
                  r.set_content(j.dump(2), "text/plain");
              });
    }};
};

// Runs `f`, expecting a StoreError of `kind`; returns its message.
template <typename F>
std::string error_of(F&& f, ErrorKind kind = ErrorKind::AccessDenied) {
    try {
        f();
    } catch (const StoreError& e) {
        EXPECT_EQ(e.kind(), kind) << e.what();
        return e.what();
    }
    ADD_FAILURE() << "no StoreError";
    return "";
}

// An environment with nothing but `vars`: no HOME (so no real ~/.aws), IMDS off unless asked.
k9::EnvLookup env_of(Env vars) {
    vars.try_emplace("AWS_EC2_METADATA_DISABLED", "true");
    return k9::map_env(std::move(vars));
}

// ---- 1. environment ----

TEST(EnvironmentCredentials, KeyAndSecretWithoutSessionToken) {
    Http http;
    auto provider = default_credentials_chain(
        env_of({{"AWS_ACCESS_KEY_ID", "AKIAENV"}, {"AWS_SECRET_ACCESS_KEY", kSecret}}),
        http.loopback());
    const Credentials c = provider->get();
    EXPECT_EQ(c.access_key_id, "AKIAENV");
    EXPECT_EQ(c.secret_access_key, kSecret);
    EXPECT_EQ(c.session_token, "");
    EXPECT_FALSE(c.expiration.has_value());
    EXPECT_TRUE(http.sent().empty());
}

TEST(EnvironmentCredentials, SessionTokenAsLambdaSetsIt) {
    Http http;
    auto provider = default_credentials_chain(env_of({{"AWS_ACCESS_KEY_ID", "ASIALAMBDA"},
                                                      {"AWS_SECRET_ACCESS_KEY", kSecret},
                                                      {"AWS_SESSION_TOKEN", kToken}}),
                                              http.loopback());
    const Credentials c = provider->get();
    EXPECT_EQ(c.access_key_id, "ASIALAMBDA");
    EXPECT_EQ(c.session_token, kToken);
}

TEST(EnvironmentCredentials, WinOverSharedFilesAndHalfSetFallsThrough) {
    test::TempDir home;
    std::filesystem::create_directories(home / ".aws");
    test::spit(home / ".aws/credentials",
               "[default]\naws_access_key_id = AKIAFILE\naws_secret_access_key = s\n");
    Http http;
    auto both = default_credentials_chain(env_of({{"HOME", home.path()},
                                                  {"AWS_ACCESS_KEY_ID", "AKIAENV"},
                                                  {"AWS_SECRET_ACCESS_KEY", kSecret}}),
                                          http.loopback());
    EXPECT_EQ(both->get().access_key_id, "AKIAENV");
    auto half = default_credentials_chain(
        env_of({{"HOME", home.path()}, {"AWS_ACCESS_KEY_ID", "AKIAENV"}}), http.loopback());
    EXPECT_EQ(half->get().access_key_id, "AKIAFILE");
}

// ---- 2. shared files ----

class SharedFiles : public ::testing::Test {
  protected:
    SharedFiles() {
        test::spit(dir / "credentials",
                   "[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = d\n"
                   "[dev]\naws_access_key_id = AKIADEV\naws_secret_access_key = " +
                       std::string(kSecret) + "\naws_session_token = " + kToken + "\n");
        test::spit(dir / "config",
                   "[default]\nregion = eu-west-1\n"
                   "[profile dev]\nregion = eu-west-3\naws_access_key_id = AKIAOVERRIDDEN\n"
                   "[profile ops]\naws_access_key_id = AKIAOPS\naws_secret_access_key = o\n"
                   "[staging]\naws_access_key_id = AKIANOTAPROFILE\naws_secret_access_key = x\n");
    }
    Credentials get(Env vars) {
        vars.emplace("AWS_SHARED_CREDENTIALS_FILE", (dir / "credentials").string());
        vars.emplace("AWS_CONFIG_FILE", (dir / "config").string());
        return default_credentials_chain(env_of(vars), http.loopback())->get();
    }
    test::TempDir dir;
    Http http;
};

TEST_F(SharedFiles, DefaultProfileFromTheDefaultPathUnderHome) {
    test::TempDir home;
    std::filesystem::create_directories(home / ".aws");
    test::spit(home / ".aws/credentials",
               "[default]\naws_access_key_id = AKIAHOME\naws_secret_access_key = h\n");
    auto provider = default_credentials_chain(env_of({{"HOME", home.path()}}), http.loopback());
    const Credentials c = provider->get();
    EXPECT_EQ(c.access_key_id, "AKIAHOME");
    EXPECT_EQ(c.secret_access_key, "h");
    EXPECT_EQ(get({}).access_key_id, "AKIADEFAULT");  // the variables point elsewhere
}

TEST_F(SharedFiles, ProfileSelectedByAwsProfile) {
    const Credentials dev = get({{"AWS_PROFILE", "dev"}});
    EXPECT_EQ(dev.access_key_id, "AKIADEV");  // the credentials file wins over the config file
    EXPECT_EQ(dev.secret_access_key, kSecret);
    EXPECT_EQ(dev.session_token, kToken);
    EXPECT_EQ(get({{"AWS_PROFILE", "ops"}}).access_key_id, "AKIAOPS");  // "[profile ops]" in config
}

TEST_F(SharedFiles, ConfigSectionWithoutProfilePrefixIsNotAProfile) {
    const std::string message = error_of([&] { get({{"AWS_PROFILE", "staging"}}); });
    EXPECT_NE(message.find("no profile 'staging'"), std::string::npos) << message;
}

TEST_F(SharedFiles, MissingProfileFallsThroughToContainer) {
    ContainerEndpoint endpoint;
    const Credentials c =
        get({{"AWS_PROFILE", "nope"}, {"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}});
    EXPECT_EQ(c.access_key_id, "ASIACONTAINER");
    EXPECT_EQ(endpoint.hits(), 1);
}

TEST_F(SharedFiles, CommentsWhitespaceCaseAndNestedKeys) {
    test::spit(dir / "credentials",
               "# leading comment\r\n; another\r\n\r\n"
               "[ work ]   \r\n"
               "  AWS_Access_Key_ID   =   AKIAWORK   # inline comment\r\n"
               "\taws_secret_access_key=" +
                   std::string(kSecret) + " ; trailing\r\n");
    test::spit(dir / "config",
               "[profile   work]\n"
               "s3 =\n"
               "  aws_session_token = not-a-session-token\n"
               "  max_concurrent_requests = 20\n"
               "aws_session_token=" +
                   std::string(kToken) + "\n");
    const Credentials c = get({{"AWS_PROFILE", "work"}});
    EXPECT_EQ(c.access_key_id, "AKIAWORK");
    EXPECT_EQ(c.secret_access_key, kSecret);
    EXPECT_EQ(c.session_token, kToken);
}

TEST_F(SharedFiles, RoleOnlyProfileFallsThroughAndSaysWhy) {
    test::spit(dir / "config", "[profile assume]\nrole_arn = arn:aws:iam::1:role/x\n");
    const std::string message = error_of([&] { get({{"AWS_PROFILE", "assume"}}); });
    EXPECT_NE(message.find("role_arn"), std::string::npos) << message;
    EXPECT_NE(message.find("does not support"), std::string::npos) << message;
}

// ---- 3. container credentials ----

TEST(ContainerCredentials, FullUriWithAuthorizationToken) {
    ContainerEndpoint endpoint;
    endpoint.require_authorization("Basic k9-auth");
    Http http;
    Env vars{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}};
    const std::string refused =
        error_of([&] { default_credentials_chain(env_of(vars), http.loopback())->get(); });
    EXPECT_NE(refused.find("401"), std::string::npos) << refused;  // the server checks the header

    vars["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = "Basic k9-auth";
    const Credentials c = default_credentials_chain(env_of(vars), http.loopback())->get();
    EXPECT_EQ(c.access_key_id, "ASIACONTAINER");
    EXPECT_EQ(c.secret_access_key, kSecret);
    EXPECT_EQ(c.session_token, kToken);
    EXPECT_EQ(c.expiration, kT0 + 60 * kMinute);
}

TEST(ContainerCredentials, TokenFileIsReadOnEachFetchAndWinsOverTheVariable) {
    ContainerEndpoint endpoint;
    test::TempDir dir;
    test::spit(dir / "token", "eks-token-1\n");
    Http http;
    auto provider = default_credentials_chain(
        env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()},
                {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", (dir / "token").string()},
                {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong"}}),
        http.loopback());
    endpoint.require_authorization("eks-token-1");
    EXPECT_EQ(provider->get().access_key_id, "ASIACONTAINER");
    test::spit(dir / "token", "eks-token-2");  // rotated by the agent
    endpoint.require_authorization("eks-token-2");
    provider->invalidate();
    EXPECT_EQ(provider->get().access_key_id, "ASIACONTAINER");
    EXPECT_EQ(endpoint.hits(), 2);
}

TEST(ContainerCredentials, FullUriMustBeHttpsLoopbackOrAContainerAgent) {
    const HttpReply ok{200, creds_json("ASIAOK", kT0 + 60 * kMinute), ""};
    for (const std::string uri :
         {"http://10.0.0.1/creds", "http://169.254.170.3/creds", "http://127.0.0.1.example.com/",
          "http://example.com/creds", "http://169.254.169.254/", "ftp://127.0.0.1/creds",
          "http://[fd00:ec2::24]/"}) {
        Http http;
        const std::string message = error_of([&] {
            default_credentials_chain(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", uri}}),
                                      http.canned(ok))
                ->get();
        });
        EXPECT_NE(message.find("AWS_CONTAINER_CREDENTIALS_FULL_URI"), std::string::npos) << uri;
        EXPECT_TRUE(http.sent().empty()) << uri;
    }
    for (const std::string uri :
         {"https://creds.example.com/v1", "http://localhost:8080/get-credentials",
          "http://127.0.0.2/c", "http://169.254.170.2/v2/credentials",
          "http://169.254.170.23/v1/credentials", "http://[fd00:ec2::23]/v1/credentials",
          "http://[::1]:9000/c"}) {
        Http http;
        auto provider = default_credentials_chain(
            env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", uri}}), http.canned(ok));
        EXPECT_EQ(provider->get().access_key_id, "ASIAOK") << uri;
        ASSERT_EQ(http.sent().size(), 1u) << uri;
        EXPECT_EQ(http.sent()[0].url, uri);
    }
}

TEST(ContainerCredentials, RelativeUriGoesToTheEcsAgentAndWinsOverFullUri) {
    Http http;
    auto provider = default_credentials_chain(
        env_of({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                {"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/other"}}),
        http.canned({200, creds_json("ASIAECS", kT0 + 60 * kMinute), ""}));
    EXPECT_EQ(provider->get().access_key_id, "ASIAECS");
    ASSERT_EQ(http.sent().size(), 1u);
    EXPECT_EQ(http.sent()[0].method, "GET");
    EXPECT_EQ(http.sent()[0].url, "http://169.254.170.2/v2/credentials/abc");
}

TEST(ContainerCredentials, ServerErrorIsTransientAfterOneRetry) {
    ContainerEndpoint endpoint;
    endpoint.fail_with(503);
    Http http;
    auto provider = default_credentials_chain(
        env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}), http.loopback());
    const std::string message = error_of([&] { provider->get(); }, ErrorKind::Transient);
    EXPECT_NE(message.find("503"), std::string::npos) << message;
    EXPECT_EQ(endpoint.hits(), 2);
}

// ---- 4. EC2 instance metadata ----

TEST(InstanceMetadata, TokenFirstThenRoleThenCredentials) {
    Imds imds;
    Http http;
    auto provider = default_credentials_chain(
        k9::map_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}), http.loopback());
    const Credentials c = provider->get();
    EXPECT_EQ(c.access_key_id, "ASIAIMDS");
    EXPECT_EQ(c.secret_access_key, kSecret);
    EXPECT_EQ(c.session_token, kToken);
    EXPECT_EQ(c.expiration, kT0 + 360 * kMinute);
    EXPECT_EQ(imds.log(),
              (std::vector<std::string>{"PUT token ttl=21600",
                                        "GET /latest/meta-data/iam/security-credentials/",
                                        "GET /latest/meta-data/iam/security-credentials/k9-role"}));
    for (const Sent& s : http.sent()) EXPECT_LE(s.timeout, 1000ms) << s.url;
}

TEST(InstanceMetadata, TheFakeRefusesGetsWithoutAToken) {
    Imds imds;
    httplib::Client client(imds.url());
    const auto res = client.Get("/latest/meta-data/iam/security-credentials/");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401);
    EXPECT_EQ(client.Put("/latest/api/token", "", "text/plain")->status, 400);  // no TTL header
}

TEST(InstanceMetadata, DisabledMeansNoRequest) {
    Imds imds;
    Http http;
    for (const char* value : {"true", "TRUE"}) {
        auto provider = default_credentials_chain(
            k9::map_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()},
                         {"AWS_EC2_METADATA_DISABLED", value}}),
            http.loopback());
        const std::string message = error_of([&] { provider->get(); });
        EXPECT_NE(message.find("AWS_EC2_METADATA_DISABLED"), std::string::npos) << message;
    }
    EXPECT_TRUE(imds.log().empty());
    EXPECT_TRUE(http.sent().empty());
}

TEST(InstanceMetadata, DefaultEndpointFailsFastWithoutFallingBackToV1) {
    Http http;
    auto provider = default_credentials_chain(k9::map_env({}), http.canned({0, "", "timed out"}));
    const std::string message = error_of([&] { provider->get(); });
    ASSERT_EQ(http.sent().size(), 1u);
    EXPECT_EQ(http.sent()[0].method, "PUT");
    EXPECT_EQ(http.sent()[0].url, "http://169.254.169.254/latest/api/token");
    EXPECT_EQ(http.sent()[0].headers, (Headers{{"X-aws-ec2-metadata-token-ttl-seconds", "21600"}}));
    EXPECT_LE(http.sent()[0].timeout, 1000ms);
    EXPECT_NE(message.find("timed out"), std::string::npos) << message;
}

TEST(InstanceMetadata, NoRoleFallsThroughWithAReason) {
    Imds imds(/*has_role=*/false);
    Http http;
    auto provider = default_credentials_chain(
        k9::map_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url() + "/"}}), http.loopback());
    const std::string message = error_of([&] { provider->get(); });
    EXPECT_NE(message.find("no IAM role"), std::string::npos) << message;
}

// ---- caching and refresh ----

TEST(Refresh, ContainerCredentialsAreCachedUntilFiveMinutesBeforeExpiry) {
    ContainerEndpoint endpoint;
    std::atomic<Micros> now{kT0};
    Http http;
    auto provider =
        default_credentials_chain(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}),
                                  http.loopback(), [&] { return now.load(); });
    EXPECT_EQ(provider->get().access_key_id, "ASIACONTAINER");
    now = kT0 + 54 * kMinute;  // six minutes left: still cached
    EXPECT_EQ(provider->get().access_key_id, "ASIACONTAINER");
    EXPECT_EQ(endpoint.hits(), 1);

    endpoint.answer("ASIASECOND", kT0 + 120 * kMinute);
    now = kT0 + 56 * kMinute;  // four minutes left: refreshed
    EXPECT_EQ(provider->get().access_key_id, "ASIASECOND");
    EXPECT_EQ(provider->get().access_key_id, "ASIASECOND");
    EXPECT_EQ(endpoint.hits(), 2);
}

TEST(Refresh, InstanceMetadataCredentialsToo) {
    Imds imds;
    std::atomic<Micros> now{kT0};
    Http http;
    auto provider =
        default_credentials_chain(k9::map_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}),
                                  http.loopback(), [&] { return now.load(); });
    provider->get();
    now = kT0 + 354 * kMinute;
    provider->get();
    EXPECT_EQ(imds.log().size(), 3u);
    now = kT0 + 356 * kMinute;
    provider->get();
    EXPECT_EQ(imds.log().size(), 6u);
}

TEST(Refresh, InvalidateForcesARefetch) {
    ContainerEndpoint endpoint;
    Http http;
    auto provider =
        default_credentials_chain(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}),
                                  http.loopback(), [] { return kT0; });
    provider->get();
    provider->get();
    EXPECT_EQ(endpoint.hits(), 1);
    provider->invalidate();
    provider->get();
    EXPECT_EQ(endpoint.hits(), 2);
}

TEST(Refresh, NearlyExpiredCredentialsAreNotFetchedOnEveryCall) {
    ContainerEndpoint endpoint;
    endpoint.answer("ASIASHORT", kT0 + 2 * kMinute);  // already inside the refresh window
    std::atomic<Micros> now{kT0};
    Http http;
    auto provider =
        default_credentials_chain(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}),
                                  http.loopback(), [&] { return now.load(); });
    test::LogCapture logs;
    EXPECT_EQ(provider->get().access_key_id, "ASIASHORT");
    now = kT0 + 5'000'000;
    EXPECT_EQ(provider->get().access_key_id, "ASIASHORT");
    EXPECT_EQ(endpoint.hits(), 1);
    EXPECT_TRUE(logs.has("WARN", "AWS credentials expire within 5 minutes of being fetched"));
    now = kT0 + 11'000'000;
    provider->get();
    EXPECT_EQ(endpoint.hits(), 2);
}

TEST(Refresh, FailedRefreshServesUnexpiredCredentialsThenFails) {
    ContainerEndpoint endpoint;
    std::atomic<Micros> now{kT0};
    Http http;
    auto provider =
        default_credentials_chain(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}),
                                  http.loopback(), [&] { return now.load(); });
    provider->get();
    endpoint.fail_with(500);
    now = kT0 + 57 * kMinute;
    test::LogCapture logs;
    EXPECT_EQ(provider->get().access_key_id, "ASIACONTAINER");
    EXPECT_TRUE(logs.has(
        "WARN", "AWS credentials refresh failed; using the current ones until they expire"));
    now = kT0 + 61 * kMinute;  // expired
    error_of([&] { provider->get(); }, ErrorKind::Transient);
}

// ---- nothing found, and secrets ----

TEST(NothingFound, AccessDeniedNamingWhatToSet) {
    test::TempDir home;  // no .aws inside
    Http http;
    auto provider = default_credentials_chain(env_of({{"HOME", home.path()}}), http.loopback());
    const std::string message = error_of([&] { provider->get(); });
    for (const char* name :
         {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE",
          "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
          "AWS_EC2_METADATA_DISABLED", "no profile 'default'"}) {
        EXPECT_NE(message.find(name), std::string::npos) << name << " missing from: " << message;
    }
}

TEST(Secrets, NeverInLogLinesOrErrorMessages) {
    const log::Level old_threshold = log::threshold();
    log::set_threshold(log::Level::Debug);
    test::LogCapture logs;
    std::vector<std::string> messages;
    const auto expect_error = [&](const k9::EnvLookup& env, const HttpFetch& fetch) {
        try {
            default_credentials_chain(env, fetch)->get();
            ADD_FAILURE() << "no error";
        } catch (const StoreError& e) {
            messages.emplace_back(e.what());
        }
    };
    Http http;
    test::TempDir dir;
    test::spit(dir / "credentials", "[default]\naws_secret_access_key = " + std::string(kSecret) +
                                        "\naws_session_token = " + kToken + "\n");
    // Half-set sources, bad replies that carry the secret, an error body that carries it.
    expect_error(env_of({{"AWS_SECRET_ACCESS_KEY", kSecret},
                         {"AWS_SESSION_TOKEN", kToken},
                         {"AWS_SHARED_CREDENTIALS_FILE", (dir / "credentials").string()}}),
                 http.loopback());
    json bad = json::parse(creds_json("ASIABAD", kT0));
    bad["Expiration"] = "tomorrow";
    expect_error(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://localhost/c"}}),
                 http.canned({200, bad.dump(), ""}));
    bad = json::parse(creds_json("ASIABAD", kT0));
    bad["Code"] = "AssumeRoleUnauthorizedAccess";
    expect_error(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://localhost/c"}}),
                 http.canned({200, bad.dump(), ""}));
    expect_error(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://localhost/c"}}),
                 http.canned({200, std::string("not json ") + kSecret, ""}));
    ContainerEndpoint endpoint;  // 500 with the secret in its body
    endpoint.fail_with(500);
    expect_error(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}), http.loopback());
    // Successes log at debug, with the key id only.
    default_credentials_chain(env_of({{"AWS_ACCESS_KEY_ID", "AKIALOGGED"},
                                      {"AWS_SECRET_ACCESS_KEY", kSecret},
                                      {"AWS_SESSION_TOKEN", kToken}}),
                              http.loopback())
        ->get();
    Imds imds;
    default_credentials_chain(k9::map_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url()}}),
                              http.loopback())
        ->get();
    log::set_threshold(old_threshold);

    ASSERT_EQ(messages.size(), 5u);
    for (const std::string& m : messages) {
        EXPECT_FALSE(m.empty());
        EXPECT_EQ(m.find(kSecret), std::string::npos) << m;
        EXPECT_EQ(m.find(kToken), std::string::npos) << m;
        EXPECT_EQ(m.find("imds-token"), std::string::npos) << m;
    }
    int loaded = 0;
    for (const json& line : logs.lines()) {
        const std::string text = line.dump();
        EXPECT_EQ(text.find(kSecret), std::string::npos) << text;
        EXPECT_EQ(text.find(kToken), std::string::npos) << text;
        EXPECT_EQ(text.find("imds-token"), std::string::npos) << text;
        if (line.value("message", "") == "AWS credentials loaded") ++loaded;
    }
    EXPECT_EQ(loaded, 2);
    EXPECT_TRUE(logs.has("DEBUG", "AWS credentials loaded"));
}

// ---- threads ----

TEST(Concurrency, ManyCallersShareOneFetch) {
    ContainerEndpoint endpoint;
    endpoint.delay(200ms);
    Http http;
    auto provider =
        default_credentials_chain(env_of({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", endpoint.url()}}),
                                  http.loopback(), [] { return kT0; });
    constexpr int kThreads = 8;
    std::latch start(kThreads);
    std::vector<std::string> seen(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
        threads.emplace_back([&, i] {
            start.arrive_and_wait();
            seen[static_cast<std::size_t>(i)] = provider->get().access_key_id;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(endpoint.hits(), 1);
    for (const auto& s : seen) EXPECT_EQ(s, "ASIACONTAINER");
}

// ---- static ----

TEST(StaticCredentials, ReturnsWhatItWasGivenAndRefusesHalfKeys) {
    auto provider = static_credentials({"AKIASTATIC", kSecret, "", std::nullopt});
    provider->invalidate();
    EXPECT_EQ(provider->get().access_key_id, "AKIASTATIC");
    EXPECT_EQ(provider->get().secret_access_key, kSecret);
    error_of(
        [] {
            static_credentials({"AKIASTATIC", "", "", std::nullopt});
        },
        ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace k9::store::s3
