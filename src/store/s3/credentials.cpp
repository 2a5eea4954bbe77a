#include "store/s3/credentials.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/log.hpp"
#include "store/error.hpp"

namespace k9::store::s3 {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr Micros kRefreshWindowMicros =
    std::chrono::duration_cast<std::chrono::microseconds>(kCredentialsRefreshWindow).count();
// How long credentials are served without asking again after a refresh failed (while they are
// still valid), or yielded credentials already inside the refresh window.
constexpr Micros kRetryAfterMicros = 10'000'000;
constexpr std::string_view kEcsEndpoint = "http://169.254.170.2";
constexpr std::string_view kImdsDefaultEndpoint = "http://169.254.169.254";
constexpr std::string_view kImdsTokenTtlSeconds = "21600";
constexpr std::chrono::milliseconds kContainerTimeout = 2s;
constexpr std::chrono::milliseconds kImdsTimeout = 1s;
constexpr int kFetchAttempts = 2;  // one retry: a dropped keep-alive connection, a brief 5xx
constexpr std::size_t kMaxEchoedChars = 200;
constexpr std::string_view kWhatToSet =
    "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (plus AWS_SESSION_TOKEN for temporary "
    "keys), or AWS_PROFILE naming a profile with aws_access_key_id and aws_secret_access_key in "
    "AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials), or run with an IAM role (ECS task "
    "role, EKS Pod Identity, EC2 instance profile)";

struct Found {
    Credentials creds;
    std::string source;  // for the log line: never key material
};
using Tried = std::vector<std::string>;  // one line per source that yielded nothing

std::string trim(std::string_view s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return "";
    return std::string(s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1));
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

// Text from outside (a server, a file) shortened before it goes into a message.
std::string echo(std::string_view text) {
    return std::string(text.substr(0, kMaxEchoedChars)) +
           (text.size() > kMaxEchoedChars ? "..." : "");
}

// The variable's value; empty when unset (AWS SDKs treat empty variables as unset).
std::string env_value(const k9::EnvLookup& env, const std::string& name) {
    return env(name).value_or("");
}

// The URL without user info, query or fragment, fit for a message.
std::string redact_url(std::string_view url) {
    std::string out(url.substr(0, url.find_first_of("?#")));
    const auto scheme = out.find("://");
    const auto start = scheme == std::string::npos ? 0 : scheme + 3;
    const auto at = out.rfind('@', out.find('/', start));
    if (at != std::string::npos && at >= start) out.erase(start, at + 1 - start);
    return out;
}

// ---- 1. environment ----

std::optional<Found> from_environment(const k9::EnvLookup& env, Tried& tried) {
    Credentials c{env_value(env, "AWS_ACCESS_KEY_ID"), env_value(env, "AWS_SECRET_ACCESS_KEY"),
                  env_value(env, "AWS_SESSION_TOKEN"), std::nullopt};
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) return Found{c, "environment"};
    if (c.access_key_id.empty() && c.secret_access_key.empty()) {
        tried.emplace_back("environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
    } else {
        tried.emplace_back(
            std::string("environment: ") +
            (c.access_key_id.empty() ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") +
            " is not set (both are needed)");
    }
    return std::nullopt;
}

// ---- 2. shared files ----

using Section = std::map<std::string, std::string>;  // lower-case key -> value
using Ini = std::map<std::string, Section>;          // trimmed section name -> keys

// A comment after a value starts with # or ; preceded by whitespace (secrets have no spaces).
std::string strip_inline_comment(const std::string& value) {
    for (std::size_t i = 1; i < value.size(); ++i) {
        if ((value[i] == '#' || value[i] == ';') && (value[i - 1] == ' ' || value[i - 1] == '\t')) {
            return trim(std::string_view(value).substr(0, i));
        }
    }
    return value;
}

// The AWS shared-file dialect, tolerantly: [section], key = value, # and ; comments, keys in
// any case, and indented sub-properties (under a key with an empty value, e.g. "s3 =") skipped.
Ini parse_ini(std::string_view text) {
    Ini ini;
    Section* section = nullptr;
    bool in_nested = false;
    for (std::size_t pos = 0; pos < text.size();) {
        const auto end = std::min(text.find('\n', pos), text.size());
        const std::string_view raw = text.substr(pos, end - pos);
        pos = end + 1;
        const std::string line = trim(raw);
        if (line.empty() || line[0] == '#' || line[0] == ';') continue;
        if (line[0] == '[') {
            const auto close = line.find(']');
            section = close == std::string::npos ? nullptr : &ini[trim(line.substr(1, close - 1))];
            in_nested = false;
            continue;
        }
        const bool indented = raw[0] == ' ' || raw[0] == '\t';
        const auto eq = line.find('=');
        if (section == nullptr || (indented && in_nested) || eq == std::string::npos) continue;
        const std::string key = lower(trim(line.substr(0, eq)));
        const std::string value = strip_inline_comment(trim(line.substr(eq + 1)));
        in_nested = value.empty();
        if (!key.empty()) (*section)[key] = value;
    }
    return ini;
}

// The profile a config-file section names: "default", or NAME in "profile NAME".
std::optional<std::string> config_profile(const std::string& section) {
    if (section == "default") return section;
    if (section.size() > 8 && section.starts_with("profile") &&
        (section[7] == ' ' || section[7] == '\t')) {
        return trim(std::string_view(section).substr(8));
    }
    return std::nullopt;
}

// Reads `path` if it exists; `state` says what happened, for the final error message.
std::optional<std::string> read_if_present(const std::string& path, std::string& state) {
    try {
        return fs::read_file(path);
    } catch (const fs::IoError& e) {
        state = e.errno_value() == ENOENT ? path + " (not found)" : e.what();
        return std::nullopt;
    }
}

std::optional<Found> from_shared_files(const k9::EnvLookup& env, Tried& tried) {
    const std::string home = env_value(env, "HOME");
    const auto path_of = [&](const char* var, const char* leaf) {
        std::string path = env_value(env, var);
        if (path.empty()) return home.empty() ? path : home + "/.aws/" + leaf;
        if (path.starts_with("~/") && !home.empty()) path = home + path.substr(1);
        return path;
    };
    std::string profile = env_value(env, "AWS_PROFILE");
    if (profile.empty()) profile = "default";

    Section merged;
    bool found = false;
    std::vector<std::string> files;
    const std::string config_path = path_of("AWS_CONFIG_FILE", "config");
    const std::string creds_path = path_of("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    // Config first: a key in the credentials file wins over the same key in the config file.
    for (const bool is_config : {true, false}) {
        const std::string& path = is_config ? config_path : creds_path;
        std::string state = path;
        if (path.empty()) {
            files.emplace_back(is_config ? "no config file (HOME unset)"
                                         : "no credentials file (HOME unset)");
            continue;
        }
        const auto text = read_if_present(path, state);
        files.push_back(state);
        if (!text) continue;
        for (const auto& [name, keys] : parse_ini(*text)) {
            if ((is_config ? config_profile(name) : std::optional<std::string>(name)) != profile)
                continue;
            found = true;
            for (const auto& [key, value] : keys) merged[key] = value;
        }
    }
    std::string in_files;
    for (const auto& f : files) in_files += (in_files.empty() ? "" : ", ") + f;
    if (!found) {
        tried.push_back("shared files: no profile '" + profile + "' in " + in_files);
        return std::nullopt;
    }
    Credentials c{merged["aws_access_key_id"], merged["aws_secret_access_key"],
                  merged["aws_session_token"], std::nullopt};
    if (!c.access_key_id.empty() && !c.secret_access_key.empty()) {
        return Found{c, "shared files (profile " + profile + ")"};
    }
    std::string unsupported;
    for (const char* key : {"role_arn", "credential_process", "sso_session", "sso_start_url",
                            "web_identity_token_file"}) {
        if (merged.contains(key)) unsupported += std::string(unsupported.empty() ? "" : ", ") + key;
    }
    tried.push_back(
        "shared files: profile '" + profile + "' in " + in_files +
        " has no aws_access_key_id and aws_secret_access_key" +
        (unsupported.empty() ? "" : " (it uses " + unsupported + ", which k9 does not support)"));
    return std::nullopt;
}

// ---- HTTP sources (3 and 4) ----

HttpReply call(const HttpFetch& fetch, const std::string& method, const std::string& url,
               const Headers& headers, std::chrono::milliseconds timeout) {
    try {
        return fetch(method, url, headers, timeout);
    } catch (const std::exception& e) {
        return HttpReply{0, "", e.what()};
    }
}

bool retryable(const HttpReply& r) {
    return r.status == 0 || !r.error.empty() || r.status >= 500;
}

HttpReply fetch_with_retry(const HttpFetch& fetch, const std::string& method,
                           const std::string& url, const Headers& headers,
                           std::chrono::milliseconds timeout) {
    HttpReply reply;
    for (int attempt = 0; attempt < kFetchAttempts; ++attempt) {
        reply = call(fetch, method, url, headers, timeout);
        if (!retryable(reply)) break;
    }
    return reply;
}

std::string describe(const HttpReply& r) {
    if (!r.error.empty()) return r.error;
    if (r.status == 0) return "no reply";
    std::string out = "HTTP " + std::to_string(r.status);
    // Error replies may carry {code, message}; never echo the body itself.
    const json j = json::parse(r.body, nullptr, false);
    if (j.is_object()) {
        for (const char* name : {"code", "Code", "message", "Message"}) {
            if (j.contains(name) && j[name].is_string())
                out += " " + echo(j[name].get<std::string>());
        }
    }
    return out;
}

// Throws unless the reply is a 200: Transient for transport errors and 5xx, else AccessDenied.
void expect_ok(const HttpReply& r, const std::string& what, std::string_view advice) {
    if (r.status == 200 && r.error.empty()) return;
    const ErrorKind kind = retryable(r) ? ErrorKind::Transient : ErrorKind::AccessDenied;
    throw StoreError(kind, what + " failed: " + describe(r) + ". " + std::string(advice));
}

// {AccessKeyId, SecretAccessKey, Token, Expiration}, as both ECS/EKS and IMDS answer.
Credentials parse_credentials_reply(const std::string& body, const std::string& what) {
    const json j = json::parse(body, nullptr, false);
    if (!j.is_object()) {
        throw StoreError(ErrorKind::AccessDenied, what + ": the reply is not a JSON object");
    }
    const auto text = [&](const char* name) {
        return j.contains(name) && j[name].is_string() ? j[name].get<std::string>() : std::string();
    };
    if (!text("Code").empty() && text("Code") != "Success") {
        throw StoreError(ErrorKind::AccessDenied,
                         what + ": Code " + echo(text("Code")) + " " + echo(text("Message")));
    }
    Credentials c{text("AccessKeyId"), text("SecretAccessKey"), text("Token"), std::nullopt};
    if (c.access_key_id.empty() || c.secret_access_key.empty()) {
        throw StoreError(ErrorKind::AccessDenied,
                         what + ": the reply has no AccessKeyId and SecretAccessKey");
    }
    if (const std::string expiration = text("Expiration"); !expiration.empty()) {
        c.expiration = parse_iso8601(expiration);
        if (!c.expiration) {
            throw StoreError(ErrorKind::AccessDenied, what + ": Expiration '" + echo(expiration) +
                                                          "' is not an ISO 8601 time");
        }
    }
    return c;
}

// ---- 3. container credentials ----

constexpr std::uint32_t ipv4(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
    return a << 24 | b << 16 | c << 8 | d;
}

// http is allowed only to loopback and to the ECS (169.254.170.2) and EKS Pod Identity
// (169.254.170.23, fd00:ec2::23) agents: anything else could be a spoofed credentials server.
bool allowed_http_host(const std::string& host) {
    if (host == "localhost") return true;
    in_addr v4{};
    if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
        const std::uint32_t a = ntohl(v4.s_addr);
        return a >> 24 == 127 || a == ipv4(169, 254, 170, 2) || a == ipv4(169, 254, 170, 23);
    }
    if (host.size() < 3 || host.front() != '[' || host.back() != ']') return false;
    in6_addr v6{};
    in6_addr eks{};
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &v6) != 1 ||
        inet_pton(AF_INET6, "fd00:ec2::23", &eks) != 1) {
        return false;
    }
    return IN6_IS_ADDR_LOOPBACK(&v6) || std::memcmp(&v6, &eks, sizeof v6) == 0;
}

