// STEP (ISO 10303-21) and IGES readers: CAD exchange files hold boundary representations (faces on
// exact surfaces), not triangles. OpenCASCADE (Debian's libocct, the library PrusaSlicer imports
// STEP with) parses the file, converts its units to millimetres and transfers it to a shape, which
// BRepMesh tessellates to a chordal deflection of 0.1% of the shape's diagonal (0.1 mm on a 100 mm
// part; the matcher's signatures are quantised to 0.25 mm) and 20 degrees; the face triangulations
// are joined into one indexed mesh, welded at the shared edge nodes, one object per solid (faces
// outside any solid form one more object).
//
// OpenCASCADE is kept inside this file: its headers are heavy, and nothing else needs them. Its
// data-exchange readers share global state and are not safe to run concurrently, so reading and
// transfer are serialised by a mutex (tessellation runs outside it). Its console messages are
// switched off: stdout carries results only.
#include <BRepBndLib.hxx>
#include <BRepMesh_IncrementalMesh.hxx>
#include <BRep_Tool.hxx>
#include <Bnd_Box.hxx>
#include <IFSelect_ReturnStatus.hxx>
#include <IGESControl_Reader.hxx>
#include <Interface_CheckIterator.hxx>
#include <Interface_InterfaceModel.hxx>
#include <XSControl_WorkSession.hxx>
#include <Message.hxx>
#include <Message_Messenger.hxx>
#include <Message_PrinterOStream.hxx>
#include <Poly_Triangulation.hxx>
#include <STEPControl_Reader.hxx>
#include <Standard_Failure.hxx>
#include <TopExp_Explorer.hxx>
#include <TopLoc_Location.hxx>
#include <TopoDS.hxx>
#include <TopoDS_Face.hxx>
#include <TopoDS_Shape.hxx>

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/formats/interchange/weld.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d::formats {

namespace cad {
namespace {

std::mutex& exchange_mutex() {
  static std::mutex m;
  return m;
}

void silence_messages() {
  static std::once_flag once;
  std::call_once(once, [] {
    const Handle(Message_Messenger)& m = Message::DefaultMessenger();
    m->RemovePrinters(STANDARD_TYPE(Message_PrinterOStream));
  });
}

std::string_view skip_bom_and_space(std::span<const uint8_t> data) {
  std::string_view s(reinterpret_cast<const char*>(data.data()), std::min<size_t>(data.size(), 4096));
  if (s.starts_with("\xEF\xBB\xBF")) s.remove_prefix(3);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
  return s;
}

// Appends the triangles of every face of `shape` the explorer finds (faces of type `find`, not
// inside `avoid`) to `out` as one object.
void append_faces(const TopoDS_Shape& shape, TopAbs_ShapeEnum avoid, const Limits& limits, Mesh& out) {
  std::vector<Vec3f> vertices;
  std::vector<Tri> triangles;
  TopExp_Explorer ex = avoid == TopAbs_SHAPE ? TopExp_Explorer(shape, TopAbs_FACE) : TopExp_Explorer(shape, TopAbs_FACE, avoid);
  for (; ex.More(); ex.Next()) {
    const TopoDS_Face& face = TopoDS::Face(ex.Current());
    TopLoc_Location loc;
    const Handle(Poly_Triangulation) tri = BRep_Tool::Triangulation(face, loc);
    if (tri.IsNull()) continue;
    const gp_Trsf trsf = loc.Transformation();
    const auto base = static_cast<uint32_t>(vertices.size());
    if (out.triangles.size() + triangles.size() + static_cast<size_t>(tri->NbTriangles()) > limits.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, "CAD file tessellates to more than " + std::to_string(limits.max_triangles) +
                                                     " triangles (max_triangles)");
    for (Standard_Integer i = 1; i <= tri->NbNodes(); ++i) {
      const gp_Pnt p = tri->Node(i).Transformed(trsf);
      vertices.push_back({static_cast<float>(p.X()), static_cast<float>(p.Y()), static_cast<float>(p.Z())});
    }
    const bool reversed = face.Orientation() == TopAbs_REVERSED;
    for (Standard_Integer i = 1; i <= tri->NbTriangles(); ++i) {
      Standard_Integer a = 0, b = 0, c = 0;
      tri->Triangle(i).Get(a, b, c);
      if (a < 1 || b < 1 || c < 1 || a > tri->NbNodes() || b > tri->NbNodes() || c > tri->NbNodes()) continue;
      if (reversed) std::swap(b, c);
      triangles.push_back({base + static_cast<uint32_t>(a - 1), base + static_cast<uint32_t>(b - 1),
                           base + static_cast<uint32_t>(c - 1)});
    }
    check_stop(limits);
  }
  if (triangles.empty()) return;
  weld_exact(vertices, triangles);
  Mesh part;
  part.vertices = std::move(vertices);
  part.triangles = std::move(triangles);
  append_object(out, part);
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

// An anonymous in-memory file holding `data` (memfd), for readers that only read from a path:
// OpenCASCADE 7.6 reads STEP from a stream but IGES only from a file. Closed on destruction.
class MemFile {
 public:
  explicit MemFile(std::span<const uint8_t> data) : fd_(::memfd_create("screen3d-cad", MFD_CLOEXEC)) {
    if (fd_ < 0) throw LoadError(ErrorCode::kIo, std::string("cannot make an in-memory file: ") + std::strerror(errno));
    for (size_t off = 0; off < data.size();) {
      const ssize_t n = ::write(fd_, data.data() + off, data.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw LoadError(ErrorCode::kIo, std::string("cannot fill an in-memory file: ") + std::strerror(errno));
      off += static_cast<size_t>(n);
    }
  }
  ~MemFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

IFSelect_ReturnStatus read_into(STEPControl_Reader& reader, std::span<const uint8_t> data) {
  check_step_references(data);
  std::istringstream in(std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  return reader.ReadStream("input", in);
}

IFSelect_ReturnStatus read_into(IGESControl_Reader& reader, std::span<const uint8_t> data) {
  check_iges_sections(data);
  const MemFile file(data);
  return reader.ReadFile(file.path().c_str());
}

// Reads `data` with `reader` (STEPControl_Reader or IGESControl_Reader), transfers it and
// tessellates it. `what`: "STEP" or "IGES", for messages.
template <class Reader>
Mesh read_cad(std::span<const uint8_t> data, const ReadOptions& opt, const char* what) {
  if (data.size() > opt.limits.max_input_bytes)
    throw LoadError(ErrorCode::kLimitExceeded, std::string(what) + " file is larger than the limit of " +
                                                   std::to_string(opt.limits.max_input_bytes) + " bytes (max_input_bytes)");
  silence_messages();
  check_stop(opt.limits);
  TopoDS_Shape shape;
  try {
    std::lock_guard<std::mutex> lock(exchange_mutex());
    Reader reader;
    const IFSelect_ReturnStatus st = read_into(reader, data);
    if (st != IFSelect_RetDone)
      throw LoadError(ErrorCode::kMalformed, std::string(what) + " file could not be parsed (OpenCASCADE's reader " +
                                                 (st == IFSelect_RetVoid ? "found nothing in it" : st == IFSelect_RetFail ? "failed" : "stopped on an error") + ")");
    // An entity that failed to load is left as an error entity, and entities referring to it reach
    // the transfer with null handles, where OpenCASCADE does not check them (a SIGSEGV on damaged
    // files): such a file is refused before the transfer.
    const Handle(Interface_InterfaceModel) model = reader.Model();
    if (model.IsNull()) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no model");
    int failed = 0;
    for (Standard_Integer i = 1; i <= model->NbEntities(); ++i) failed += model->IsErrorEntity(i) ? 1 : 0;
    if (failed == 0 && !reader.WS()->ModelCheckList(Standard_False).IsEmpty(Standard_True)) failed = -1;
    if (failed != 0)
      throw LoadError(ErrorCode::kMalformed, std::string(what) + " file is damaged: " +
                                                 (failed > 0 ? std::to_string(failed) + " of its entities could not be read"
                                                             : std::string("OpenCASCADE's load check failed")));
    if (reader.TransferRoots() == 0) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no shape");
    shape = reader.OneShape();
  } catch (const Standard_Failure& e) {
    throw LoadError(ErrorCode::kMalformed, std::string(what) + " file could not be read: " +
                                               (e.GetMessageString() && *e.GetMessageString() ? e.GetMessageString() : e.DynamicType()->Name()));
  }
  check_stop(opt.limits);
  Mesh mesh;
  try {
    if (shape.IsNull()) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no shape");
    Bnd_Box box;
    BRepBndLib::Add(shape, box);
    if (box.IsVoid()) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no geometry");
    double x0 = 0, y0 = 0, z0 = 0, x1 = 0, y1 = 0, z1 = 0;
    box.Get(x0, y0, z0, x1, y1, z1);
    const double diag = std::sqrt((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0) + (z1 - z0) * (z1 - z0));
    if (!std::isfinite(diag) || diag <= 0 || diag > 1e7)
      throw LoadError(ErrorCode::kMalformed, std::string(what) + " file's shape has no usable size");
    BRepMesh_IncrementalMesh mesher(shape, diag * 1e-3, Standard_False, 20.0 * M_PI / 180.0, Standard_False);
    check_stop(opt.limits);
    for (TopExp_Explorer solids(shape, TopAbs_SOLID); solids.More(); solids.Next())
      append_faces(solids.Current(), TopAbs_SHAPE, opt.limits, mesh);
    append_faces(shape, TopAbs_SOLID, opt.limits, mesh);  // faces outside any solid
  } catch (const Standard_Failure& e) {
    throw LoadError(ErrorCode::kMalformed, std::string(what) + " file could not be tessellated: " +
                                               (e.GetMessageString() && *e.GetMessageString() ? e.GetMessageString() : e.DynamicType()->Name()));
  }
  if (mesh.triangles.empty()) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no faces to tessellate");
  return mesh;
}

}  // namespace
}  // namespace cad

namespace step {

// "ISO-10303-21;" opens every STEP physical file (after an optional BOM and white space).
int probe(std::span<const uint8_t> data) {
  return cad::skip_bom_and_space(data).starts_with("ISO-10303-21;") ? 100 : 0;
}

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  return cad::read_cad<STEPControl_Reader>(data, opt, "STEP");
}

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

Mesh read(std::span<const uint8_t> data, const ReadOptions& opt) {
  return cad::read_cad<IGESControl_Reader>(data, opt, "IGES");
}

}  // namespace iges

}  // namespace s3d::formats
