#include "runtime/lambda_events.hpp"

#include "common/utf8.hpp"

#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/auth.hpp"
#include "api/query_string.hpp"
#include "common/hash.hpp"
#include "common/http_client.hpp"

namespace k9::runtime {
namespace {

using nlohmann::json;

std::string lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return out;
}

std::string join(const std::string& parent, const char* key) {
    return parent.empty() ? std::string(key) : parent + "." + key;
}

// Typed access to members that may be absent or null. `where` is the dotted name of the
// object holding `key`, so errors name the exact field.
const json* member(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return nullptr;
    return &*it;
}

const json* object_at(const json& object, const std::string& where, const char* key) {
    const json* value = member(object, key);
    if (value != nullptr && !value->is_object()) {
        throw EventError(join(where, key) + " must be an object, got " + value->type_name());
    }
    return value;
}

const json* array_at(const json& object, const std::string& where, const char* key) {
    const json* value = member(object, key);
    if (value != nullptr && !value->is_array()) {
        throw EventError(join(where, key) + " must be an array, got " + value->type_name());
    }
    return value;
}

std::optional<std::string> string_at(const json& object, const std::string& where,
                                     const char* key) {
    const json* value = member(object, key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
        throw EventError(join(where, key) + " must be a string, got " + value->type_name());
    }
    return value->get<std::string>();
}

std::string required_string(const json& object, const std::string& where, const char* key) {
    auto value = string_at(object, where, key);
    if (!value || value->empty()) throw EventError(join(where, key) + " is missing");
    return *value;
}

bool bool_at(const json& object, const std::string& where, const char* key) {
    const json* value = member(object, key);
    if (value == nullptr) return false;
    if (!value->is_boolean()) {
        throw EventError(join(where, key) + " must be a boolean, got " + value->type_name());
    }
    return value->get<bool>();
}

std::string element_string(const json& value, const std::string& where) {
    if (!value.is_string()) {
        throw EventError(where + " must hold strings, got " + value.type_name());
    }
    return value.get<std::string>();
}

// Repeated headers are one header whose values are joined (RFC 9110 5.3); cookies are
// joined the way a Cookie header lists them.
void add_header(std::map<std::string, std::string>& headers, std::string_view raw_name,
                const std::string& value) {
    std::string name = lower(raw_name);
    if (name.empty()) return;  // API Gateway samples show an empty name; it means nothing
    const auto [it, inserted] = headers.emplace(name, value);
    if (!inserted) it->second += (name == "cookie" ? "; " : ", ") + value;
}

std::string decode_body(const json& event) {
    std::string body = string_at(event, "", "body").value_or("");
    if (!bool_at(event, "", "isBase64Encoded")) return body;
    try {
        return base64_decode(body);
    } catch (const std::invalid_argument&) {
        throw EventError("body is not valid base64 although isBase64Encoded is true");
    }
}

// The groups an authorizer put at `claims_holder`.claims["cognito:groups"], if any.
std::vector<std::string> claims_groups(const json& claims_holder) {
    const auto claims = claims_holder.find("claims");
    if (claims == claims_holder.end() || !claims->is_object()) return {};
    const auto groups = claims->find("cognito:groups");
    if (groups == claims->end()) return {};
    return api::groups_from_claim(*groups);
}

// The user id an authorizer put at `claims_holder`.claims.sub, if any.
std::optional<std::string> claims_sub(const json& claims_holder, const std::string& where) {
    const json* claims = object_at(claims_holder, where, "claims");
    if (claims == nullptr) return std::nullopt;
    auto sub = string_at(*claims, join(where, "claims"), "sub");
    if (!sub || sub->empty()) return std::nullopt;
    return sub;
}

// multiValueHeaders holds every value; `headers` only the last one of each name.
void read_v1_headers(const json& event, std::map<std::string, std::string>& headers) {
    std::set<std::string> seen;
    if (const json* multi = object_at(event, "", "multiValueHeaders")) {
        for (const auto& [name, values] : multi->items()) {
            if (values.is_null()) continue;
            const std::string where = "multiValueHeaders." + name;
            if (!values.is_array()) {
                throw EventError(where + " must be an array, got " + values.type_name());
            }
            for (const auto& value : values) {
                add_header(headers, name, element_string(value, where));
            }
            seen.insert(lower(name));
        }
    }
    if (const json* single = object_at(event, "", "headers")) {
        for (const auto& [name, value] : single->items()) {
            if (value.is_null() || seen.count(lower(name)) != 0) continue;
            add_header(headers, name, element_string(value, "headers." + name));
        }
    }
}

// API Gateway has already decoded 1.0 query names and values.
void read_v1_query(const json& event, std::multimap<std::string, std::string>& query) {
    std::set<std::string> seen;
    if (const json* multi = object_at(event, "", "multiValueQueryStringParameters")) {
        for (const auto& [name, values] : multi->items()) {
            if (values.is_null()) continue;
            const std::string where = "multiValueQueryStringParameters." + name;
            if (!values.is_array()) {
                throw EventError(where + " must be an array, got " + values.type_name());
            }
            for (const auto& value : values) query.emplace(name, element_string(value, where));
            seen.insert(name);
        }
    }
    if (const json* single = object_at(event, "", "queryStringParameters")) {
        for (const auto& [name, value] : single->items()) {
            if (value.is_null() || seen.count(name) != 0) continue;
            query.emplace(name, element_string(value, "queryStringParameters." + name));
        }
    }
}

ParsedEvent parse_v1(const json& event) {
    ParsedEvent parsed{EventKind::ApiGatewayV1, {}};
    api::Request& request = parsed.request;
    request.method = upper(required_string(event, "", "httpMethod"));
    request.path = http::url_decode(required_string(event, "", "path"));
    read_v1_headers(event, request.headers);
    read_v1_query(event, request.query);
    request.body = decode_body(event);

    if (const json* context = object_at(event, "", "requestContext")) {
        request.request_id = string_at(*context, "requestContext", "requestId").value_or("");
        if (const json* identity = object_at(*context, "requestContext", "identity")) {
            request.source_ip =
                string_at(*identity, "requestContext.identity", "sourceIp").value_or("");
        }
        if (const json* authorizer = object_at(*context, "requestContext", "authorizer")) {
            request.authorizer_user_id = claims_sub(*authorizer, "requestContext.authorizer");
            request.authorizer_groups = claims_groups(*authorizer);
        }
    }
    return parsed;
}

// Function URLs send the 2.0 shape from <url-id>.lambda-url.<region>.on.aws. Without a
// domain name, an event with no stage is not an API Gateway one (every HTTP API request
// runs in a stage). When unsure we say "function URL": k9 then verifies the token itself.
bool is_function_url(const json& context) {
    if (auto domain = string_at(context, "requestContext", "domainName")) {
        return domain->find(".lambda-url.") != std::string::npos;
    }
    return member(context, "stage") == nullptr;
}

ParsedEvent parse_v2(const json& event) {
    const json* context = object_at(event, "", "requestContext");
    if (context == nullptr) throw EventError("requestContext.http.method is missing");
    const json* http_context = object_at(*context, "requestContext", "http");
    if (http_context == nullptr) throw EventError("requestContext.http.method is missing");

    ParsedEvent parsed{is_function_url(*context) ? EventKind::FunctionUrl : EventKind::ApiGatewayV2,
                       {}};
    api::Request& request = parsed.request;
    request.method = upper(required_string(*http_context, "requestContext.http", "method"));

    auto raw_path = string_at(event, "", "rawPath");
    if (!raw_path) raw_path = string_at(*http_context, "requestContext.http", "path");
    if (!raw_path || raw_path->empty()) throw EventError("rawPath is missing");
    request.path = http::url_decode(*raw_path);

    if (auto raw_query = string_at(event, "", "rawQueryString")) {
        api::parse_query_string(*raw_query, request.query);
    } else if (const json* params = object_at(event, "", "queryStringParameters")) {
        for (const auto& [name, value] : params->items()) {
            if (value.is_null()) continue;
            request.query.emplace(name, element_string(value, "queryStringParameters." + name));
        }
    }

    if (const json* headers = object_at(event, "", "headers")) {
        for (const auto& [name, value] : headers->items()) {
            if (value.is_null()) continue;
            add_header(request.headers, name, element_string(value, "headers." + name));
        }
    }
    if (const json* cookies = array_at(event, "", "cookies")) {
        for (const auto& cookie : *cookies) {
            add_header(request.headers, "cookie", element_string(cookie, "cookies"));
        }
    }

    request.body = decode_body(event);
    request.request_id = string_at(*context, "requestContext", "requestId").value_or("");
    request.source_ip = string_at(*http_context, "requestContext.http", "sourceIp").value_or("");

    if (parsed.kind == EventKind::ApiGatewayV2) {
        if (const json* authorizer = object_at(*context, "requestContext", "authorizer")) {
            if (const json* jwt = object_at(*authorizer, "requestContext.authorizer", "jwt")) {
                request.authorizer_user_id = claims_sub(*jwt, "requestContext.authorizer.jwt");
                request.authorizer_groups = claims_groups(*jwt);
            }
        }
    }
    return parsed;
}

}  // namespace

