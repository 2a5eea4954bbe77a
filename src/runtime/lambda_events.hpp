#pragma once
// The HTTP event shapes Lambda hands the bootstrap, turned into the one api::Request the
// Router speaks, and api::Response rendered back into what each shape expects:
//   - API Gateway REST API, Lambda proxy integration (payload 1.0; an HTTP API configured
//     for payload 1.0 sends the same shape);
//   - API Gateway HTTP API (payload 2.0);
//   - Lambda function URLs (the 2.0 shape, told apart by requestContext.domainName).
// Pure functions: no I/O, no logging, thread-safe.

#include <stdexcept>
#include <string>
#include <string_view>

#include "api/http_types.hpp"

namespace k9::runtime {

enum class EventKind { ApiGatewayV1, ApiGatewayV2, FunctionUrl };

struct ParsedEvent {
    EventKind kind;
    api::Request request;
};

// Thrown for an event that is not JSON or not one of the three shapes; the message names
// the field that is wrong (never the event's content).
class EventError : public std::invalid_argument {
  public:
    using std::invalid_argument::invalid_argument;
};

// Parses one invocation payload.
// - Header names are lower-cased; repeated headers are joined with ", " (cookies with "; "),
//   and 2.0 `cookies` are folded into a "cookie" header.
// - Request::path is percent-decoded (1.0 `path`, 2.0 `rawPath`); query names and values
//   are decoded, repeated names kept (2.0 `rawQueryString` is parsed as a form query:
//   "+" is a space, as the local server reads it).
// - A base64 body (isBase64Encoded) is decoded; invalid base64 is an EventError.
// - authorizer_user_id is the Cognito/JWT `sub` an API Gateway authorizer verified
//   (1.0: requestContext.authorizer.claims.sub, 2.0: requestContext.authorizer.jwt.claims.sub).
//   Function URL events never carry one: k9 verifies the bearer token itself there.
// Throws EventError.
ParsedEvent parse_event(std::string_view event_json);

// The JSON the function returns to the Runtime API for an event of this kind:
// {statusCode, headers, body, isBase64Encoded}, plus `cookies` (2.0 and function URLs) or
// `multiValueHeaders` (1.0) for set-cookie. Response::headers holds one value per name, so
// several cookies travel in one "set-cookie" entry separated by '\n'; each becomes its own
// Set-Cookie header. A binary body (Response::binary), or one that is not valid UTF-8, is
// sent base64-encoded with isBase64Encoded true.
std::string render_response(EventKind kind, const api::Response& response);

std::string_view to_string(EventKind kind);

}  // namespace k9::runtime
