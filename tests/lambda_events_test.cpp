// API Gateway REST (payload 1.0), HTTP API (payload 2.0) and function URL events, as AWS
// documents them, into api::Request; api::Response back into each shape.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "api/auth.hpp"
#include "common/hash.hpp"
#include "runtime/lambda_events.hpp"

namespace k9::runtime {
namespace {

using nlohmann::json;

// The Lambda proxy integration input from the API Gateway developer guide ("Input format of
// a Lambda function for proxy integration"; the guide quotes multiValueHeaders keys with
// single quotes, fixed here), with the requestContext.authorizer.claims a Cognito user pool
// authorizer adds (every claim is a string in this shape).
constexpr const char* kRestCognitoEvent = R"json({
  "resource": "/{proxy+}",
  "path": "/hello/world",
  "httpMethod": "POST",
  "headers": {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "cache-control": "no-cache",
    "CloudFront-Forwarded-Proto": "https",
    "CloudFront-Viewer-Country": "US",
    "Content-Type": "application/json",
    "headerName": "headerValue",
    "Host": "gy415nuibc.execute-api.us-east-1.amazonaws.com",
    "Postman-Token": "9f583ef0-ed83-4a38-aef3-eb9ce3f7a57f",
    "User-Agent": "PostmanRuntime/2.4.5",
    "Via": "1.1 d98420743a69852491bbdea73f7680bd.cloudfront.net (CloudFront)",
    "X-Amz-Cf-Id": "pn-PWIJc6thYnZm5P0NMgOUglL1DYtl0gdeJky8tqsg8iS_sgsKD1A==",
    "X-Forwarded-For": "54.240.196.186, 54.182.214.83",
    "X-Forwarded-Port": "443",
    "X-Forwarded-Proto": "https"
  },
  "multiValueHeaders": {
    "Accept": ["*/*"],
    "Accept-Encoding": ["gzip, deflate"],
    "cache-control": ["no-cache"],
    "CloudFront-Forwarded-Proto": ["https"],
    "CloudFront-Viewer-Country": ["US"],
    "": [""],
    "Content-Type": ["application/json"],
    "headerName": ["headerValue"],
    "Host": ["gy415nuibc.execute-api.us-east-1.amazonaws.com"],
    "Postman-Token": ["9f583ef0-ed83-4a38-aef3-eb9ce3f7a57f"],
    "User-Agent": ["PostmanRuntime/2.4.5"],
    "Via": ["1.1 d98420743a69852491bbdea73f7680bd.cloudfront.net (CloudFront)"],
    "X-Amz-Cf-Id": ["pn-PWIJc6thYnZm5P0NMgOUglL1DYtl0gdeJky8tqsg8iS_sgsKD1A=="],
    "X-Forwarded-For": ["54.240.196.186, 54.182.214.83"],
    "X-Forwarded-Port": ["443"],
    "X-Forwarded-Proto": ["https"]
  },
  "queryStringParameters": {
    "name": "me",
    "multivalueName": "me"
  },
  "multiValueQueryStringParameters": {
    "name": ["me"],
    "multivalueName": ["you", "me"]
  },
  "pathParameters": {
    "proxy": "hello/world"
  },
  "stageVariables": {
    "stageVariableName": "stageVariableValue"
  },
  "requestContext": {
    "accountId": "12345678912",
    "resourceId": "roq9wj",
    "stage": "testStage",
    "requestId": "deef4878-7910-11e6-8f14-25afc3e9ae33",
    "identity": {
      "cognitoIdentityPoolId": null,
      "accountId": null,
      "cognitoIdentityId": null,
      "caller": null,
      "apiKey": null,
      "sourceIp": "192.168.196.186",
      "cognitoAuthenticationType": null,
      "cognitoAuthenticationProvider": null,
      "userArn": null,
      "userAgent": "PostmanRuntime/2.4.5",
      "user": null
    },
    "authorizer": {
      "claims": {
        "sub": "7d8ca528-4931-4254-9273-ea5ee853f271",
        "cognito:groups": "admins",
        "email_verified": "true",
        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example",
        "cognito:username": "janedoe",
        "aud": "3ugu5tj1fo5iufd0n5njsfa0e5",
        "token_use": "id",
        "auth_time": "1585690219",
        "exp": "Tue Mar 31 22:30:19 UTC 2020",
        "iat": "Tue Mar 31 21:30:19 UTC 2020",
        "email": "jane@example.com"
      }
    },
    "resourcePath": "/{proxy+}",
    "httpMethod": "POST",
    "apiId": "gy415nuibc"
  },
  "body": "{\r\n\t\"a\": 1\r\n}",
  "isBase64Encoded": false
})json";

