// `screen3d gate [--db DB] [--quarantine DIR] [--block-review] [--on-error allow|block] GCODE`:
// the slicer post-processing hook (PrusaSlicer, SuperSlicer, OrcaSlicer run each post-processing
// line through the shell with the G-code path appended, and a non-zero exit aborts the export).
//
// clean -> exit 0, silent. review -> one note on stderr, exit 0 (or blocked with --block-review).
// restricted -> the file is moved into a quarantine folder with a JSON report beside it, the reason
// goes to stderr, exit 1. Not screenable (error/skipped) -> warning and exit 0 with --on-error allow
// (the default: never block a print by mistake), quarantined and exit 2 with --on-error block.
// Bad arguments or an unreadable database -> exit 2, file untouched. stdout stays empty.
//
// Nothing the user gave is lost: the move is rename(2) without replacing anything; across file
// systems it is copy + fsync, and the original is removed only once the copy is complete. If the
// move fails the file stays where it was, the failure is printed and the exit is still non-zero.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include "engine/cli/command.h"
#include "engine/report_json.h"
#include "engine/scan.h"


namespace s3d::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kDefaultQuarantine = "screen3d-quarantine";
constexpr size_t kMaxBaseBytes = 200;  // leaves room for ".<timestamp>-N.quarantined.json" under NAME_MAX
constexpr int kMaxNameTries = 1000;

struct GateOptions {
  std::string db;
  std::string quarantine;  // empty: <folder of the file>/screen3d-quarantine
  bool block_review = false;
  std::string on_error = "allow";
  std::string path;
  ScanSettings settings;
};

// For messages: control characters (newlines in a hostile file name or label) cannot break lines.
std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  return out;
}

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

// The UTC time as 20261129T232912Z (file names) and 2026-11-29T23:29:12Z (the report).
std::string utc_stamp(std::time_t t, bool compact) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, compact ? "%Y%m%dT%H%M%SZ" : "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The base of the quarantined name: the final output name when the slicer gave one (the name the
// user knows), else the file's own name; cut to kMaxBaseBytes on a UTF-8 character boundary.
std::string quarantine_base(const std::string& path, const std::string& final_name) {
  std::string base = fs::path(final_name.empty() ? path : final_name).filename().string();
  if (base.empty() || base == "." || base == "..") base = fs::path(path).filename().string();
  if (base.empty() || base == "." || base == "..") base = "gcode";
  if (base.size() > kMaxBaseBytes) {
    size_t n = kMaxBaseBytes;
    while (n > 0 && (static_cast<unsigned char>(base[n]) & 0xC0) == 0x80) --n;
    base.resize(n);
  }
  return base;
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
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

// Opens (creating it 0700 if missing) the quarantine folder. The default folder sits next to the
// file, which may be a shared temporary folder: there it must be a real folder (not a link) owned
// by us. Returns the folder's descriptor, or -1 with *why set.
int open_quarantine_dir(const std::string& dir, bool is_default, std::string* why) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      *why = "cannot use quarantine folder " + dir + ": " + errno_text(errno);
      return -1;
    }
    if (!is_default) {
      std::error_code ec;
      const fs::path parent = fs::path(dir).parent_path();
      if (!parent.empty()) fs::create_directories(parent, ec);
    }
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      *why = "cannot create quarantine folder " + dir + ": " + errno_text(errno);
      return -1;
    }
  }
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | (is_default ? O_NOFOLLOW : 0)));
  if (fd.get() < 0) {
    *why = "cannot open quarantine folder " + dir + ": " + errno_text(errno);
    return -1;
  }
  if (is_default && (::fstat(fd.get(), &st) != 0 || st.st_uid != ::geteuid())) {
    *why = "refusing quarantine folder " + dir + ": it belongs to another user (pass --quarantine DIR)";
    return -1;
  }
  return fd.release();
}

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

