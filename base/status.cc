#include "base/status.h"

namespace relais::base {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidInput:
      return "invalid_input";
    case ErrorKind::kUnauthenticated:
      return "unauthenticated";
    case ErrorKind::kNotAuthorised:
      return "not_authorised";
    case ErrorKind::kRetryLater:
      return "retry_later";
    case ErrorKind::kCorruption:
      return "corruption";
    case ErrorKind::kNotFound:
      return "not_found";
    case ErrorKind::kFailStop:
      return "fail_stop";
  }
  return "unknown";
}

std::string Error::ToString() const { return code + ": " + message; }

}  // namespace relais::base
