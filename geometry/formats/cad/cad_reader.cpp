// STEP (ISO 10303-21) and IGES readers: CAD exchange files hold boundary representations (faces on
// exact surfaces), not triangles. This half has no OpenCASCADE in it: the probes, the checks that
// refuse damaged files before OpenCASCADE can trip over them, and the running of the OpenCASCADE
// reader process, screen3d-cad-reader (occt_reader.cpp; protocol cad_protocol.h), once per file.
// That process parses, converts units to millimetres and tessellates; the objects it sends back are
// checked, welded here (shared edge nodes coincide) and joined into one mesh.
//
// A process per file, because OpenCASCADE's IGES parser still crashes on some damaged files and a
// parse cannot be stopped part-way: a crash is an error result for that file, and the scan's time
// limit or cancel flag (checked every 50 ms while the reply is awaited) kills the process. Files are
// read in parallel (OpenCASCADE's readers share global state within one process, not across them).
//
// The program is looked for at $SCREEN3D_CAD_READER alone when that is set, else beside the program
// (or libscreen3d.so), in ../libexec/screen3d/ from there, then where the build wrote it
// (S3D_CAD_READER_PATH). Without it a STEP or IGES file is an error that says so; every other format
// works.
#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/file_bytes.h"
#include "geometry/formats/cad/cad_protocol.h"
#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

extern char** environ;

namespace s3d::formats {

namespace cad {
namespace {

std::string_view skip_bom_and_space(std::span<const uint8_t> data) {
  std::string_view s(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 4096));
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}

// OpenCASCADE follows entity references without checking that they resolve: a STEP file cut short
// (an interrupted download) refers to entities it no longer defines, and the transfer dereferences
// a null handle (SIGSEGV in StepGeom_CartesianPoint::NbCoordinates, seen on truncated files). So the
// file is checked first, in one pass: the closing "END-ISO-10303-21;" is there, and every "#N"
// referred to in the DATA section is defined there. Strings ('...', '' inside) and comments
// (/* ... */) are skipped. Throws LoadError naming what is wrong.
void check_step_references(std::span<const uint8_t> data) {
  const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  const size_t tail_from = s.size() > 4096 ? s.size() - 4096 : 0;
  if (s.find("END-ISO-10303-21;", tail_from) == std::string_view::npos)
    throw LoadError(ErrorCode::kTruncated, "STEP file has no closing END-ISO-10303-21; (cut short?)");
  std::vector<uint64_t> defined, referred;
  bool statement_start = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\'') {  // a string; '' is a quote inside it
      for (++i; i < s.size(); ++i)
        if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') ++i;
          else break;
        }
      statement_start = false;
    } else if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      const size_t end = s.find("*/", i + 2);
      i = end == std::string_view::npos ? s.size() : end + 1;
    } else if (c == ';') {
      statement_start = true;
    } else if (c == '#' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') {
      uint64_t id = 0;
      size_t k = i + 1;
      for (; k < s.size() && s[k] >= '0' && s[k] <= '9' && id < (uint64_t{1} << 60); ++k) id = id * 10 + static_cast<uint64_t>(s[k] - '0');
      size_t next = k;
      while (next < s.size() && (s[next] == ' ' || s[next] == '\t' || s[next] == '\r' || s[next] == '\n')) ++next;
      (statement_start && next < s.size() && s[next] == '=' ? defined : referred).push_back(id);
      statement_start = false;
      i = k - 1;
    } else if (c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      statement_start = false;
    }
  }
  std::sort(defined.begin(), defined.end());
  std::sort(referred.begin(), referred.end());
  referred.erase(std::unique(referred.begin(), referred.end()), referred.end());
  for (uint64_t id : referred)
    if (!std::binary_search(defined.begin(), defined.end(), id))
      throw LoadError(ErrorCode::kMalformed, "STEP file refers to entity #" + std::to_string(id) + ", which it does not define");
}