// Copies src into dirfd/name through a temporary "<name>.partial" (created exclusively, fsynced,
// then renamed without replacing). The source is only read. 0, EEXIST (pick another name) or
// another errno value with *why set; a partial copy is removed, never the source.
int copy_into(const std::string& src, int dirfd, const std::string& name, std::string* why) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  struct stat st {};
  if (in.get() < 0 || ::fstat(in.get(), &st) != 0) {
    const int e = errno;
    *why = "cannot read " + src + ": " + errno_text(e);
    return e;
  }
  const std::string partial = name + ".partial";
  Fd out(::openat(dirfd, partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.get() < 0) {
    const int e = errno;
    if (e != EEXIST) *why = "cannot create the quarantine copy: " + errno_text(e);
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
      return fail(errno, "copy to quarantine failed reading " + src);
    }
    if (n == 0) break;
    if (!write_all(out.get(), buf.get(), static_cast<size_t>(n))) return fail(errno, "copy to quarantine failed writing");
    copied += static_cast<uint64_t>(n);
  }
  if (copied != static_cast<uint64_t>(st.st_size)) return fail(EIO, "copy to quarantine incomplete (the file changed while copying)");
  if (::fsync(out.get()) != 0) return fail(errno, "copy to quarantine failed (fsync)");
  if (::close(out.release()) != 0) return fail(errno, "copy to quarantine failed (close)");
  if (const int e = rename_noreplace(dirfd, partial, dirfd, name); e != 0) {
    ::unlinkat(dirfd, partial.c_str(), 0);
    if (e != EEXIST) *why = "cannot name the quarantine copy: " + errno_text(e);
    return e;
  }
  ::fsync(dirfd);
  return 0;
}

struct Quarantined {
  bool moved = false;          // the file is in the quarantine folder and gone from its place
  std::string dest;            // its path there (also set when copied but the original remains)
  std::string failure;         // why it is not (fully) quarantined
};

