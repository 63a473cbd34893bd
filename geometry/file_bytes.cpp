#include "geometry/file_bytes.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "geometry/load_error.h"

namespace s3d {

FileBytes::FileBytes(const std::string& path, const Limits& limits) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) throw LoadError(ErrorCode::kIo, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw LoadError(ErrorCode::kIo, std::string("cannot stat: ") + std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw LoadError(ErrorCode::kIo, "is a directory");
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw LoadError(ErrorCode::kIo, "not a regular file");
  }
  if (st.st_size == 0) {
    ::close(fd);
    throw LoadError(ErrorCode::kEmpty, "empty file (0 bytes)");
  }
  if (static_cast<uint64_t>(st.st_size) > limits.max_input_bytes) {
    ::close(fd);
    throw LoadError(ErrorCode::kLimitExceeded, "file size " + std::to_string(st.st_size) +
                                                   " bytes exceeds the max_input_bytes limit of " +
                                                   std::to_string(limits.max_input_bytes));
  }
  size_ = static_cast<size_t>(st.st_size);
  void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) {
    // Fall back to reading (e.g. file systems without mmap).
    auto* buf = new uint8_t[size_];
    size_t got = 0;
    while (got < size_) {
      const ssize_t n = ::read(fd, buf + got, size_ - got);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        const int e = errno;
        delete[] buf;
        ::close(fd);
        throw LoadError(ErrorCode::kIo, std::string("read failed: ") + (n == 0 ? "short read" : std::strerror(e)));
      }
      got += static_cast<size_t>(n);
    }
    data_ = buf;
  } else {
    ::madvise(p, size_, MADV_SEQUENTIAL);
    data_ = static_cast<const uint8_t*>(p);
    mapped_ = true;
  }
  ::close(fd);
}

FileBytes::~FileBytes() {
  if (mapped_)
    ::munmap(const_cast<uint8_t*>(data_), size_);
  else
    delete[] data_;
}

std::string executable_folder() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  std::string path(self, static_cast<size_t>(n));
  return path.substr(0, path.find_last_of('/') + 1);
}

}  // namespace s3d
