#include "runtime/http_messages.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <cctype>

#include "api/errors.hpp"
#include "api/query_string.hpp"
#include "common/hash.hpp"
#include "common/http_client.hpp"
#include "common/time.hpp"

namespace k9::runtime {
namespace bhttp = boost::beast::http;

namespace {

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string request_id(const std::map<std::string, std::string>& headers) {
    const auto it = headers.find("x-request-id");
    const bool plain =
        it != headers.end() && !it->second.empty() && it->second.size() <= 128 &&
        std::all_of(it->second.begin(), it->second.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        });
    return plain ? it->second : new_uuid_v7(system_now() / 1000);
}

// origin-form "/a/b?x=1", or absolute-form "http://host/a/b?x=1" (RFC 9112 3.2.2).
std::string_view origin_form(std::string_view target) {
    for (std::string_view scheme : {"http://", "https://"}) {
        if (target.size() >= scheme.size() && lower(target.substr(0, scheme.size())) == scheme) {
            const auto slash = target.find('/', scheme.size());
            return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        }
    }
    return target;
}

}  // namespace

api::Request to_api_request(BeastRequest&& from, const std::string& remote_ip) {
    api::Request r;
    r.method = std::string(from.method_string());
    const std::string_view target = origin_form(from.target());
    const auto question = target.find('?');
    r.path = http::url_decode(target.substr(0, question));
    if (question != std::string_view::npos)
        api::parse_query_string(target.substr(question + 1), r.query);
    for (const auto& field : from) {
        const std::string name = lower(field.name_string());
        const auto [it, inserted] = r.headers.emplace(name, std::string(field.value()));
        if (!inserted) it->second += (name == "cookie" ? "; " : ", ") + std::string(field.value());
    }
    r.body = std::move(from.body());
    r.request_id = request_id(r.headers);
    r.source_ip = remote_ip;
    return r;
}

BeastResponse to_beast_response(const api::Response& from, unsigned version, bool keep_alive) {
    BeastResponse to{static_cast<bhttp::status>(from.status), version};
    bool typed = false;
    for (const auto& [name, value] : from.headers) {
        typed = typed || name == "content-type";
        const auto field = bhttp::string_to_field(name);  // known names in their usual case
        if (field != bhttp::field::unknown) {
            to.set(field, value);
        } else {
            to.set(name, value);
        }
    }
    if (!typed && !from.body.empty()) to.set(bhttp::field::content_type, "application/json");
    to.body() = from.body;
    to.keep_alive(keep_alive);
    to.prepare_payload();
    return to;
}

BeastResponse error_beast_response(int status, const std::string& code, const std::string& message,
                                   unsigned version) {
    return to_beast_response(api::error_response(status, code, message), version, false);
}

}  // namespace k9::runtime