// The payload format 2.0 example from "Create AWS Lambda proxy integrations for HTTP APIs",
// with a `sub` among the JWT authorizer's claims.
constexpr const char* kHttpApiJwtEvent = R"json({
  "version": "2.0",
  "routeKey": "$default",
  "rawPath": "/my/path",
  "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
  "cookies": ["cookie1", "cookie2"],
  "headers": {
    "Header1": "value1",
    "Header2": "value1,value2"
  },
  "queryStringParameters": {
    "parameter1": "value1,value2",
    "parameter2": "value"
  },
  "requestContext": {
    "accountId": "123456789012",
    "apiId": "api-id",
    "authentication": {
      "clientCert": {
        "clientCertPem": "CERT_CONTENT",
        "subjectDN": "www.example.com",
        "issuerDN": "Example issuer",
        "serialNumber": "a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1:a1",
        "validity": {
          "notBefore": "May 28 12:30:02 2019 GMT",
          "notAfter": "Aug  5 09:36:04 2021 GMT"
        }
      }
    },
    "authorizer": {
      "jwt": {
        "claims": {
          "sub": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
          "claim1": "value1",
          "claim2": "value2"
        },
        "scopes": ["scope1", "scope2"]
      }
    },
    "domainName": "id.execute-api.us-east-1.amazonaws.com",
    "domainPrefix": "id",
    "http": {
      "method": "POST",
      "path": "/my/path",
      "protocol": "HTTP/1.1",
      "sourceIp": "192.0.2.1",
      "userAgent": "agent"
    },
    "requestId": "id",
    "routeKey": "$default",
    "stage": "$default",
    "time": "12/Mar/2020:19:03:58 +0000",
    "timeEpoch": 1583348638390
  },
  "body": "Hello from Lambda",
  "pathParameters": {
    "parameter1": "value1"
  },
  "isBase64Encoded": false,
  "stageVariables": {
    "stageVariable1": "value1",
    "stageVariable2": "value2"
  }
})json";

// The request payload from "Invoking Lambda function URLs" (AWS_IAM auth type).
constexpr const char* kFunctionUrlEvent = R"json({
  "version": "2.0",
  "routeKey": "$default",
  "rawPath": "/my/path",
  "rawQueryString": "parameter1=value1&parameter1=value2&parameter2=value",
  "cookies": ["cookie1", "cookie2"],
  "headers": {
    "header1": "value1",
    "header2": "value1,value2",
    "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
  },
  "queryStringParameters": {
    "parameter1": "value1,value2",
    "parameter2": "value"
  },
  "requestContext": {
    "accountId": "123456789012",
    "apiId": "<urlid>",
    "authentication": null,
    "authorizer": {
      "iam": {
        "accessKey": "AKIA...",
        "accountId": "111122223333",
        "callerId": "AIDA...",
        "cognitoIdentity": null,
        "principalOrgId": null,
        "userArn": "arn:aws:iam::111122223333:user/example-user",
        "userId": "AIDA..."
      }
    },
    "domainName": "<url-id>.lambda-url.us-west-2.on.aws",
    "domainPrefix": "<url-id>",
    "http": {
      "method": "POST",
      "path": "/my/path",
      "protocol": "HTTP/1.1",
      "sourceIp": "123.123.123.123",
      "userAgent": "agent"
    },
    "requestId": "id",
    "routeKey": "$default",
    "stage": "$default",
    "time": "12/Mar/2020:19:03:58 +0000",
    "timeEpoch": 1583348638390
  },
  "body": "Hello from client!",
  "pathParameters": null,
  "isBase64Encoded": false,
  "stageVariables": null
})json";

