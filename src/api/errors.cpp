#include "api/errors.hpp"

#include <nlohmann/json.hpp>

namespace k9::api {

Response json_response(int status, const std::string& body_json) {
    Response r;
    r.status = status;
    r.headers["content-type"] = "application/json";
    r.body = body_json;
    return r;
}

Response error_response(int status, const std::string& code, const std::string& message,
                        const std::string& request_id) {
    nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
    if (!request_id.empty()) body["error"]["request_id"] = request_id;
    return json_response(status,
                         body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace k9::api