std::string_view to_string(EventKind kind) {
    switch (kind) {
        case EventKind::ApiGatewayV1:
            return "api-gateway-v1";
        case EventKind::ApiGatewayV2:
            return "api-gateway-v2";
        case EventKind::FunctionUrl:
            return "function-url";
    }
    return "unknown";
}

ParsedEvent parse_event(std::string_view event_json) {
    json event;
    try {
        event = json::parse(event_json);
    } catch (const json::parse_error& e) {
        throw EventError("the event is not JSON (byte " + std::to_string(e.byte) + ")");
    } catch (const json::exception&) {
        // out_of_range 406: a number beyond a double's range, e.g. 1e400 (valid JSON).
        throw EventError("the event holds a number k9 cannot represent");
    }
    if (!event.is_object()) {
        throw EventError(std::string("the event must be a JSON object, got ") + event.type_name());
    }
    try {
        const auto version = string_at(event, "", "version");
        if (event.contains("httpMethod") || version == "1.0") return parse_v1(event);
        const json* context = object_at(event, "", "requestContext");
        if (version == "2.0" || (context != nullptr && context->contains("http"))) {
            return parse_v2(event);
        }
    } catch (const json::exception& e) {
        // Defensive: typed access above should leave nothing for the library to reject.
        throw EventError(std::string("malformed event: ") + e.what());
    }
    throw EventError(
        "not an API Gateway or function URL event: neither httpMethod (payload 1.0) nor "
        "requestContext.http.method (payload 2.0) is present");
}