std::vector<std::string> values(const api::Request& request, const std::string& name) {
    std::vector<std::string> out;
    const auto [begin, end] = request.query.equal_range(name);
    for (auto it = begin; it != end; ++it) out.push_back(it->second);
    return out;
}

json v2_event(const std::string& raw_path, const std::string& raw_query) {
    json event = json::parse(kHttpApiJwtEvent);
    event["rawPath"] = raw_path;
    event["rawQueryString"] = raw_query;
    return event;
}

// Parsing must fail with EventError whose message names `field`.
void expect_event_error(const std::string& event, const std::string& field) {
    try {
        parse_event(event);
        ADD_FAILURE() << "no EventError for: " << event;
    } catch (const EventError& e) {
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos)
            << "message '" << e.what() << "' should name '" << field << "'";
    }
}

TEST(LambdaEvents, RestApiSampleWithCognitoClaims) {
    const ParsedEvent parsed = parse_event(kRestCognitoEvent);
    EXPECT_EQ(parsed.kind, EventKind::ApiGatewayV1);
    const api::Request& r = parsed.request;
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/hello/world");
    EXPECT_EQ(r.header("content-type"), "application/json");
    EXPECT_EQ(r.header("headername"), "headerValue");
    EXPECT_EQ(r.header("x-forwarded-for"), "54.240.196.186, 54.182.214.83");
    EXPECT_EQ(r.headers.count(""), 0u);  // the sample's empty name is dropped
    for (const auto& header : r.headers) {
        std::string lower = header.first;
        for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        EXPECT_EQ(header.first, lower) << "header names are lower case";
    }
    EXPECT_EQ(values(r, "name"), std::vector<std::string>{"me"});
    EXPECT_EQ(values(r, "multivalueName"), (std::vector<std::string>{"you", "me"}));
    EXPECT_EQ(r.query.size(), 3u);
    EXPECT_EQ(r.body, "{\r\n\t\"a\": 1\r\n}");
    EXPECT_EQ(r.request_id, "deef4878-7910-11e6-8f14-25afc3e9ae33");
    EXPECT_EQ(r.source_ip, "192.168.196.186");
    EXPECT_EQ(r.authorizer_user_id, "7d8ca528-4931-4254-9273-ea5ee853f271");
}

TEST(LambdaEvents, RestApiWithoutAuthorizerHasNoUserId) {
    json event = json::parse(kRestCognitoEvent);
    event["requestContext"].erase("authorizer");
    EXPECT_FALSE(parse_event(event.dump()).request.authorizer_user_id);
    // An HTTP API with payload format 1.0 and no authorizer sends "claims": null.
    event["requestContext"]["authorizer"] = {{"claims", nullptr}, {"scopes", nullptr}};
    event["version"] = "1.0";
    EXPECT_FALSE(parse_event(event.dump()).request.authorizer_user_id);
    // A Lambda authorizer's context is not a Cognito identity.
    event["requestContext"]["authorizer"] = {{"principalId", "admin"}, {"sub", "not-claims"}};
    EXPECT_FALSE(parse_event(event.dump()).request.authorizer_user_id);
}

TEST(LambdaEvents, RestApiSingleValueMapsAloneAndRepeatedHeaders) {
    json event = json::parse(kRestCognitoEvent);
    event.erase("multiValueHeaders");
    event.erase("multiValueQueryStringParameters");
    event["headers"] = {{"Accept", "*/*"}, {"X-Custom", "a"}, {"x-custom", "b"}};
    event["queryStringParameters"] = {{"limit", "10"}};
    const api::Request r = parse_event(event.dump()).request;
    EXPECT_EQ(r.header("accept"), "*/*");
    EXPECT_EQ(r.header("x-custom"), "a, b");
    EXPECT_EQ(values(r, "limit"), std::vector<std::string>{"10"});

    event["multiValueHeaders"] = {{"Cookie", {"a=1", "b=2"}}, {"X-Custom", {"c", "d"}}};
    const api::Request m = parse_event(event.dump()).request;
    EXPECT_EQ(m.header("cookie"), "a=1; b=2");
    EXPECT_EQ(m.header("x-custom"), "c, d");  // multiValueHeaders win over headers
}

