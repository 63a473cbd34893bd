#include "geometry/load_error.h"

namespace s3d {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo: return "io";
    case ErrorCode::kEmpty: return "empty";
    case ErrorCode::kTruncated: return "truncated";
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kBadValue: return "bad-value";
    case ErrorCode::kLimitExceeded: return "limit-exceeded";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kCancelled: return "cancelled";
  }
  return "unknown";
}

}  // namespace s3d
