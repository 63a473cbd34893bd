// The OpenCASCADE half of the STEP and IGES readers, built as a module of its own (libs3d_cad.so)
// that geometry/formats/cad/cad_reader.cpp loads with dlopen the first time a STEP or IGES file is
// read: OpenCASCADE's libraries cost every process that links them about 35 ms of start-up (their
// static initialisers; measured with an empty program linked with and without them), which every
// scan, gate run and worker process would pay. Interface: cad_module.h. Nothing here throws past it.
//
// OpenCASCADE parses the file, converts its units to millimetres and transfers it to a shape, which
// BRepMesh tessellates to a chordal deflection of 0.1% of the shape's diagonal and 20 degrees; the
// faces' triangles go to the caller one object per solid (faces outside any solid form one more).
// Its data-exchange readers share global state, so reading and transfer hold a mutex; its console
// messages are switched off (stdout carries results only).
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
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <mutex>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "geometry/formats/cad/cad_module.h"
#include "geometry/load_error.h"

namespace s3d::formats::cad {
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

// What the caller handed over: where the objects go and how to ask whether to stop.
struct Sink {
  uint64_t max_triangles;
  s3d_cad_object_fn on_object;
  s3d_cad_stop_fn stop;
  void* ctx;
  uint64_t triangles = 0;
  void check() const {
    if (stop && stop(ctx)) throw LoadError(ErrorCode::kCancelled, "stopped");
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
    sink.check();
  }
  if (triangles.empty()) return;
  sink.triangles += triangles.size() / 3;
  sink.on_object(sink.ctx, vertices.data(), vertices.size() / 3, triangles.data(), triangles.size() / 3);
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
  sink.check();
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
  sink.check();
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
    sink.check();
    for (TopExp_Explorer solids(shape, TopAbs_SOLID); solids.More(); solids.Next())
      append_faces(solids.Current(), TopAbs_SHAPE, sink);
    append_faces(shape, TopAbs_SOLID, sink);  // faces outside any solid
  } catch (const Standard_Failure& e) {
    throw LoadError(ErrorCode::kMalformed, std::string(what) + " file could not be tessellated: " +
                                               (e.GetMessageString() && *e.GetMessageString() ? e.GetMessageString() : e.DynamicType()->Name()));
  }
  if (sink.triangles == 0) throw LoadError(ErrorCode::kMalformed, std::string(what) + " file holds no faces to tessellate");
}

}  // namespace
}  // namespace s3d::formats::cad

// The module's one export (the project builds with hidden visibility).
extern "C" __attribute__((visibility("default"))) int s3d_cad_read(int kind, const uint8_t* data, size_t size, uint64_t max_triangles, s3d_cad_object_fn on_object,
                            s3d_cad_stop_fn stop, void* ctx, char* err, size_t err_size) {
  using namespace s3d;
  auto fail = [&](ErrorCode code, const std::string& why) {
    if (err && err_size > 0) {
      const size_t n = std::min(why.size(), err_size - 1);
      std::memcpy(err, why.data(), n);
      err[n] = '\0';
    }
    return 1 + static_cast<int>(code);
  };
  try {
    formats::cad::Sink sink{max_triangles, on_object, stop, ctx};
    const std::span<const uint8_t> bytes(data, size);
    if (kind == S3D_CAD_STEP)
      formats::cad::read_cad<STEPControl_Reader>(bytes, sink, "STEP");
    else
      formats::cad::read_cad<IGESControl_Reader>(bytes, sink, "IGES");
    return 0;
  } catch (const LoadError& e) {
    return fail(e.code(), e.what());
  } catch (const Standard_Failure& e) {
    return fail(ErrorCode::kMalformed, std::string("OpenCASCADE failed: ") +
                                           (e.GetMessageString() && *e.GetMessageString() ? e.GetMessageString() : e.DynamicType()->Name()));
  } catch (const std::bad_alloc&) {
    return fail(ErrorCode::kLimitExceeded, "out of memory reading the CAD file");
  } catch (const std::exception& e) {
    return fail(ErrorCode::kMalformed, std::string("CAD file could not be read: ") + e.what());
  } catch (...) {
    return fail(ErrorCode::kMalformed, "CAD file could not be read (unknown exception)");
  }
}
