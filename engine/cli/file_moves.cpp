#include "engine/cli/file_moves.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>

namespace s3d::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxNameTries = 1000;

bool name_taken(int dirfd, const std::string& name) {
  struct stat st {};
  return ::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT;
}

// rename without ever replacing an existing file. 0, or an errno value.
int rename_noreplace(int from_dir, const std::string& from, int to_dir, const std::string& to) {
#ifdef RENAME_NOREPLACE
  if (::renameat2(from_dir, from.c_str(), to_dir, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP) return errno;
#endif
  // The file system cannot refuse to replace: check first (a narrow race, in a folder that is ours).
  if (name_taken(to_dir, to)) return EEXIST;
  return ::renameat(from_dir, from.c_str(), to_dir, to.c_str()) == 0 ? 0 : errno;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Copies src into dirfd/name through a temporary ".<name>.partial" (created exclusively, fsynced,
// then renamed without replacing; the leading dot keeps a folder watcher such as a print host's
// from taking the half-written copy). The source is only read. 0, EEXIST (pick another name) or
// another errno value with *why set; a partial copy is removed, never the source.
int copy_into(const std::string& src, int dirfd, const std::string& name, std::string* why) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (in.get() < 0 || ::fstat(in.get(), &st) != 0) {
    const int e = errno;
    *why = "cannot read " + src + ": " + errno_text(e);
    return e;
  }
  const std::string partial = "." + name + ".partial";
  Fd out(::openat(dirfd, partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.get() < 0) {
    const int e = errno;
    if (e != EEXIST) *why = "cannot create the copy: " + errno_text(e);
    return e;
  }
  auto fail = [&](int e, const std::string& what) {
    ::unlinkat(dirfd, partial.c_str(), 0);  // our own incomplete copy
    *why = what + ": " + errno_text(e);
    return e;
  };
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  uint64_t copied = 0;
  for (;;) {
    const ssize_t n = ::read(in.get(), buf.get(), 1 << 20);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(errno, "copy failed reading " + src);
    }
    if (n == 0) break;
    if (!write_all(out.get(), buf.get(), static_cast<size_t>(n))) return fail(errno, "copy failed writing");
    copied += static_cast<uint64_t>(n);
  }
  if (copied != static_cast<uint64_t>(st.st_size)) return fail(EIO, "copy incomplete (the file changed while copying)");
  if (::fsync(out.get()) != 0) return fail(errno, "copy failed (fsync)");
  if (::close(out.release()) != 0) return fail(errno, "copy failed (close)");
  if (const int e = rename_noreplace(dirfd, partial, dirfd, name); e != 0) {
    ::unlinkat(dirfd, partial.c_str(), 0);
    if (e != EEXIST) *why = "cannot name the copy: " + errno_text(e);
    return e;
  }
  ::fsync(dirfd);
  return 0;
}

}  // namespace

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

std::string utc_stamp(std::time_t t, bool compact) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int open_destination_dir(const std::string& dir, bool is_shared, std::string* why) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      *why = "cannot use folder " + dir + ": " + errno_text(errno);
      return -1;
    }
    if (!is_shared) {
      std::error_code ec;
      const fs::path parent = fs::path(dir).parent_path();
      if (!parent.empty()) fs::create_directories(parent, ec);
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      *why = "cannot create folder " + dir + ": " + errno_text(errno);
      return -1;
    }
  }
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_shared ? O_NOFOLLOW : 0)));
  if (fd.get() < 0) {
    *why = "cannot open folder " + dir + ": " + errno_text(errno);
    return -1;
  }
  if (is_shared && (::fstat(fd.get(), &st) != 0 || st.st_uid != ::geteuid())) {
    *why = "refusing folder " + dir + ": it belongs to another user";
    return -1;
  }
  return fd.release();
}

Moved move_into(const std::string& path, int dirfd, const std::string& dir, const std::function<std::string(int)>& name_for,
                const std::string& companion) {
  Moved q;
  for (int k = 0; k < kMaxNameTries; ++k) {
    const std::string name = name_for(k);
    if (name_taken(dirfd, name) || (!companion.empty() && name_taken(dirfd, name + companion))) continue;
    const std::string dest = (fs::path(dir) / name).string();
    int e = rename_noreplace(AT_FDCWD, path, dirfd, name);
    if (e == 0) {
      ::fsync(dirfd);
      q.moved = true;
      q.dest = dest;
      return q;
    }
    if (e == EEXIST) continue;
    if (e != EXDEV) {
      q.failure = "cannot move it to " + dest + ": " + errno_text(e);
      return q;
    }
    // Another file system: copy, and remove the original only after the copy is complete and synced.
    e = copy_into(path, dirfd, name, &q.failure);
    if (e == EEXIST) continue;
    if (e != 0) return q;
    q.dest = dest;
    if (::unlink(path.c_str()) != 0) {
      q.failure = "copied it to " + dest + " but cannot remove the original: " + errno_text(errno);
      return q;
    }
    q.moved = true;
    return q;
  }
  q.failure = "no free name in folder " + dir;
  return q;
}

Moved move_stamped(const std::string& path, int dirfd, const std::string& dir, std::string base, const std::string& stamp,
                   const std::string& suffix) {
  constexpr size_t kMaxBaseBytes = 200;
  if (base.size() > kMaxBaseBytes) {
    size_t n = kMaxBaseBytes;
    while (n > 0 && (static_cast<unsigned char>(base[n]) & 0xC0) == 0x80) --n;
    base.resize(n);
  }
  return move_into(
      path, dirfd, dir,
      [&](int k) {
        std::string name = base + "." + stamp;  // appended piece by piece: gcc 12's -Wrestrict false positive
        if (k) name.append("-").append(std::to_string(k));
        return name.append(suffix);
      },
      ".json");
}

std::string write_new_file(const std::string& path, const std::string& text) {
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return "cannot write " + path + ": " + errno_text(errno);
  if (!write_all(fd.get(), text.data(), text.size()) || ::fsync(fd.get()) != 0)
    return "cannot write " + path + ": " + errno_text(errno);
  return {};
}

}  // namespace s3d::cli
