#pragma once
// The error every reader throws on bad input. The message is one line, names the reason, and is
// shown to the user after the file name.
#include <stdexcept>
#include <string>

namespace s3d {

enum class ErrorCode {
  kIo,             // cannot open / read / not a regular file
  kEmpty,          // zero bytes or zero triangles
  kTruncated,      // declared size disagrees with the data
  kMalformed,      // syntax or structure error
  kBadValue,       // NaN / Inf coordinates, out-of-range indices
  kLimitExceeded,  // a Limits setting was hit
  kUnsupported,    // recognised but not screenable (unknown format, G-code before its reader)
  kCancelled,      // the caller cancelled the scan (StopToken)
};

const char* error_code_name(ErrorCode code);

class LoadError : public std::runtime_error {
 public:
  LoadError(ErrorCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace s3d
