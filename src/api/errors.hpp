#pragma once
// API errors: an HTTP status, a stable machine code and a human message, rendered as
// {"error":{"code":"...","message":"..."}}. Handlers throw ApiError; the Router turns
// it (and the repositories' own errors) into the response.

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

Response error_response(int status, const std::string& code, const std::string& message);
Response json_response(int status, const std::string& body_json);

}  // namespace k9::api
