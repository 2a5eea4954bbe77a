// Lambda invocation payloads (API Gateway REST v1, HTTP API v2, function URLs), as the
// bootstrap reads them: runtime::parse_event, then runtime::render_response for a response
// built from the parsed request, in every event shape.
// Allowed: EventError (the documented "not an event"). Checked: header names are lower case
// and non-empty; the rendered answer is a JSON object with the status, the body (base64 when
// flagged, exactly the bytes given) and one cookie per line of set-cookie.

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/hash.hpp"
#include "fuzz_target.hpp"
#include "runtime/lambda_events.hpp"

namespace {

using k9::fuzz::check;
using nlohmann::json;

void check_request(const k9::api::Request& request) {
    for (const auto& [name, value] : request.headers) {
        check(!name.empty(), "parse_event kept a header with an empty name");
        for (const char c : name) {
            check(!(c >= 'A' && c <= 'Z'), "parse_event kept an upper-case header name", name);
        }
    }
    for (const char c : request.method) {
        check(!(c >= 'a' && c <= 'z'), "parse_event kept a lower-case method", request.method);
    }
}

std::size_t count_cookies(const std::string& value) {
    std::size_t count = 0;
    std::size_t start = 0;
    while (start <= value.size()) {
        auto nl = value.find('\n', start);
        if (nl == std::string::npos) nl = value.size();
        std::string_view cookie(value.data() + start, nl - start);
        while (!cookie.empty() && (cookie.back() == '\r' || cookie.back() == ' ')) {
            cookie.remove_suffix(1);
        }
        if (!cookie.empty()) ++count;
        start = nl + 1;
    }
    return count;
}

void check_render(k9::runtime::EventKind kind, const k9::api::Response& response) {
    const std::string rendered = k9::runtime::render_response(kind, response);
    const json out = json::parse(rendered, nullptr, false);
    check(!out.is_discarded() && out.is_object(), "render_response wrote no JSON object", rendered);
    check(out.value("statusCode", -1) == response.status, "render_response lost the status");
    check(out.contains("body") && out["body"].is_string(), "render_response wrote no body");
    check(out.contains("isBase64Encoded") && out["isBase64Encoded"].is_boolean(),
          "render_response wrote no isBase64Encoded");
    const std::string& body = out["body"].get_ref<const std::string&>();
    const bool base64 = out["isBase64Encoded"].get<bool>();
    check(base64 || !response.binary, "render_response sent a binary body as text");
    check((base64 ? k9::base64_decode(body) : body) == response.body,
          "render_response changed the body");

    const auto cookie = response.headers.find("set-cookie");
    const std::size_t want = cookie == response.headers.end() ? 0 : count_cookies(cookie->second);
    std::size_t got = 0;
    if (kind == k9::runtime::EventKind::ApiGatewayV1) {
        if (out.contains("multiValueHeaders")) got = out["multiValueHeaders"]["set-cookie"].size();
    } else if (out.contains("cookies")) {
        got = out["cookies"].size();
    }
    check(got == want, "render_response lost or invented cookies", rendered);
}

}  // namespace

K9_FUZZ_TARGET(data, size) {
    std::optional<k9::runtime::ParsedEvent> parsed;
    try {
        parsed = k9::runtime::parse_event(k9::fuzz::as_text(data, size));
    } catch (const k9::runtime::EventError&) {
        return 0;
    }
    const k9::api::Request& request = parsed->request;
    check_request(request);

    // An answer carrying what the event brought: its headers, its cookies as set-cookie
    // lines, its body (as text, then as binary).
    k9::api::Response response;
    response.status = static_cast<int>(request.body.size() % 500) + 100;
    response.headers = request.headers;
    if (const auto cookie = request.header("cookie")) {
        std::string lines = *cookie;
        for (char& c : lines) {
            if (c == ';') c = '\n';
        }
        response.headers["set-cookie"] = lines;
    }
    response.body = request.body;
    for (const bool binary : {false, true}) {
        response.binary = binary;
        for (const auto kind :
             {k9::runtime::EventKind::ApiGatewayV1, k9::runtime::EventKind::ApiGatewayV2,
              k9::runtime::EventKind::FunctionUrl}) {
            check_render(kind, response);
        }
    }
    return 0;
}
