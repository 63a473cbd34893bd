// screen3d-cad-reader: the OpenCASCADE half of the STEP and IGES readers, a program of its own that
// geometry/formats/cad/cad_reader.cpp starts for each STEP or IGES file (protocol: cad_protocol.h).
// A process of its own, not a library the caller loads: OpenCASCADE's IGES parser crashes on some
// damaged files (SIGSEGV in IGESSolid_ToolLoop::ReadOwnParams) and its parse cannot be stopped
// part-way, so a crash or a kill for --max-seconds must cost one file, not the scan, the gateway or
// the host program using the C API. It also keeps OpenCASCADE's start-up (about 35 ms of static
// initialisers, measured) out of every process that never reads a CAD file.
//
// OpenCASCADE parses the file, converts its units to millimetres and transfers it to a shape, which
// BRepMesh tessellates to a chordal deflection of 0.1% of the shape's diagonal and 20 degrees; the
// faces' triangles go to stdout one object per solid (faces outside any solid form one more). Its
// console messages are switched off (stdout carries the records only).
#include <BRepBndLib.hxx>
#include <BRepMesh_IncrementalMesh.hxx>
#include <BRep_Tool.hxx>
#include <Bnd_Box.hxx>
#include <IFSelect_ReturnStatus.hxx>
#include <IGESControl_Reader.hxx>
#include <Interface_CheckIterator.hxx>
#include <Interface_InterfaceModel.hxx>
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
#include <XSControl_WorkSession.hxx>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "geometry/formats/cad/cad_protocol.h"
#include "geometry/load_error.h"

namespace s3d::formats::cad {
namespace {

void silence_messages() {
  const Handle(Message_Messenger)& m = Message::DefaultMessenger();
  m->RemovePrinters(STANDARD_TYPE(Message_PrinterOStream));
}

// Where the objects go: stdout, as 'O' records.
struct Sink {
  uint64_t max_triangles;
  uint64_t triangles = 0;
  void object(const std::vector<float>& xyz, const std::vector<uint32_t>& tris) const {
    const uint64_t counts[2] = {xyz.size() / 3, tris.size() / 3};
    if (std::fputc(kObjectRecord, stdout) == EOF || std::fwrite(counts, sizeof counts, 1, stdout) != 1 ||
        std::fwrite(xyz.data(), sizeof(float), xyz.size(), stdout) != xyz.size() ||
        std::fwrite(tris.data(), sizeof(uint32_t), tris.size(), stdout) != tris.size())
      throw LoadError(ErrorCode::kIo, "cannot write the tessellation to stdout");
  }
};

// Hands the triangles of every face of `shape` (not inside `avoid`) to the caller as one object.
void append_faces(const TopoDS_Shape& shape, TopAbs_ShapeEnum avoid, Sink& sink) {
  std::vector<float> vertices;  // x, y, z
  std::vector<uint32_t> triangles;
  TopExp_Explorer ex = avoid == TopAbs_SHAPE ? TopExp_Explorer(shape, TopAbs_FACE) : TopExp_Explorer(shape, TopAbs_FACE, avoid);
  for (; ex.More(); ex.Next()) {
    const TopoDS_Face& face = TopoDS::Face(ex.Current());
    TopLoc_Location loc;
    const Handle(Poly_Triangulation) tri = BRep_Tool::Triangulation(face, loc);
    if (tri.IsNull()) continue;
    const gp_Trsf trsf = loc.Transformation();
    const auto base = static_cast<uint32_t>(vertices.size() / 3);
    if (sink.triangles + triangles.size() / 3 + static_cast<uint64_t>(tri->NbTriangles()) > sink.max_triangles)
      throw LoadError(ErrorCode::kLimitExceeded, "CAD file tessellates to more than " + std::to_string(sink.max_triangles) +
                                                     " triangles (max_triangles)");
    for (Standard_Integer i = 1; i <= tri->NbNodes(); ++i) {
      const gp_Pnt p = tri->Node(i).Transformed(trsf);
      vertices.insert(vertices.end(), {static_cast<float>(p.X()), static_cast<float>(p.Y()), static_cast<float>(p.Z())});
    }
    const bool reversed = face.Orientation() == TopAbs_REVERSED;
    for (Standard_Integer i = 1; i <= tri->NbTriangles(); ++i) {
      Standard_Integer a = 0, b = 0, c = 0;
      tri->Triangle(i).Get(a, b, c);
      if (a < 1 || b < 1 || c < 1 || a > tri->NbNodes() || b > tri->NbNodes() || c > tri->NbNodes()) continue;
      if (reversed) std::swap(b, c);
      triangles.insert(triangles.end(), {base + static_cast<uint32_t>(a - 1), base + static_cast<uint32_t>(b - 1),
                                         base + static_cast<uint32_t>(c - 1)});
    }
  }
  if (triangles.empty()) return;
  sink.triangles += triangles.size() / 3;
  sink.object(vertices, triangles);
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
  std::istringstream in(std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  return reader.ReadStream("input", in);
}

IFSelect_ReturnStatus read_into(IGESControl_Reader& reader, std::span<const uint8_t> data) {
  const MemFile file(data);
  return reader.ReadFile(file.path().c_str());
}

// Reads `data` with `reader` (STEPControl_Reader or IGESControl_Reader), transfers it and
// tessellates it. `what`: "STEP" or "IGES", for messages. Throws LoadError.
template <class Reader>
void read_cad(std::span<const uint8_t> data, Sink& sink, const char* what) {
  silence_messages();
  TopoDS_Shape shape;
  try {
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
    for (TopExp_Explorer solids(shape, TopAbs_SOLID); solids.More(); solids.Next())
      append_faces(solids.Current(), TopAbs_SHAPE, sink);
    append_faces(shape, TopAbs_SOLID, sink);  // faces outside any solid
  } catch (const Standard_Failure& e) {
    throw LoadError(ErrorCode::kMalformed, std::string(what) + " file could not be tessellated: " +
                                               (e.GetMessageString() && *e.GetMessageString() ? e.GetMessageString() : e.DynamicType()->Name()));
  }
  if (sink.triangles == 0) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no faces to tessellate");
}

// Reads the whole of stdin (the parent hands over a memfd; a pipe works too).
std::vector<uint8_t> read_stdin() {
  std::vector<uint8_t> data;
  uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw s3d::LoadError(s3d::ErrorCode::kIo, std::string("cannot read the file from stdin: ") + std::strerror(errno));
    if (n == 0) return data;
    data.insert(data.end(), buf, buf + n);
  }
}

#if defined(__SANITIZE_ADDRESS__)
#define S3D_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S3D_UNDER_ASAN 1
#endif
#endif

// The 'R' record, then out at once: _exit skips OpenCASCADE's static destructors (and the leak
// report an AddressSanitizer build would add), which the parent does not wait for.
[[noreturn]] void finish(int status, const std::string& why) {
  const uint32_t len = static_cast<uint32_t>(std::min<size_t>(why.size(), kMaxMessage));
  const int32_t st = status;
  const bool ok = std::fputc(kResultRecord, stdout) != EOF && std::fwrite(&st, sizeof st, 1, stdout) == 1 &&
                  std::fwrite(&len, sizeof len, 1, stdout) == 1 && std::fwrite(why.data(), 1, len, stdout) == len &&
                  std::fflush(stdout) == 0;
  ::_exit(ok ? 0 : 3);
}

}  // namespace
}  // namespace s3d::formats::cad