// The authorizers' `cognito:groups`: REST API Cognito authorizers give a comma-separated
// string, HTTP API JWT authorizers "[a b]"; a token's claim is a JSON array.
TEST(LambdaEvents, CognitoGroupsFromEitherAuthorizer) {
    auto rest = json::parse(kRestCognitoEvent);
    EXPECT_EQ(parse_event(rest.dump()).request.authorizer_groups,
              std::vector<std::string>{"admins"});
    rest["requestContext"]["authorizer"]["claims"]["cognito:groups"] = "readers,k9-admins";
    EXPECT_EQ(parse_event(rest.dump()).request.authorizer_groups,
              (std::vector<std::string>{"readers", "k9-admins"}));
    auto http = json::parse(kHttpApiJwtEvent);
    EXPECT_TRUE(parse_event(http.dump()).request.authorizer_groups.empty());
    http["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:groups"] = "[k9-admins readers]";
    EXPECT_EQ(parse_event(http.dump()).request.authorizer_groups,
              (std::vector<std::string>{"k9-admins", "readers"}));
    EXPECT_EQ(api::groups_from_claim(json::array({"a", "", 3, "b"})),
              (std::vector<std::string>{"a", "b"}));
    EXPECT_TRUE(api::groups_from_claim(json(42)).empty());
    EXPECT_TRUE(api::groups_from_claim(json("[]")).empty());
}

TEST(LambdaEvents, HttpApiSampleWithJwtClaims) {
    const ParsedEvent parsed = parse_event(kHttpApiJwtEvent);
    EXPECT_EQ(parsed.kind, EventKind::ApiGatewayV2);
    const api::Request& r = parsed.request;
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/my/path");
    EXPECT_EQ(values(r, "parameter1"), (std::vector<std::string>{"value1", "value2"}));
    EXPECT_EQ(values(r, "parameter2"), std::vector<std::string>{"value"});
    EXPECT_EQ(r.header("header1"), "value1");
    EXPECT_EQ(r.header("header2"), "value1,value2");
    EXPECT_EQ(r.header("cookie"), "cookie1; cookie2");
    EXPECT_EQ(r.body, "Hello from Lambda");
    EXPECT_EQ(r.request_id, "id");
    EXPECT_EQ(r.source_ip, "192.0.2.1");
    EXPECT_EQ(r.authorizer_user_id, "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0");
}

TEST(LambdaEvents, HttpApiWithoutJwtClaimsHasNoUserId) {
    json event = json::parse(kHttpApiJwtEvent);
    event["requestContext"]["authorizer"] = {{"lambda", {{"sub", "from-a-lambda-authorizer"}}}};
    EXPECT_FALSE(parse_event(event.dump()).request.authorizer_user_id);
    event["requestContext"].erase("authorizer");
    EXPECT_FALSE(parse_event(event.dump()).request.authorizer_user_id);
}

TEST(LambdaEvents, FunctionUrlSampleNeverHasAUserId) {
    const ParsedEvent parsed = parse_event(kFunctionUrlEvent);
    EXPECT_EQ(parsed.kind, EventKind::FunctionUrl);
    const api::Request& r = parsed.request;
    EXPECT_EQ(r.method, "POST");
    EXPECT_EQ(r.path, "/my/path");
    EXPECT_EQ(r.header("authorization"), "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln");
    EXPECT_EQ(r.header("cookie"), "cookie1; cookie2");
    EXPECT_EQ(values(r, "parameter1"), (std::vector<std::string>{"value1", "value2"}));
    EXPECT_EQ(r.body, "Hello from client!");
    EXPECT_EQ(r.source_ip, "123.123.123.123");
    EXPECT_FALSE(r.authorizer_user_id);

    // Even with JWT claims where an HTTP API would put them, k9 verifies the token itself.
    json event = json::parse(kFunctionUrlEvent);
    event["requestContext"]["authorizer"] = {{"jwt", {{"claims", {{"sub", "someone"}}}}}};
    const ParsedEvent forged = parse_event(event.dump());
    EXPECT_EQ(forged.kind, EventKind::FunctionUrl);
    EXPECT_FALSE(forged.request.authorizer_user_id);
}

