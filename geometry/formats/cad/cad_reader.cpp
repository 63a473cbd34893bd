// STEP (ISO 10303-21) and IGES readers: CAD exchange files hold boundary representations (faces on
// exact surfaces), not triangles. This half has no OpenCASCADE in it: the probes, the checks that
// refuse damaged files before OpenCASCADE can trip over them, and the loading of the OpenCASCADE
// module (occt_module.cpp, libs3d_cad.so; interface cad_module.h) on first use. The module parses,
// converts units to millimetres and tessellates; the objects it hands back are welded here (shared
// edge nodes coincide) and joined into one mesh.
//
// The module is looked for at $SCREEN3D_CAD_MODULE alone when that is set, else where the build
// wrote it (S3D_CAD_MODULE_PATH), then as libs3d_cad.so beside the executable. Without it a STEP or IGES
// file is an error that says so; every other format works.
#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/cad/cad_module.h"
#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

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

// The module's read function, loaded once; null with the reason in `why` when it cannot be.
s3d_cad_read_fn module_read(std::string& why) {
  static std::once_flag once;
  static s3d_cad_read_fn fn = nullptr;
  static std::string error;
  std::call_once(once, [] {
    std::vector<std::string> tries;
    if (const char* env = std::getenv("SCREEN3D_CAD_MODULE"); env && *env) {
      tries.emplace_back(env);  // the operator's choice, alone
    } else {
#ifdef S3D_CAD_MODULE_PATH
      tries.emplace_back(S3D_CAD_MODULE_PATH);
#endif
      char self[4096];
      const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
      if (n > 0) {
        std::string dir(self, static_cast<size_t>(n));
        dir.resize(dir.find_last_of('/') + 1);
        tries.push_back(dir + "libs3d_cad.so");
      }
    }
    for (const std::string& path : tries) {
      void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (!h) {
        const char* e = ::dlerror();
        error += (error.empty() ? "" : "; ") + std::string(e ? e : path);
        continue;
      }
      fn = reinterpret_cast<s3d_cad_read_fn>(::dlsym(h, "s3d_cad_read"));
      if (fn) return;
      error += (error.empty() ? "" : "; ") + path + ": no s3d_cad_read";
    }
    if (tries.empty()) error = "no path to look for it";
  });
  why = error;
  return fn;
}

struct Collect {
  const Limits* limits;
  Mesh mesh;
};

Mesh read_cad(std::span<const uint8_t> data, const ReadOptions& opt, int kind, const char* what) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, std::string(what) + " file is larger than the limit of " +
                                                   std::to_string(opt.limits.max_input_bytes) + " bytes (max_input_bytes)");
  if (kind == S3D_CAD_STEP) check_step_references(data);
  else check_iges_sections(data);
  check_stop(opt.limits);
  std::string why;
  const s3d_cad_read_fn read = module_read(why);
  if (!read)
    throw LoadError(ErrorCode::kUnsupported, std::string(what) + " files need the OpenCASCADE module libs3d_cad.so, which could not be loaded (" + why + ")");
  Collect c{&opt.limits, {}};
  auto on_object = [](void* ctx, const float* xyz, size_t vertices, const uint32_t* tris, size_t count) {
    auto& col = *static_cast<Collect*>(ctx);
    Mesh part;
    part.vertices.resize(vertices);
    std::memcpy(part.vertices.data(), xyz, vertices * sizeof(Vec3f));
    part.triangles.resize(count);
    std::memcpy(part.triangles.data(), tris, count * sizeof(Tri));
    weld_exact(part.vertices, part.triangles);
    append_object(col.mesh, part);
  };
  auto stop = [](void* ctx) -> int {
    const Limits& l = *static_cast<Collect*>(ctx)->limits;
    try {
      check_stop(l);
      return 0;
    } catch (const LoadError&) {
      return 1;
    }
  };
  char err[1024] = {};
  const int rc = read(kind, data.data(), data.size(), opt.limits.max_triangles, on_object, stop, &c, err, sizeof err);
  if (rc == 1 + static_cast<int>(ErrorCode::kCancelled)) check_stop(opt.limits);  // throws the limit's own message
  if (rc != 0) throw LoadError(static_cast<ErrorCode>(rc - 1), err);
  return std::move(c.mesh);
}

}  // namespace
}  // namespace cad

namespace step {

// "ISO-10303-21;" opens every STEP physical file (after an optional BOM and white space).
int probe(std::span<const uint8_t> data) {
  return cad::skip_bom_and_space(data).starts_with("ISO-10303-21;") ? 100 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) { return cad::read_cad(data, opt, S3D_CAD_STEP, "STEP"); }

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

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) { return cad::read_cad(data, opt, S3D_CAD_IGES, "IGES"); }

}  // namespace iges

}  // namespace s3d::formats