bool container_uri_allowed(const std::string& uri) {
    const std::string u = lower(uri);
    const std::string_view scheme = u.starts_with("https://") ? "https://" : "http://";
    if (!u.starts_with(scheme)) return false;
    std::string authority =
        u.substr(scheme.size(), u.find_first_of("/?#", scheme.size()) - scheme.size());
    if (const auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
    if (authority.empty()) return false;
    if (scheme == "https://") return true;
    const auto host_end = authority[0] == '[' ? authority.find(']') + 1 : authority.find(':');
    return allowed_http_host(authority.substr(0, host_end));
}

// The Authorization header value: the token file (re-read each time: EKS rotates it) wins
// over the token variable.
std::optional<std::string> container_authorization(const k9::EnvLookup& env) {
    const std::string file = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    std::string token = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (!file.empty()) {
        try {
            token = trim(fs::read_file(file));  // a trailing newline is not part of the token
        } catch (const fs::IoError& e) {
            throw StoreError(ErrorKind::AccessDenied,
                             std::string("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: ") +
                                 e.what() + ". Check the file is mounted and readable");
        }
    }
    if (token.empty()) return std::nullopt;
    if (token.find_first_of("\r\n") != std::string::npos) {
        throw StoreError(ErrorKind::AccessDenied,
                         "the container authorization token (AWS_CONTAINER_AUTHORIZATION_TOKEN or "
                         "_FILE) has a line break; it must be a single line");
    }
    return token;
}

std::optional<Found> from_container(const k9::EnvLookup& env, const HttpFetch& fetch,
                                    Tried& tried) {
    const std::string relative = env_value(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const std::string full = env_value(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    std::string url;
    if (!relative.empty()) {
        url = std::string(kEcsEndpoint) + (relative[0] == '/' ? "" : "/") + relative;
    } else if (!full.empty()) {
        if (!container_uri_allowed(full)) {
            throw StoreError(
                ErrorKind::AccessDenied,
                "AWS_CONTAINER_CREDENTIALS_FULL_URI " + redact_url(full) +
                    " is refused: it must be https, or http to a loopback host or to "
                    "169.254.170.2, 169.254.170.23 or [fd00:ec2::23]. Fix it, or unset "
                    "it to use other credentials");
        }
        url = full;
    } else {
        tried.emplace_back(
            "container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
            "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set");
        return std::nullopt;
    }
    Headers headers{{"Accept", "application/json"}};
    if (auto auth = container_authorization(env)) headers.emplace_back("Authorization", *auth);
    const std::string what = "container credentials from " + redact_url(url);
    const HttpReply reply = fetch_with_retry(fetch, "GET", url, headers, kContainerTimeout);
    expect_ok(reply, what,
              "Check the task role or pod identity association and the authorization token");
    return Found{parse_credentials_reply(reply.body, what), "container"};
}

// ---- 4. EC2 instance metadata (IMDSv2) ----

std::optional<Found> from_instance_metadata(const k9::EnvLookup& env, const HttpFetch& fetch,
                                            Tried& tried) {
    if (lower(env_value(env, "AWS_EC2_METADATA_DISABLED")) == "true") {
        tried.emplace_back("EC2 instance metadata: skipped (AWS_EC2_METADATA_DISABLED=true)");
        return std::nullopt;
    }
    std::string endpoint = env_value(env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (endpoint.empty()) endpoint = kImdsDefaultEndpoint;
    while (endpoint.ends_with('/')) endpoint.pop_back();

    // Without a token there is no IMDSv2 here (not EC2, IMDS off, or IMDSv1 only): fall through.
    const HttpReply token =
        call(fetch, "PUT", endpoint + "/latest/api/token",
             {{"X-aws-ec2-metadata-token-ttl-seconds", std::string(kImdsTokenTtlSeconds)}},
             kImdsTimeout);
    if (token.status != 200 || !token.error.empty() || token.body.empty()) {
        tried.push_back("EC2 instance metadata: no IMDSv2 token from " + redact_url(endpoint) +
                        " (" + describe(token) + ")");
        return std::nullopt;
    }
    const Headers auth{{"X-aws-ec2-metadata-token", token.body}};
    const std::string base = endpoint + "/latest/meta-data/iam/security-credentials/";
    constexpr std::string_view advice =
        "Check the instance profile and the instance metadata options";
    const HttpReply roles = fetch_with_retry(fetch, "GET", base, auth, kImdsTimeout);
    const std::string role =
        roles.status == 200 ? trim(roles.body.substr(0, roles.body.find('\n'))) : "";
    if (roles.status == 404 || (roles.status == 200 && role.empty())) {
        tried.emplace_back(
            "EC2 instance metadata: the instance has no IAM role (instance profile)");
        return std::nullopt;
    }
    expect_ok(roles, "EC2 instance metadata (role name)", advice);
    const std::string what = "EC2 instance metadata (role " + echo(role) + ")";
    const HttpReply reply = fetch_with_retry(fetch, "GET", base + role, auth, kImdsTimeout);
    expect_ok(reply, what, advice);
    return Found{parse_credentials_reply(reply.body, what),
                 "instance metadata (role " + role + ")"};
}

// ---- providers ----

bool lasts_beyond(const Credentials& c, Micros t) {
    return !c.expiration || *c.expiration > t;
}

class ChainProvider final : public CredentialsProvider {
  public:
    ChainProvider(k9::EnvLookup env, HttpFetch fetch, Clock clock)
        : env_(std::move(env)), fetch_(std::move(fetch)), clock_(std::move(clock)) {}

    Credentials get() override {
        // One lock over the refresh: concurrent callers wait for it instead of each fetching.
        std::lock_guard lock(mutex_);
        const Micros now = clock_();
        if (cached_ && (lasts_beyond(*cached_, now + kRefreshWindowMicros) || now < retry_after_)) {
            return *cached_;
        }
        const bool valid = cached_ && lasts_beyond(*cached_, now);
        try {
            cached_ = resolve().creds;
            retry_after_ = 0;
            if (!lasts_beyond(*cached_, now + kRefreshWindowMicros)) {
                // The source itself hands out (nearly) expired credentials: ask it again soon,
                // not on every call.
                retry_after_ = now + kRetryAfterMicros;
                log::warning("AWS credentials expire within 5 minutes of being fetched",
                             {{"expires", format_iso8601(*cached_->expiration)}});
            }
        } catch (const StoreError& e) {
            if (!valid) throw;
            // Still valid for a while: keep serving them rather than fail every request now.
            retry_after_ = now + kRetryAfterMicros;
            log::warning("AWS credentials refresh failed; using the current ones until they expire",
                         {{"error", e.what()}, {"expires", format_iso8601(*cached_->expiration)}});
        }
        return *cached_;
    }

    void invalidate() override {
        std::lock_guard lock(mutex_);
        cached_.reset();
        retry_after_ = 0;
    }

  private:
    Found resolve() const {
        Tried tried;
        std::optional<Found> found = from_environment(env_, tried);
        if (!found) found = from_shared_files(env_, tried);
        if (!found) found = from_container(env_, fetch_, tried);
        if (!found) found = from_instance_metadata(env_, fetch_, tried);
        if (!found) {
            std::string message = "no AWS credentials found. Tried: ";
            for (std::size_t i = 0; i < tried.size(); ++i)
                message += (i == 0 ? "" : "; ") + tried[i];
            throw StoreError(ErrorKind::AccessDenied, message + ". " + std::string(kWhatToSet));
        }
        const auto& c = found->creds;
        log::debug("AWS credentials loaded",
                   {{"source", found->source},
                    {"access_key_id", c.access_key_id},
                    {"expires", c.expiration ? format_iso8601(*c.expiration) : "never"}});
        return std::move(*found);
    }

    k9::EnvLookup env_;
    HttpFetch fetch_;
    Clock clock_;
    std::mutex mutex_;
    std::optional<Credentials> cached_;
    Micros retry_after_ = 0;
};

class StaticProvider final : public CredentialsProvider {
  public:
    explicit StaticProvider(Credentials creds) : creds_(std::move(creds)) {}
    Credentials get() override { return creds_; }
    void invalidate() override {}

  private:
    const Credentials creds_;
};

}  // namespace

std::unique_ptr<CredentialsProvider> default_credentials_chain(k9::EnvLookup env, HttpFetch fetch,
                                                               Clock clock) {
    return std::make_unique<ChainProvider>(std::move(env), std::move(fetch), std::move(clock));
}

std::unique_ptr<CredentialsProvider> static_credentials(Credentials creds) {
    if (creds.access_key_id.empty() || creds.secret_access_key.empty()) {
        throw StoreError(
            ErrorKind::InvalidArgument,
            "static AWS credentials need both an access key id and a secret access key");
    }
    return std::make_unique<StaticProvider>(std::move(creds));
}

}  // namespace k9::store::s3