TEST(LambdaEvents, FunctionUrlWithoutDomainNameOrStage) {
    // The shape aws-lambda-go's sample uses: no domainName check possible, no stage.
    json event = json::parse(kFunctionUrlEvent);
    event["requestContext"].erase("domainName");
    event["requestContext"].erase("stage");
    event["requestContext"]["authorizer"] = {{"jwt", {{"claims", {{"sub", "someone"}}}}}};
    const ParsedEvent parsed = parse_event(event.dump());
    EXPECT_EQ(parsed.kind, EventKind::FunctionUrl);
    EXPECT_FALSE(parsed.request.authorizer_user_id);
}

TEST(LambdaEvents, Base64Bodies) {
    const std::string bytes("\x00\x01\xfe\xffPNG\r\n", 9);
    json v1 = json::parse(kRestCognitoEvent);
    v1["body"] = base64_encode(bytes);
    v1["isBase64Encoded"] = true;
    EXPECT_EQ(parse_event(v1.dump()).request.body, bytes);

    json v2 = json::parse(kHttpApiJwtEvent);
    v2["body"] = "eyJ0aXRsZSI6ICJyw6lzdW3DqSJ9";  // {"title": "résumé"}
    v2["isBase64Encoded"] = true;
    EXPECT_EQ(parse_event(v2.dump()).request.body, "{\"title\": \"r\xc3\xa9sum\xc3\xa9\"}");

    json url = json::parse(kFunctionUrlEvent);
    url["body"] = nullptr;  // a GET has no body
    url["isBase64Encoded"] = true;
    EXPECT_EQ(parse_event(url.dump()).request.body, "");
}

TEST(LambdaEvents, RepeatedAndEncodedQueryParameters) {
    const json event =
        v2_event("/reports", "?tag=a&tag=b&q=caf%C3%A9+au%20lait&plus=%2B1&flag&&x=1=2");
    const api::Request r = parse_event(event.dump()).request;
    EXPECT_EQ(values(r, "tag"), (std::vector<std::string>{"a", "b"}));
    EXPECT_EQ(values(r, "q"), std::vector<std::string>{"caf\xc3\xa9 au lait"});
    EXPECT_EQ(values(r, "plus"), std::vector<std::string>{"+1"});
    EXPECT_EQ(values(r, "flag"), std::vector<std::string>{""});
    EXPECT_EQ(values(r, "x"), std::vector<std::string>{"1=2"});
    EXPECT_EQ(r.query.size(), 6u);

    json empty = v2_event("/reports", "");
    EXPECT_TRUE(parse_event(empty.dump()).request.query.empty());
    // Without rawQueryString (hand-written test events), queryStringParameters is used.
    empty.erase("rawQueryString");
    EXPECT_EQ(values(parse_event(empty.dump()).request, "parameter2"),
              std::vector<std::string>{"value"});
}

TEST(LambdaEvents, CookiesFoldIntoOneHeader) {
    json event = json::parse(kHttpApiJwtEvent);
    event["cookies"] = {"session=abc", "theme=dark", "lang=fr"};
    EXPECT_EQ(parse_event(event.dump()).request.header("cookie"),
              "session=abc; theme=dark; lang=fr");
    event.erase("cookies");
    EXPECT_FALSE(parse_event(event.dump()).request.header("cookie"));
}

TEST(LambdaEvents, PercentEncodedPaths) {
    EXPECT_EQ(parse_event(v2_event("/reports/caf%C3%A9%20noir", "").dump()).request.path,
              "/reports/caf\xc3\xa9 noir");
    EXPECT_EQ(parse_event(v2_event("/a+b/%41", "").dump()).request.path, "/a+b/A");  // + stays
    json v1 = json::parse(kRestCognitoEvent);
    v1["path"] = "/users/me%40example.com/favorites";
    EXPECT_EQ(parse_event(v1.dump()).request.path, "/users/me@example.com/favorites");
}

TEST(LambdaEvents, MethodIsUpperCase) {
    json event = json::parse(kHttpApiJwtEvent);
    event["requestContext"]["http"]["method"] = "delete";
    EXPECT_EQ(parse_event(event.dump()).request.method, "DELETE");
}

