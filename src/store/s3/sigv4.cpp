#include "store/s3/sigv4.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>

#include "common/hash.hpp"

namespace k9::store::s3 {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kScopeTerminator = "aws4_request";

using Params = std::vector<std::pair<std::string, std::string>>;

bool is_unreserved(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

// Trims spaces and tabs at both ends and collapses each inner run of them to one space.
std::string canonical_value(std::string_view value) {
    std::string out;
    bool gap = false;
    for (const char c : value) {
        if (c == ' ' || c == '\t') {
            gap = !out.empty();
            continue;
        }
        if (gap) out += ' ';
        gap = false;
        out += c;
    }
    return out;
}

// Lower-cased name -> canonical value, sorted by name; repeated names keep their order.
using HeaderMap = std::map<std::string, std::string>;

HeaderMap canonical_headers(const Params& headers) {
    HeaderMap out;
    for (const auto& [name, value] : headers) {
        auto [it, inserted] = out.try_emplace(ascii_lower(name), canonical_value(value));
        if (!inserted) it->second += ',' + canonical_value(value);
    }
    return out;
}

// The signer owns these headers' values: a caller's copy must agree or the signature is wrong.
void add_or_check(HeaderMap& headers, const std::string& name, const std::string& value) {
    const auto [it, inserted] = headers.try_emplace(name, value);
    if (!inserted && it->second != value) {
        throw std::invalid_argument("SigV4: the request's " + name +
                                    " header differs from the value being signed; leave it out "
                                    "and send the one the signer returns");
    }
}

std::string canonical_query(const Params& query) {
    Params encoded;
    encoded.reserve(query.size());
    for (const auto& [name, value] : query) {
        encoded.emplace_back(uri_encode(name, true), uri_encode(value, true));
    }
    std::sort(encoded.begin(), encoded.end());
    std::string out;
    for (const auto& [name, value] : encoded) {
        if (!out.empty()) out += '&';
        out += name + '=' + value;
    }
    return out;
}

std::string_view bytes_of(const Digest32& digest) {
    return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

}  // namespace

std::string uri_encode(std::string_view text, bool encode_slash) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (is_unreserved(c) || (c == '/' && !encode_slash)) {
            out += ch;
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 0xF];
        }
    }
    return out;
}

std::string amz_date(std::int64_t now_micros) {
    using namespace std::chrono;
    const sys_time<microseconds> now{microseconds{now_micros}};
    const auto day = floor<days>(now);
    const year_month_day ymd{day};
    const hh_mm_ss time{floor<seconds>(now - day)};
    char text[40];
    std::snprintf(text, sizeof text, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                  static_cast<int>(time.seconds().count()));
    return text;
}

Signature sign_v4(const SigningInput& in, const Credentials& creds, const std::string& region,
                  const std::string& service, std::int64_t now_micros) {
    if (!in.canonical_uri.starts_with('/')) {
        throw std::invalid_argument("SigV4: the canonical URI \"" + in.canonical_uri +
                                    "\" is not an encoded path starting with '/'");
    }
    Signature sig;
    sig.amz_date = amz_date(now_micros);

    HeaderMap headers = canonical_headers(in.headers);
    if (!headers.contains("host")) {
        throw std::invalid_argument("SigV4: the request has no Host header; it must be signed");
    }
    add_or_check(headers, "x-amz-date", sig.amz_date);
    if (!creds.session_token.empty()) {
        add_or_check(headers, "x-amz-security-token", creds.session_token);
    }

    std::string header_block;
    for (const auto& [name, value] : headers) {
        header_block += name + ':' + value + '\n';
        if (!sig.signed_headers.empty()) sig.signed_headers += ';';
        sig.signed_headers += name;
    }
    sig.canonical_request = in.method + '\n' + in.canonical_uri + '\n' + canonical_query(in.query) +
                            '\n' + header_block + '\n' + sig.signed_headers + '\n' +
                            in.payload_hash;

    const std::string date = sig.amz_date.substr(0, 8);
    const std::string scope =
        date + '/' + region + '/' + service + '/' + std::string(kScopeTerminator);
    sig.string_to_sign = std::string(kAlgorithm) + '\n' + sig.amz_date + '\n' + scope + '\n' +
                         sha256_hex(sig.canonical_request);

    const Digest32 date_key = hmac_sha256("AWS4" + creds.secret_access_key, date);
    const Digest32 region_key = hmac_sha256(bytes_of(date_key), region);
    const Digest32 service_key = hmac_sha256(bytes_of(region_key), service);
    const Digest32 signing_key = hmac_sha256(bytes_of(service_key), kScopeTerminator);
    const std::string signature = to_hex(hmac_sha256(bytes_of(signing_key), sig.string_to_sign));

    sig.authorization = std::string(kAlgorithm) + " Credential=" + creds.access_key_id + '/' +
                        scope + ", SignedHeaders=" + sig.signed_headers +
                        ", Signature=" + signature;
    return sig;
}

}  // namespace k9::store::s3