// Moves `path` into the quarantine folder under a fresh name "<base>.<UTC>[-N].quarantined".
Quarantined quarantine(const std::string& path, const std::string& dir, bool is_default, const std::string& base,
                       const std::string& stamp) {
  Quarantined q;
  Fd dirfd(open_quarantine_dir(dir, is_default, &q.failure));
  if (dirfd.get() < 0) return q;
  for (int k = 0; k < kMaxNameTries; ++k) {
    const std::string name = base + "." + stamp + (k ? "-" + std::to_string(k) : "") + ".quarantined";
    if (name_taken(dirfd.get(), name) || name_taken(dirfd.get(), name + ".json")) continue;
    const std::string dest = (fs::path(dir) / name).string();
    int e = rename_noreplace(AT_FDCWD, path, dirfd.get(), name);
    if (e == 0) {
      ::fsync(dirfd.get());
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
    e = copy_into(path, dirfd.get(), name, &q.failure);
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
  q.failure = "no free name in quarantine folder " + dir;
  return q;
}

// The contract scan JSON line plus the "gate" object, beside the quarantined file; 0600, never
// replacing anything. Empty string, or why it could not be written.
std::string write_report(const ScanResult& r, const Quarantined& q, const std::string& path, const std::string& final_name,
                         const std::string& when) {
  nlohmann::ordered_json j = scan_result_json(r);
  nlohmann::ordered_json g;
  g["action"] = "quarantined";
  std::error_code ec;
  const fs::path abs = fs::absolute(path, ec);
  g["original"] = ec ? path : abs.string();
  g["final_name"] = final_name.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(final_name);
  g["quarantined_as"] = q.dest;
  g["reason"] = verdict_name(r.verdict);
  g["at"] = when;
  j["gate"] = std::move(g);
  const std::string text = j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  const std::string report = q.dest + ".json";
  Fd fd(::open(report.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return "cannot write report " + report + ": " + errno_text(errno);
  if (!write_all(fd.get(), text.data(), text.size()) || ::fsync(fd.get()) != 0)
    return "cannot write report " + report + ": " + errno_text(errno);
  return {};
}

std::string match_phrase(const ScanResult& r) {
  char score[32];
  std::snprintf(score, sizeof score, "%.2f", r.score);
  if (r.matches.empty()) return std::string("(score ") + score + ")";
  const MatchEvidence& m = r.matches.front();
  return printable(m.label) + " (" + category_name(m.category) + ", score " + score + ")";
}

int run_gate(const GateOptions& o) {
  const char* env_final = std::getenv("SLIC3R_PP_OUTPUT_NAME");
  const std::string final_name = env_final ? env_final : "";
  const std::string shown = printable(final_name.empty() ? o.path : final_name);

  // The file must be a regular file at that path: a link, folder or device cannot be moved safely.
  struct stat st {};
  if (::lstat(o.path.c_str(), &st) != 0) {
    write_err("screen3d: gate: " + printable(o.path) + ": " + errno_text(errno) + "\n");
    return kExitError;
  }
  if (!S_ISREG(st.st_mode)) {
    write_err("screen3d: gate: " + printable(o.path) + ": not a regular file; not screened, left in place\n");
    return kExitError;
  }

  const std::string db = resolve_db(o.db);
  if (db.empty()) {
    write_err("screen3d: gate: no signature database: pass --db or set SCREEN3D_DB; " + shown +
              " was not screened (left in place)\n");
    return kExitError;
  }
  std::unique_ptr<Engine> engine;
  try {
    engine = Engine::from_database(db, o.settings);
  } catch (const std::exception& e) {
    write_err("screen3d: gate: cannot open signature database " + printable(db) + ": " + printable(e.what()) + "; " +
              shown + " was not screened (left in place)\n");
    return kExitError;
  }

  const ScanResult r = engine->scan_file(o.path);
  int exit_code = kExitOk;
  std::string what;  // the first half of the "blocked" line
  switch (r.verdict) {
    case Verdict::kClean:
      return kExitOk;
    case Verdict::kReview:
      if (!o.block_review) {
        write_err("screen3d: review: " + shown + " resembles restricted part " + match_phrase(r) + "; allowed\n");
        return kExitOk;
      }
      what = shown + " may match restricted part " + match_phrase(r) + " (review, blocked by --block-review)";
      exit_code = kExitMatch;
      break;
    case Verdict::kRestricted:
      what = shown + " matches restricted part " + match_phrase(r);
      exit_code = kExitMatch;
      break;
    case Verdict::kError:
    case Verdict::kSkipped:  // not a file we can screen: the gate cannot vouch for it either
      if (o.on_error != "block") {
        write_err("screen3d: warning: " + shown + " could not be screened (" + printable(r.error) +
                  "); allowed (--on-error allow)\n");
        return kExitOk;
      }
      what = shown + " could not be screened (" + printable(r.error) + "; --on-error block)";
      exit_code = kExitError;
      break;
  }

  const bool is_default = o.quarantine.empty();
  fs::path dir = o.quarantine;
  if (is_default) {
    const fs::path parent = fs::path(o.path).parent_path();
    dir = (parent.empty() ? fs::path(".") : parent) / kDefaultQuarantine;
  }
  std::error_code ec;
  if (fs::path abs = fs::absolute(dir, ec); !ec) dir = abs.lexically_normal();  // a path the user can find
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  const Quarantined q =
      quarantine(o.path, dir.string(), is_default, quarantine_base(o.path, final_name), utc_stamp(now, true));
  if (q.moved) {
    write_err("screen3d: blocked: " + what + "; moved to " + printable(q.dest) + "\n");
    if (const std::string bad = write_report(r, q, o.path, final_name, utc_stamp(now, false)); !bad.empty())
      write_err("screen3d: warning: " + printable(bad) + "\n");
  } else {
    write_err("screen3d: blocked: " + what + "; NOT quarantined: " + printable(q.failure) + "\n");
    write_err("screen3d: do not print " + printable(o.path) + " (it is still there)\n");
  }
  return exit_code;
}

}  // namespace

void register_gate(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<GateOptions>();
  CLI::App* sub = app.add_subcommand(
      "gate", "Slicer post-processing hook: screen one G-code file; quarantine it and exit non-zero if restricted.");
  sub->add_option("--db", o->db, "Signature database (default: $SCREEN3D_DB, then the demo database)");
  sub->add_option("--quarantine", o->quarantine,
                  "Folder for blocked files (default: screen3d-quarantine next to the file, created 0700)");
  sub->add_flag("--block-review", o->block_review, "Also block files whose verdict is review");
  sub->add_option("--on-error", o->on_error,
                  "A file that cannot be screened: allow (warn, exit 0) or block (quarantine, exit 2)")
      ->check(CLI::IsMember({"allow", "block"}))
      ->capture_default_str();
  add_screening_options(sub, o->settings);
  sub->add_option("GCODE", o->path, "The G-code file (the slicer appends its path as the last argument)")->required();
  sub->callback([o, &ctx] { ctx.exit_code = run_gate(*o); });
}

}  // namespace s3d::cli