TEST(LambdaEvents, BadEventsAreEventErrors) {
    expect_event_error("", "not JSON");
    expect_event_error("not json", "not JSON");
    expect_event_error(R"({"httpMethod": "GET", "path": )", "not JSON");
    expect_event_error("[1, 2]", "object");
    expect_event_error("{}", "httpMethod");
    expect_event_error(R"({"Records": [{"eventSource": "aws:s3"}]})", "requestContext.http.method");

    json v1 = json::parse(kRestCognitoEvent);
    json bad = v1;
    bad.erase("httpMethod");
    bad["version"] = "1.0";
    expect_event_error(bad.dump(), "httpMethod");
    bad = v1;
    bad["httpMethod"] = 5;
    expect_event_error(bad.dump(), "httpMethod");
    bad = v1;
    bad.erase("path");
    expect_event_error(bad.dump(), "path");
    bad = v1;
    bad["headers"] = json::array({"Accept"});
    expect_event_error(bad.dump(), "headers");
    bad = v1;
    bad["multiValueHeaders"]["Accept"] = "*/*";
    expect_event_error(bad.dump(), "multiValueHeaders.Accept");
    bad = v1;
    bad["multiValueQueryStringParameters"]["name"] = {1, 2};
    expect_event_error(bad.dump(), "multiValueQueryStringParameters.name");
    bad = v1;
    bad["requestContext"]["authorizer"]["claims"]["sub"] = 42;
    expect_event_error(bad.dump(), "requestContext.authorizer.claims.sub");
    bad = v1;
    bad["requestContext"] = "id";
    expect_event_error(bad.dump(), "requestContext");

    json v2 = json::parse(kHttpApiJwtEvent);
    bad = v2;
    bad["requestContext"]["http"].erase("method");
    expect_event_error(bad.dump(), "requestContext.http.method");
    bad = v2;
    bad["requestContext"].erase("http");
    expect_event_error(bad.dump(), "requestContext.http.method");
    bad = v2;
    bad.erase("requestContext");
    expect_event_error(bad.dump(), "requestContext.http.method");
    bad = v2;
    bad["requestContext"]["http"] = "POST";
    expect_event_error(bad.dump(), "requestContext.http");
    bad = v2;
    bad["cookies"] = "a=1";
    expect_event_error(bad.dump(), "cookies");
    bad = v2;
    bad["cookies"] = {1};
    expect_event_error(bad.dump(), "cookies");
    bad = v2;
    bad["headers"]["Header1"] = {"value1"};
    expect_event_error(bad.dump(), "headers.Header1");
    bad = v2;
    bad["rawQueryString"] = 7;
    expect_event_error(bad.dump(), "rawQueryString");
    bad = v2;
    bad["body"] = json::object();
    expect_event_error(bad.dump(), "body");
    bad = v2;
    bad["isBase64Encoded"] = "true";
    expect_event_error(bad.dump(), "isBase64Encoded");
    bad = v2;
    bad["body"] = "not base64!";
    bad["isBase64Encoded"] = true;
    expect_event_error(bad.dump(), "base64");
    bad = v2;
    bad["requestContext"]["authorizer"]["jwt"]["claims"] = "sub";
    expect_event_error(bad.dump(), "requestContext.authorizer.jwt.claims");
}

TEST(LambdaEvents, ErrorMessagesDoNotEchoTheEvent) {
    json bad = json::parse(kHttpApiJwtEvent);
    bad["body"] = "c2VjcmV0!!";
    bad["isBase64Encoded"] = true;
    try {
        parse_event(bad.dump());
        FAIL() << "expected EventError";
    } catch (const EventError& e) {
        EXPECT_EQ(std::string(e.what()).find("c2VjcmV0"), std::string::npos);
    }
}

// ---- rendering ----

api::Response sample_response() {
    api::Response response;
    response.status = 201;
    response.headers = {{"content-type", "application/json"}, {"location", "/reports/r1"}};
    response.body = R"({"id":"r1","title":"caf\u00e9"})";
    return response;
}

