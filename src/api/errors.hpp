#pragma once
// API errors: an HTTP status, a stable machine code and a human message, rendered as
// {"error":{"code":"...","message":"...","request_id":"..."}}. Handlers throw ApiError;
// the Router turns it (and the repositories' own errors) into the response. A 5xx body
// carries only a code, a short message written for clients and the request id: what
// went wrong (store messages, keys, bucket names) goes to the log under that request id.

#include <stdexcept>
#include <string>

#include "api/http_types.hpp"

namespace k9::api {

class ApiError : public std::runtime_error {
  public:
    ApiError(int http_status, std::string error_code, const std::string& message)
        : std::runtime_error(message), status(http_status), code(std::move(error_code)) {}
    int status;
    std::string code;
};

// The error body; request_id is left out when empty.
Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& request_id = "");
Response json_response(int status, const std::string& body_json);

}  // namespace k9::api
