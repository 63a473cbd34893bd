#pragma once
// Moving a user's file somewhere without ever losing it: what `screen3d gate` (quarantine) and
// `screen3d-queue` (approved and held folders) share. A move is rename(2) that never replaces an
// existing file; across file systems it is a copy through a temporary name, fsynced, and the
// original is removed only once the copy is complete. If anything fails the file stays where it was
// and the caller gets the reason. POSIX (Linux).
#include <ctime>
#include <functional>
#include <string>
#include <string_view>

namespace s3d::cli {

// For messages: control characters (a newline in a hostile file name or label) become '?'.
std::string printable(std::string_view s);
// strerror for an errno value.
std::string errno_text(int e);
// The UTC time as 20261129T232912Z (compact, for file names) or 2026-11-29T23:29:12Z.
std::string utc_stamp(std::time_t t, bool compact);

// A file descriptor closed when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }

 private:
  int fd_;
};

// Opens (creating it 0700 if missing, and its parents when `is_shared` is false) a folder that
// receives moved files. A folder in a place others can write (`is_shared`: the gate's default next to
// the file) must be a real folder, not a link, owned by us. Returns its descriptor, or -1 with *why.
int open_destination_dir(const std::string& dir, bool is_shared, std::string* why);

struct Moved {
  bool moved = false;    // the file is in the destination and gone from its place
  std::string dest;      // its path there (also set when copied but the original remains)
  std::string failure;   // why it is not (fully) moved
};

// Moves the regular file `path` into the open folder `dirfd` (whose path is `dir`) under the first
// name `name_for(k)`, k = 0, 1, ... 999, that is free (and, when `companion` is not empty, whose
// name + companion is free too: room for a report beside it). Never replaces anything.
Moved move_into(const std::string& path, int dirfd, const std::string& dir, const std::function<std::string(int)>& name_for,
                const std::string& companion = {});

// Moves `path` into the open folder `dirfd` (path `dir`) under a fresh name "<base>.<stamp>[-N]<suffix>"
// (a changed extension: slicers and print hosts do not take the file by mistake) with room for a
// "<name>.json" report beside it. `base` is cut to 200 bytes on a UTF-8 character boundary, which
// leaves room for the rest under NAME_MAX. The gate's quarantine and the queue's held folder.
Moved move_stamped(const std::string& path, int dirfd, const std::string& dir, std::string base, const std::string& stamp,
                   const std::string& suffix);

// Writes `text` to a new file `path` (0600, never replacing anything) and fsyncs it. "" or why not.
std::string write_new_file(const std::string& path, const std::string& text);

}  // namespace s3d::cli