// IGES ends with its Terminate record ('T' in column 73), which counts the records of each section
// before it; a file cut short or with records lost fails this before OpenCASCADE reads it.
void check_iges_sections(std::span<const uint8_t> data) {
  const std::string_view s(reinterpret_cast<const char*>(data.data()), data.size());
  uint64_t counts[4] = {0, 0, 0, 0};  // S, G, D, P
  std::string_view last;
  for (size_t p = 0; p < s.size();) {
    size_t nl = s.find('\n', p);
    if (nl == std::string_view::npos) nl = s.size();
    std::string_view line = s.substr(p, nl - p);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    p = nl + 1;
    if (line.empty()) continue;
    if (line.size() < 73) throw LoadError(ErrorCode::kMalformed, "IGES file has a record shorter than 73 columns");
    last = line;
    const char* at = std::strchr("SGDP", line[72]);
    if (at && line[72] != '\0') ++counts[at - "SGDP"];
  }
  if (last.empty() || last[72] != 'T') throw LoadError(ErrorCode::kTruncated, "IGES file has no Terminate record (cut short?)");
  // Terminate: "S0000001G0000004D0000123P0000456" in columns 1-32.
  for (int k = 0; k < 4; ++k) {
    const std::string_view field = last.substr(static_cast<size_t>(8 * k), 8);
    uint64_t n = 0;
    for (char c : field.substr(1))
      if (c >= '0' && c <= '9') n = n * 10 + static_cast<uint64_t>(c - '0');
    if (field[0] != "SGDP"[k] || n != counts[k])
      throw LoadError(ErrorCode::kMalformed, std::string("IGES file's Terminate record does not count its ") + "SGDP"[k] +
                                                 " records (" + std::to_string(counts[k]) + " found)");
  }
}

// The folder (with its '/') of the program or shared library this code is part of: libscreen3d.so
// for a program using the C API, else the executable. Empty when neither can be told.
std::string own_folder() {
  Dl_info info{};
  std::string path;
  if (::dladdr(reinterpret_cast<void*>(&own_folder), &info) != 0 && info.dli_fname && info.dli_fname[0] == '/')
    path = info.dli_fname;  // a shared library (the main program's own entry has no path in it)
  return path.empty() ? executable_folder() : path.substr(0, path.find_last_of('/') + 1);
}

// Where screen3d-cad-reader is, or empty with the places tried in `why`: $SCREEN3D_CAD_READER alone
// when set; else beside the program (or libscreen3d), in ../libexec/screen3d/ from there (an
// installed tree, cmake/install.cmake), then, for a program in the build tree, where the build
// wrote it. Looked up for every file (a
// few system calls beside starting a process), so a changed $SCREEN3D_CAD_READER takes effect.
std::string reader_program(std::string& why) {
  std::vector<std::string> tries;
  if (const char* env = std::getenv("SCREEN3D_CAD_READER"); env && *env) {
    tries.emplace_back(env);  // the operator's choice, alone
  } else {
    const std::string dir = own_folder();
    if (!dir.empty()) {
      tries.push_back(dir + "screen3d-cad-reader");
      tries.push_back(dir + "../libexec/screen3d/screen3d-cad-reader");
    }
#if defined(S3D_CAD_READER_PATH) && defined(S3D_BUILD_DIR)
    // Only for a program running from the build tree: an installed one never depends on it.
    char* here = dir.empty() ? nullptr : ::realpath(dir.c_str(), nullptr);
    char* build = ::realpath(S3D_BUILD_DIR, nullptr);
    if (here && build && (std::string(here) + "/").starts_with(std::string(build) + "/")) tries.emplace_back(S3D_CAD_READER_PATH);
    std::free(here);
    std::free(build);
#endif
  }
  for (const std::string& path : tries) {
    if (::access(path.c_str(), X_OK) == 0) return path;
    why += (why.empty() ? "" : "; ") + path + ": " + std::strerror(errno);
  }
  if (tries.empty()) why = "no place to look for it";
  return {};
}

// A file descriptor closed on destruction.
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

