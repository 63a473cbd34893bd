#pragma once
// Read-only access to a file's bytes: memory-mapped when possible. Never modifies the file.
// Throws LoadError(kIo) for directories, special files and unreadable paths, kEmpty for empty
// files and kLimitExceeded above Limits::max_input_bytes.
#include <cstdint>
#include <span>
#include <string>

#include "geometry/limits.h"

namespace s3d {

class FileBytes {
 public:
  FileBytes(const std::string& path, const Limits& limits);
  ~FileBytes();
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
};

// The folder of the running executable, with its trailing '/' (Linux: /proc/self/exe); empty when
// it cannot be told. Installed trees find their own files from it (cmake/install.cmake).
std::string executable_folder();

}  // namespace s3d