std::string render_response(EventKind kind, const api::Response& response) {
    json headers = json::object();
    std::vector<std::string> cookies;
    for (const auto& [name, value] : response.headers) {
        if (lower(name) != "set-cookie") {
            headers[name] = value;
            continue;
        }
        std::string_view rest = value;
        while (!rest.empty()) {
            const auto nl = rest.find('\n');
            std::string_view cookie = rest.substr(0, nl);
            rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
            while (!cookie.empty() && (cookie.back() == '\r' || cookie.back() == ' ')) {
                cookie.remove_suffix(1);
            }
            if (!cookie.empty()) cookies.emplace_back(cookie);
        }
    }

    json out = json::object();
    out["statusCode"] = response.status;
    out["headers"] = std::move(headers);
    if (!cookies.empty()) {
        if (kind == EventKind::ApiGatewayV1) {
            out["multiValueHeaders"] = json{{"set-cookie", cookies}};
        } else {
            out["cookies"] = cookies;
        }
    }
    const bool base64 = response.binary || !is_valid_utf8(response.body);
    out["body"] = base64 ? base64_encode(response.body) : response.body;
    out["isBase64Encoded"] = base64;
    // Header values are not ours to trust: invalid UTF-8 there is replaced, not thrown.
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace k9::runtime
