#pragma once
// The one request/response shape every front door speaks: the local HTTP server and
// the Lambda bootstrap both turn their input into a Request and render a Response.

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace k9::api {

struct Request {
    std::string method;  // upper case: GET, POST, ...
    std::string path;    // percent-decoded, without the query string, e.g. /reports/abc
    std::multimap<std::string, std::string> query;  // decoded names and values
    std::map<std::string, std::string> headers;     // names in lower case
    std::string body;                               // raw bytes (base64 already decoded)
    std::string request_id;
    // The user id an upstream authorizer established (API Gateway Cognito `sub`);
    // unset when no authorizer ran and k9 must verify the bearer token itself.
    std::optional<std::string> authorizer_user_id;
    // The caller's Cognito groups (`cognito:groups`) as that authorizer gave them.
    std::vector<std::string> authorizer_groups;
    std::string source_ip;

    std::optional<std::string> header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        if (it == headers.end()) return std::nullopt;
        return it->second;
    }
    std::optional<std::string> query_param(const std::string& name) const {
        auto it = query.find(name);
        if (it == query.end()) return std::nullopt;
        return it->second;
    }
};

struct Response {
    int status = 200;
    std::map<std::string, std::string> headers;  // names in lower case
    std::string body;
    bool binary = false;  // Lambda answers base64-encode the body when set
};

}  // namespace k9::api