int main(int argc, char** argv) {
  using namespace s3d;
  using namespace s3d::formats::cad;
  uint64_t max_triangles = 0;
  const bool step = argc == 3 && std::strcmp(argv[1], "step") == 0;
  if (argc != 3 || (!step && std::strcmp(argv[1], "iges") != 0) ||
      std::from_chars(argv[2], argv[2] + std::strlen(argv[2]), max_triangles).ec != std::errc()) {
    std::fprintf(stderr,
                 "usage: screen3d-cad-reader step|iges MAX_TRIANGLES < FILE\n"
                 "Reads a STEP or IGES file with OpenCASCADE for screen3d and writes its tessellation to stdout\n"
                 "in the binary records of geometry/formats/cad/cad_protocol.h. Started by screen3d itself.\n");
    return 2;
  }
#if !defined(S3D_UNDER_ASAN)
  const rlimit cap{kReaderAddressSpace, kReaderAddressSpace};
  ::setrlimit(RLIMIT_AS, &cap);  // best effort: a lower hard limit already set stays
#endif
  static char out_buf[1 << 16];
  std::setvbuf(stdout, out_buf, _IOFBF, sizeof out_buf);
  const char* what = step ? "STEP" : "IGES";
  try {
    const std::vector<uint8_t> data = read_stdin();
    Sink sink{max_triangles};
    if (step)
      read_cad<STEPControl_Reader>(data, sink, what);
    else
      read_cad<IGESControl_Reader>(data, sink, what);
    finish(0, "");
  } catch (const LoadError& e) {
    finish(1 + static_cast<int>(e.code()), e.what());
  } catch (const Standard_Failure& e) {
    finish(1 + static_cast<int>(ErrorCode::kMalformed),
           std::string("OpenCASCADE failed: ") +
               (e.GetMessageString() && *e.GetMessageString() ? e.GetMessageString() : e.DynamicType()->Name()));
  } catch (const std::bad_alloc&) {
    finish(1 + static_cast<int>(ErrorCode::kLimitExceeded), std::string(what) + " file made OpenCASCADE run out of memory");
  } catch (const std::exception& e) {
    finish(1 + static_cast<int>(ErrorCode::kMalformed), std::string(what) + " file could not be read: " + e.what());
  } catch (...) {
    finish(1 + static_cast<int>(ErrorCode::kMalformed), std::string(what) + " file could not be read (unknown exception)");
  }
}
