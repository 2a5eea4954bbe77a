#pragma once
// Where k9's S3 client gets its AWS credentials: the default provider chain in the AWS SDK
// order, cached, and refreshed before temporary credentials expire. Secrets and session
// tokens never appear in log lines or exception messages (the access key id may).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/env.hpp"
#include "common/time.hpp"
#include "store/s3/aws_credentials.hpp"

namespace k9::store::s3 {

// What the providers need from HTTP (injected, so tests and production plug in their own client).
struct HttpReply {
    int status = 0;  // 0 when the request did not complete
    std::string body;
    std::string error;  // non-empty on a transport failure (refused, timeout)
};
using HttpFetch =
    std::function<HttpReply(const std::string& method, const std::string& url,
                            const std::vector<std::pair<std::string, std::string>>& headers,
                            std::chrono::milliseconds timeout)>;

// Temporary credentials are replaced once they expire within this window.
inline constexpr std::chrono::minutes kCredentialsRefreshWindow{5};

class CredentialsProvider {
  public:
    virtual ~CredentialsProvider() = default;
    // Current credentials; refreshed when they expire within 5 minutes. Thread-safe:
    // concurrent callers share one refresh. If a refresh fails while the cached credentials
    // have not yet expired, those are returned (and a warning logged); so are credentials a
    // source hands out already inside the window. Either way the next attempt is 10 s later.
    // Throws StoreError(AccessDenied) with a message saying what was tried and what to set;
    // StoreError(Transient) when a configured credentials endpoint (container, or an EC2
    // instance metadata service that issued a token) fails with a transport error or 5xx.
    virtual Credentials get() = 0;
    // Forget cached credentials (e.g. after S3 answered ExpiredToken); next get() refreshes.
    virtual void invalidate() = 0;
};

// The default chain, first source that yields credentials wins (the AWS SDK order):
//  1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN, as Lambda
//     sets);
//  2. shared files: AWS_SHARED_CREDENTIALS_FILE (default $HOME/.aws/credentials) and
//     AWS_CONFIG_FILE (default $HOME/.aws/config; sections "[profile NAME]", except
//     "[default]"), profile AWS_PROFILE (default "default"); aws_access_key_id /
//     aws_secret_access_key / aws_session_token. A key in the credentials file wins over the
//     same key in the config file. Profiles that only name a role, SSO or credential_process
//     are not supported (they fall through, and the final error says so);
//  3. container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on http://169.254.170.2)
//     or AWS_CONTAINER_CREDENTIALS_FULL_URI (allowed: https, or http to a loopback host, or
//     the ECS/EKS link-local hosts 169.254.170.2 / 169.254.170.23 / [fd00:ec2::23]; any other
//     URI is refused with AccessDenied); Authorization header from
//     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read on each fetch) or
//     AWS_CONTAINER_AUTHORIZATION_TOKEN; JSON reply {AccessKeyId, SecretAccessKey, Token,
//     Expiration (ISO 8601)};
//  4. EC2 instance metadata, IMDSv2 only: PUT /latest/api/token with header
//     X-aws-ec2-metadata-token-ttl-seconds: 21600, then GET
//     /latest/meta-data/iam/security-credentials/ (role name) and GET
//     .../security-credentials/ROLE with header X-aws-ec2-metadata-token; endpoint
//     AWS_EC2_METADATA_SERVICE_ENDPOINT (default http://169.254.169.254); skipped when
//     AWS_EC2_METADATA_DISABLED=true. Short timeouts (1 s) so a machine with no IMDS fails fast.
// Empty variables count as unset. Every refresh walks the chain again from the top.
// Credentials from sources 3 and 4 are cached until 5 minutes before Expiration; those from
// sources 1 and 2 until invalidate().
std::unique_ptr<CredentialsProvider> default_credentials_chain(k9::EnvLookup env, HttpFetch fetch,
                                                               Clock clock = system_clock());

// Fixed credentials (tests, and callers that already have keys). invalidate() does nothing.
// Throws StoreError(InvalidArgument) when the key id or the secret is empty.
std::unique_ptr<CredentialsProvider> static_credentials(Credentials creds);

}  // namespace k9::store::s3