// The reader process: killed and reaped on destruction unless wait() reaped it.
struct Child {
  pid_t pid = -1;
  ~Child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      wait();
    }
  }
  int wait() {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
    return status;
  }
};

// The reply from the reader process, read with the scan's stop token checked every 50 ms.
class Reply {
 public:
  Reply(int fd, const Limits& limits) : fd_(fd), limits_(limits) {}
  // Exactly n bytes; false when the process closed its end first.
  bool read(void* out, size_t n) {
    auto* p = static_cast<uint8_t*>(out);
    while (n > 0) {
      pollfd pfd{fd_, POLLIN, 0};
      const int ready = ::poll(&pfd, 1, 50);
      if (ready < 0 && errno != EINTR) throw LoadError(ErrorCode::kIo, std::string("cannot wait for the CAD reader: ") + std::strerror(errno));
      if (ready <= 0) {
        check_stop(limits_);  // throws: the caller's Child kills the process
        continue;
      }
      const ssize_t got = ::read(fd_, p, n);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got < 0) throw LoadError(ErrorCode::kIo, std::string("cannot read from the CAD reader: ") + std::strerror(errno));
      if (got == 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

 private:
  int fd_;
  const Limits& limits_;
};

// The data in an anonymous in-memory file, for the reader process's stdin (it can be any size and
// needs no thread here to feed it).
Fd mem_file(std::span<const uint8_t> data) {
  Fd f(::memfd_create("screen3d-cad-input", MFD_CLOEXEC));
  if (f.fd < 0) throw LoadError(ErrorCode::kIo, std::string("cannot make an in-memory file: ") + std::strerror(errno));
  for (size_t off = 0; off < data.size();) {
    const ssize_t n = ::write(f.fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw LoadError(ErrorCode::kIo, std::string("cannot fill an in-memory file: ") + std::strerror(errno));
    off += static_cast<size_t>(n);
  }
  if (::lseek(f.fd, 0, SEEK_SET) != 0) throw LoadError(ErrorCode::kIo, std::string("cannot rewind an in-memory file: ") + std::strerror(errno));
  return f;
}

Mesh read_cad(std::span<const uint8_t> data, const ReadOptions& opt, CadKind kind, const char* what) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, std::string(what) + " file is larger than the limit of " +
                                                   std::to_string(opt.limits.max_input_bytes) + " bytes (max_input_bytes)");
  if (kind == kCadStep) check_step_references(data);
  else check_iges_sections(data);
  check_stop(opt.limits);
  std::string why;
  const std::string program = reader_program(why);
  if (program.empty())
    throw LoadError(ErrorCode::kUnsupported, std::string(what) + " files need OpenCASCADE's reader, screen3d-cad-reader, which was not found (" + why + ")");

  // Start it: the file on stdin, the pipe on stdout, stderr shared.
  Fd input = mem_file(data);
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) throw LoadError(ErrorCode::kIo, std::string("cannot make a pipe: ") + std::strerror(errno));
  Fd from_child(p[0]), child_end(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, input.fd, 0);  // dup2 clears close-on-exec on 0 and 1
  posix_spawn_file_actions_adddup2(&fa, child_end.fd, 1);
  const std::string limit = std::to_string(opt.limits.max_triangles);
  std::string kind_arg = kind == kCadStep ? "step" : "iges";
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), kind_arg.data(), const_cast<char*>(limit.c_str()), nullptr};
  Child child;
  const int rc = ::posix_spawn(&child.pid, program.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    child.pid = -1;
    throw LoadError(ErrorCode::kUnsupported, std::string(what) + " files need OpenCASCADE's reader, and " + program +
                                                 " could not be started: " + std::strerror(rc));
  }
  input.reset();
  child_end.reset();  // so that the reply ends when the process does

  // The reply: objects, then the result. Everything is checked before it is allocated or used.
  const auto malformed = [&](const std::string& how) {
    return LoadError(ErrorCode::kMalformed, std::string("the CAD reader sent a malformed reply reading this ") + what + " file (" + how + ")");
  };
  Reply reply(from_child.fd, opt.limits);
  Mesh mesh;
  uint64_t triangles = 0, vertices = 0;
  for (;;) {
    char tag = 0;
    if (!reply.read(&tag, 1)) break;
    if (tag == kResultRecord) {
      int32_t status = 0;
      uint32_t len = 0;
      if (!reply.read(&status, sizeof status) || !reply.read(&len, sizeof len)) throw malformed("result cut short");
      if (status < 0 || status > 1 + static_cast<int>(ErrorCode::kCancelled) || len > kMaxMessage) throw malformed("bad result");
      std::string msg(len, '\0');
      if (!reply.read(msg.data(), len)) throw malformed("message cut short");
      child.wait();
      if (status != 0) throw LoadError(static_cast<ErrorCode>(status - 1), msg);
      return mesh;
    }
    if (tag != kObjectRecord) throw malformed("unknown record");
    uint64_t counts[2] = {0, 0};
    if (!reply.read(counts, sizeof counts)) throw malformed("object cut short");
    const uint64_t nv = counts[0], nt = counts[1];
    const uint64_t max_vertices = opt.limits.max_triangles > UINT64_MAX / 3 ? UINT64_MAX : 3 * opt.limits.max_triangles;
    if (nt == 0 || nt > opt.limits.max_triangles - triangles || nv > max_vertices - vertices || nv > uint64_t{UINT32_MAX})
      throw malformed("object larger than max_triangles allows");
    triangles += nt;
    vertices += nv;
    Mesh part;
    part.vertices.resize(nv);
    part.triangles.resize(nt);
    if (!reply.read(part.vertices.data(), nv * sizeof(Vec3f)) || !reply.read(part.triangles.data(), nt * sizeof(Tri)))
      throw malformed("object cut short");
    for (const Tri& t : part.triangles)
      for (uint32_t v : t)
        if (v >= nv) throw malformed("triangle index out of range");
    for (const Vec3f& v : part.vertices)
      for (float c : v)
        if (!std::isfinite(c)) throw LoadError(ErrorCode::kBadValue, std::string(what) + " file tessellates to non-finite coordinates");
    weld_exact(part.vertices, part.triangles);
    append_object(mesh, part);
  }
  // The process closed stdout without a result: it crashed or was killed.
  const int status = child.wait();
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigabbrev_np(sig);
    throw LoadError(ErrorCode::kMalformed, std::string(what) + " file crashed OpenCASCADE's reader (signal " + std::to_string(sig) +
                                               (name ? std::string(", SIG") + name : std::string()) +
                                               "): it is damaged or made to crash readers");
  }
  throw LoadError(ErrorCode::kMalformed, std::string(what) + " file: OpenCASCADE's reader ended without a result (exit status " +
                                             std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")");
}

}  // namespace
}  // namespace cad

namespace step {

// "ISO-10303-21;" opens every STEP physical file (after an optional BOM and white space).
int probe(std::span<const uint8_t> data) {
  return cad::skip_bom_and_space(data).starts_with("ISO-10303-21;") ? 100 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) { return cad::read_cad(data, opt, cad::kCadStep, "STEP"); }

}  // namespace step

namespace iges {
// IGES: 80-column records, the section letter in column 73 and the sequence number after it; the
// file opens with the Start section ('S', number 1) or, when that is empty, the Global section ('G').
int probe(std::span<const uint8_t> data) {
  const std::string_view s(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 1024));
  const size_t nl = s.find('\n');
  std::string_view line = s.substr(0, nl);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() != 80 || (line[72] != 'S' && line[72] != 'G')) return 0;
  const std::string_view seq = line.substr(73);  // "      1" or "0000001"
  const size_t first = seq.find_first_not_of(" 0");
  if (first == std::string_view::npos || seq.substr(first) != "1") return 0;
  return 90;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) { return cad::read_cad(data, opt, cad::kCadIges, "IGES"); }

}  // namespace iges

}  // namespace s3d::formats
