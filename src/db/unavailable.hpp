#pragma once
// Unavailable: this copy of the database cannot serve a request right now, and says why.
// what() carries the details for the log (keys, store and parser messages); `code` and
// `hint` are what a client may see (HTTP 503), with nothing about the bucket or its keys.

#include <stdexcept>
#include <string>

namespace k9::db {

class Unavailable : public std::runtime_error {
  public:
    // code: journal_corrupt | local_copy_unusable | store_unavailable | store_refused
    Unavailable(std::string error_code, std::string client_hint, const std::string& detail)
        : std::runtime_error(detail), code(std::move(error_code)), hint(std::move(client_hint)) {}
    std::string code;
    std::string hint;  // short, for clients: "the database is being reloaded; retry shortly"
};

}  // namespace k9::db
