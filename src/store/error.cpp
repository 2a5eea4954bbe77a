#include "store/error.hpp"

namespace k9::store {

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::NotFound:
            return "NotFound";
        case ErrorKind::PreconditionFailed:
            return "PreconditionFailed";
        case ErrorKind::AccessDenied:
            return "AccessDenied";
        case ErrorKind::Transient:
            return "Transient";
        case ErrorKind::Corrupt:
            return "Corrupt";
        case ErrorKind::InvalidArgument:
            return "InvalidArgument";
    }
    return "Unknown";
}

}  // namespace k9::store
