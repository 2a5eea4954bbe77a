// SigV4 canonicalisation and signing (store/s3/sigv4.hpp) with a method, path, query,
// headers, credentials, region and service carved from the input, at a time between 1970
// and 9999 (the signer's time comes from the clock, never from a request).
// Allowed: std::invalid_argument, and only for what sign_v4 documents (no host header, a
// path not starting with '/', a caller's x-amz-date or x-amz-security-token). Checked:
// uri_encode writes only unreserved bytes and upper-case %XX (and '/' when asked to keep it)
// and decodes back to its input; a signature is deterministic and its parts agree with each
// other as the header comment promises (signed headers are the sorted lower-cased names plus
// x-amz-date and the session token header; the string to sign hashes the canonical request;
// the Authorization header carries the scope, the signed headers and 64 hex digits).

#include <set>
#include <string>

#include "common/hash.hpp"
#include "fuzz_target.hpp"
#include "store/s3/sigv4.hpp"

namespace {

using k9::fuzz::check;
namespace s3 = k9::store::s3;

constexpr std::int64_t kYear10000Micros = 253'402'300'800LL * 1'000'000;  // 10000-01-01

bool is_unreserved(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

int upper_hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void check_uri_encode(const std::string& text, bool encode_slash) {
    const std::string out = s3::uri_encode(text, encode_slash);
    std::string decoded;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const char c = out[i];
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            decoded += c;
            continue;
        }
        check(c == '%', "uri_encode wrote a reserved byte", out);
        check(i + 2 < out.size(), "uri_encode wrote a short %XX", out);
        const int hi = upper_hex_value(out[i + 1]);
        const int lo = upper_hex_value(out[i + 2]);
        check(hi >= 0 && lo >= 0, "uri_encode wrote %XX without two upper-case hex digits", out);
        decoded += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    check(decoded == text, "uri_encode does not decode back to its input", out);
}

std::string ascii_lower(std::string s) {
    for (char& c : s) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return s;
}

bool is_lower_hex(const std::string& s) {
    for (const char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

void check_signature(const s3::SigningInput& in, const s3::Credentials& creds,
                     const std::string& region, const std::string& service, std::int64_t now,
                     const s3::Signature& sig) {
    const std::string date = s3::amz_date(now);
    check(sig.amz_date == date && date.size() == 16 && date[8] == 'T' && date[15] == 'Z',
          "sign_v4 wrote an x-amz-date other than amz_date(now)", sig.amz_date);

    std::set<std::string> names = {"x-amz-date"};
    for (const auto& header : in.headers) names.insert(ascii_lower(header.first));
    if (!creds.session_token.empty()) names.insert("x-amz-security-token");
    std::string signed_headers;
    for (const auto& name : names) signed_headers += (signed_headers.empty() ? "" : ";") + name;
    check(sig.signed_headers == signed_headers,
          "sign_v4 signed other headers than the sorted lower-cased names it was given",
          sig.signed_headers + " vs " + signed_headers);

    check(sig.canonical_request.starts_with(in.method + '\n' + in.canonical_uri + '\n'),
          "the canonical request does not start with the method and the path");
    check(sig.canonical_request.ends_with('\n' + sig.signed_headers + '\n' + in.payload_hash),
          "the canonical request does not end with the signed headers and the payload hash");

    const std::string scope = date.substr(0, 8) + '/' + region + '/' + service + "/aws4_request";
    check(sig.string_to_sign == "AWS4-HMAC-SHA256\n" + date + '\n' + scope + '\n' +
                                    k9::sha256_hex(sig.canonical_request),
          "the string to sign does not hash the canonical request", sig.string_to_sign);

    const std::string prefix = "AWS4-HMAC-SHA256 Credential=" + creds.access_key_id + '/' + scope +
                               ", SignedHeaders=" + sig.signed_headers + ", Signature=";
    check(sig.authorization.starts_with(prefix), "the Authorization header is malformed",
          sig.authorization);
    const std::string signature = sig.authorization.substr(prefix.size());
    check(signature.size() == 64 && is_lower_hex(signature),
          "the signature is not 64 lower-case hex digits", signature);
}

}  // namespace

K9_FUZZ_TARGET(data, size) {
    constexpr std::size_t kMaxText = 256;
    constexpr std::size_t kMaxPairs = 8;
    k9::fuzz::ByteReader in(data, size);

    const std::string text = in.text(kMaxText);
    check_uri_encode(text, true);
    check_uri_encode(text, false);

    s3::SigningInput request;
    request.method = in.text(16);
    request.canonical_uri = in.text(kMaxText);
    const std::size_t queries = static_cast<std::size_t>(in.integer(0, kMaxPairs));
    for (std::size_t i = 0; i < queries; ++i) {
        std::string name = in.text(64);
        request.query.emplace_back(std::move(name), in.text(64));
    }
    const std::size_t headers = static_cast<std::size_t>(in.integer(0, kMaxPairs));
    for (std::size_t i = 0; i < headers; ++i) {
        std::string name = in.text(64);
        request.headers.emplace_back(std::move(name), in.text(kMaxText));
    }
    if (in.flag()) request.headers.emplace_back("Host", in.text(64));
    request.payload_hash = in.text(64);

    s3::Credentials creds;
    creds.access_key_id = in.text(32);
    creds.secret_access_key = in.text(64);
    if (in.flag()) creds.session_token = in.text(kMaxText);
    const std::string region = in.text(32);
    const std::string service = in.text(16);
    const std::int64_t now = in.integer(0, kYear10000Micros - 1);

    bool has_host = false;
    bool owned_header = false;  // a header whose value the signer owns
    for (const auto& header : request.headers) {
        const std::string name = ascii_lower(header.first);
        has_host = has_host || name == "host";
        owned_header = owned_header || name == "x-amz-date" || name == "x-amz-security-token";
    }
    const bool must_refuse = !has_host || !request.canonical_uri.starts_with('/');

    s3::Signature sig;
    try {
        sig = s3::sign_v4(request, creds, region, service, now);
    } catch (const std::invalid_argument& e) {
        check(must_refuse || owned_header, "sign_v4 refused a request it documents as valid",
              e.what());
        return 0;
    }
    check(!must_refuse, "sign_v4 signed a request without a host header or a '/' path");
    check_signature(request, creds, region, service, now, sig);
    check(s3::sign_v4(request, creds, region, service, now).authorization == sig.authorization,
          "sign_v4 is not deterministic");
    return 0;
}