TEST(LambdaEvents, RendersRestApiResponse) {
    const json out = json::parse(render_response(EventKind::ApiGatewayV1, sample_response()));
    EXPECT_EQ(out["statusCode"], 201);
    EXPECT_EQ(out["headers"]["content-type"], "application/json");
    EXPECT_EQ(out["headers"]["location"], "/reports/r1");
    EXPECT_EQ(out["body"], R"({"id":"r1","title":"caf\u00e9"})");
    EXPECT_EQ(out["isBase64Encoded"], false);
    EXPECT_FALSE(out.contains("cookies"));
    EXPECT_FALSE(out.contains("multiValueHeaders"));
}

TEST(LambdaEvents, RendersHttpApiAndFunctionUrlResponses) {
    for (const EventKind kind : {EventKind::ApiGatewayV2, EventKind::FunctionUrl}) {
        const json out = json::parse(render_response(kind, sample_response()));
        EXPECT_EQ(out["statusCode"], 201) << to_string(kind);
        EXPECT_EQ(out["headers"]["location"], "/reports/r1");
        EXPECT_EQ(out["body"], R"({"id":"r1","title":"caf\u00e9"})");
        EXPECT_EQ(out["isBase64Encoded"], false);
        EXPECT_FALSE(out.contains("cookies"));
    }
}

TEST(LambdaEvents, SetCookieGoesToCookiesOrMultiValueHeaders) {
    api::Response response = sample_response();
    response.headers["set-cookie"] = "a=1; Path=/; HttpOnly\nb=2; Max-Age=60\n";
    const std::vector<std::string> cookies{"a=1; Path=/; HttpOnly", "b=2; Max-Age=60"};
    for (const EventKind kind : {EventKind::ApiGatewayV2, EventKind::FunctionUrl}) {
        const json out = json::parse(render_response(kind, response));
        EXPECT_EQ(out["cookies"].get<std::vector<std::string>>(), cookies) << to_string(kind);
        EXPECT_FALSE(out["headers"].contains("set-cookie"));
    }
    const json v1 = json::parse(render_response(EventKind::ApiGatewayV1, response));
    EXPECT_EQ(v1["multiValueHeaders"]["set-cookie"].get<std::vector<std::string>>(), cookies);
    EXPECT_FALSE(v1["headers"].contains("set-cookie"));
}

TEST(LambdaEvents, BinaryBodiesAreBase64) {
    api::Response response;
    response.status = 200;
    response.headers = {{"content-type", "application/octet-stream"}};
    response.body = std::string("DUCK\x00\xff\x01", 7);
    response.binary = true;
    for (const EventKind kind :
         {EventKind::ApiGatewayV1, EventKind::ApiGatewayV2, EventKind::FunctionUrl}) {
        const json out = json::parse(render_response(kind, response));
        EXPECT_EQ(out["isBase64Encoded"], true) << to_string(kind);
        EXPECT_EQ(base64_decode(out["body"].get<std::string>()), response.body);
    }
    // Text the caller forgot to mark binary, but which JSON cannot carry, is sent base64 too.
    response.binary = false;
    response.body = "\xff\xfe not utf-8";
    const json out = json::parse(render_response(EventKind::ApiGatewayV2, response));
    EXPECT_EQ(out["isBase64Encoded"], true);
    EXPECT_EQ(base64_decode(out["body"].get<std::string>()), response.body);
    // Valid multi-byte UTF-8 stays text.
    response.body = "r\xc3\xa9sum\xc3\xa9 \xf0\x9f\x90\x95";
    const json text = json::parse(render_response(EventKind::ApiGatewayV2, response));
    EXPECT_EQ(text["isBase64Encoded"], false);
    EXPECT_EQ(text["body"], response.body);
}

TEST(LambdaEvents, EmptyResponse) {
    api::Response response;
    response.status = 204;
    const json out = json::parse(render_response(EventKind::FunctionUrl, response));
    EXPECT_EQ(out["statusCode"], 204);
    EXPECT_TRUE(out["headers"].is_object());
    EXPECT_EQ(out["body"], "");
    EXPECT_EQ(out["isBase64Encoded"], false);
}

}  // namespace
}  // namespace k9::runtime
