#pragma once
// The one error type of the object store seam. Each backend turns its own failures
// (errno, HTTP status, S3 error codes) into one of these kinds at its boundary, so
// callers test `kind()` and never see an HTTP code.

#include <stdexcept>
#include <string>
#include <string_view>

namespace k9::store {

enum class ErrorKind {
    NotFound,            // no object at that key (or version)
    PreconditionFailed,  // If-Match / If-None-Match did not hold: the key changed
    AccessDenied,        // credentials or permissions refuse the operation
    Transient,           // a retryable failure that outlasted the retry budget
    Corrupt,             // bytes do not match their checksum, size or format
    InvalidArgument,     // a request the store can never accept (bad key, bad range)
};

std::string_view to_string(ErrorKind kind);

class StoreError : public std::runtime_error {
  public:
    StoreError(ErrorKind kind, const std::string& message)
        : std::runtime_error(message), kind_(kind) {}
    ErrorKind kind() const { return kind_; }
    bool is_not_found() const { return kind_ == ErrorKind::NotFound; }
    bool is_precondition_failed() const { return kind_ == ErrorKind::PreconditionFailed; }

  private:
    ErrorKind kind_;
};

}  // namespace k9::store
