#pragma once
// Between Beast's HTTP messages and the API's Request/Response (runtime/http_server).

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "api/http_types.hpp"

namespace k9::runtime {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

// The path percent-decoded, the query form-decoded, header names in lower case (repeated
// fields joined with ", "), and the request id: the client's X-Request-Id when it is short
// and plain, otherwise a new one.
api::Request to_api_request(BeastRequest&& from, const std::string& remote_ip);

// The response in the request's HTTP version; application/json unless the handler set a
// content type; Content-Length always.
BeastResponse to_beast_response(const api::Response& from, unsigned version, bool keep_alive);

// An error the server answers itself (408, 413, 503, ...), as the API's JSON error body.
BeastResponse error_beast_response(int status, const std::string& code, const std::string& message,
                                   unsigned version = 11);

}  // namespace k9::runtime
