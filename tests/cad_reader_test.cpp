// STEP and IGES (geometry/formats/cad): CAD parts built here as B-reps with OpenCASCADE (a bracket
// with a lug and a hole; a plain rod), written as STEP in millimetres and in inches and as IGES, then
// read back, measured, and screened against a reference made from an independent tessellation.
#include <gtest/gtest.h>

#include <BRepAlgoAPI_Cut.hxx>
#include <BRepAlgoAPI_Fuse.hxx>
#include <BRepMesh_IncrementalMesh.hxx>
#include <BRepPrimAPI_MakeBox.hxx>
#include <BRepPrimAPI_MakeCylinder.hxx>
#include <IGESControl_Controller.hxx>
#include <IGESControl_Writer.hxx>
#include <Interface_Static.hxx>
#include <Message.hxx>
#include <Message_Messenger.hxx>
#include <Message_PrinterOStream.hxx>
#include <STEPControl_Writer.hxx>
#include <StlAPI_Writer.hxx>
#include <gp_Ax2.hxx>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/load.h"
#include "geometry/load_error.h"
#include "geometry/mesh_facts.h"
#include "geometry/write_mesh.h"
#include "tests/support/cad_parts.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

// An L-bracket 60 x 30 x 40 mm, 6 mm thick, a 10 x 8 x 6 mm lug on one side, a 8 mm hole through
// the base: chiral, with a curved face, like the stand-ins elsewhere in the tests.
TopoDS_Shape bracket() {
  const TopoDS_Shape base = BRepPrimAPI_MakeBox(60, 30, 6).Shape();
  const TopoDS_Shape wall = BRepPrimAPI_MakeBox(gp_Pnt(0, 0, 0), 6, 30, 40).Shape();
  const TopoDS_Shape lug = BRepPrimAPI_MakeBox(gp_Pnt(40, 30, 0), 10, 8, 6).Shape();
  const TopoDS_Shape hole = BRepPrimAPI_MakeCylinder(gp_Ax2(gp_Pnt(35, 15, -1), gp_Dir(0, 0, 1)), 4, 8).Shape();
  const TopoDS_Shape l = BRepAlgoAPI_Fuse(BRepAlgoAPI_Fuse(base, wall).Shape(), lug).Shape();
  return BRepAlgoAPI_Cut(l, hole).Shape();
}

TopoDS_Shape rod() { return BRepPrimAPI_MakeCylinder(gp_Ax2(gp_Pnt(0, 0, 0), gp_Dir(0, 0, 1)), 5, 70).Shape(); }

constexpr double kBracketVolume = 60 * 30 * 6 + 6 * 30 * 34 + 10 * 8 * 6 - M_PI * 16 * 6;

// OpenCASCADE's writers report on stdout; the test's output stays readable without them.
void quiet() { Message::DefaultMessenger()->RemovePrinters(STANDARD_TYPE(Message_PrinterOStream)); }

std::string write_step(const TopoDS_Shape& shape, const std::string& name, const char* unit = "MM") {
  quiet();
  const std::string path = test::temp_path(name);
  Interface_Static::SetCVal("write.step.unit", unit);
  STEPControl_Writer w;
  EXPECT_EQ(w.Transfer(shape, STEPControl_AsIs), IFSelect_RetDone);
  EXPECT_EQ(w.Write(path.c_str()), IFSelect_RetDone);
  Interface_Static::SetCVal("write.step.unit", "MM");
  return path;
}

std::string write_iges(const TopoDS_Shape& shape, const std::string& name) {
  quiet();
  const std::string path = test::temp_path(name);
  IGESControl_Controller::Init();
  IGESControl_Writer w("MM", 1);  // B-rep mode
  EXPECT_TRUE(w.AddShape(shape));
  w.ComputeModel();
  EXPECT_TRUE(w.Write(path.c_str()));
  return path;
}

LoadedModel load(const std::string& path) {
  const std::vector<uint8_t> bytes = test::read_bytes(path);
  return load_model(bytes, ReadOptions{});
}

// Each file is detected by content, tessellated into one closed body of the bracket's size and
// volume; the same part in inches reads at the same size in millimetres.
TEST(CadReader, StepAndIgesReadAsClosedMeshesInMillimetres) {
  const TopoDS_Shape part = bracket();
  for (const auto& [path, format] : {std::pair{write_step(part, "bracket.step"), Format::kStep},
                                     std::pair{write_step(part, "bracket_inch.step", "INCH"), Format::kStep},
                                     std::pair{write_iges(part, "bracket.igs"), Format::kIges}}) {
    const LoadedModel m = load(path);
    EXPECT_EQ(m.format, format) << path;
    const MeshFacts f = compute_facts(m.mesh);
    EXPECT_EQ(f.bodies, 1u) << path;
    EXPECT_TRUE(f.watertight) << path << ": " << f.boundary_edges << " boundary edges";
    EXPECT_NEAR(f.aabb_max[0] - f.aabb_min[0], 60, 0.01) << path;
    EXPECT_NEAR(f.aabb_max[1] - f.aabb_min[1], 38, 0.01) << path;
    EXPECT_NEAR(f.aabb_max[2] - f.aabb_min[2], 40, 0.01) << path;
    EXPECT_NEAR(std::fabs(f.volume_mm3), kBracketVolume, kBracketVolume * 0.002) << path;
    EXPECT_GT(f.volume_mm3, 0) << path << ": faces facing inwards";
  }
}

// The bracket as STEP and IGES is restricted against a reference that is an STL of the same part
// tessellated otherwise (OpenCASCADE's STL writer, a coarser deflection); a plain rod as STEP is
// clean; a STEP file cut short is an error that names the file, and the other inputs are screened.
TEST(CadReader, AStepPartIsScreenedLikeItsStl) {
  const TopoDS_Shape part = bracket();
  const std::string stl = test::temp_path("bracket.stl"), db = test::temp_path("cad.s3db");
  {
    TopoDS_Shape copy = part;
    BRepMesh_IncrementalMesh coarse(copy, 0.3, Standard_False, 0.6, Standard_False);
    StlAPI_Writer w;
    w.ASCIIMode() = Standard_False;
    ASSERT_TRUE(w.Write(copy, stl.c_str()));
  }
  std::filesystem::remove(db);
  const auto add = test::run_cli({"sig", "add", "--db", db, "--label", "bracket", "--category", "receiver", stl});
  ASSERT_EQ(add.exit_code, 0) << add.err;
  const std::string step = write_step(part, "part.stp"), iges = write_iges(part, "part.iges"),
                    plain = write_step(rod(), "rod.step"), cut = test::temp_path("cut.step");
  std::vector<uint8_t> bytes = test::read_bytes(step);
  bytes.resize(bytes.size() / 2);
  std::ofstream(cut, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));

  const auto r = test::run_cli({"scan", "--json", "--db", db, step, iges, plain, cut});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const auto j = [&](size_t i) { return nlohmann::json::parse(lines[i]); };
  EXPECT_EQ(j(0)["format"], "step");
  EXPECT_EQ(j(0)["verdict"], "restricted") << lines[0];
  EXPECT_EQ(j(1)["format"], "iges");
  EXPECT_EQ(j(1)["verdict"], "restricted") << lines[1];
  EXPECT_EQ(j(2)["verdict"], "clean") << lines[2];
  EXPECT_EQ(j(3)["verdict"], "error") << lines[3];
  EXPECT_NE(r.err.find("cut.step"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("STEP"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("***"), std::string::npos) << "OpenCASCADE's console messages leak: " << r.err;
  for (const std::string& l : lines) EXPECT_EQ(l.front(), '{') << "not a result line on stdout: " << l;

  // Without OpenCASCADE's reader (SCREEN3D_CAD_READER naming a file that is not there) a STEP file
  // is an error that says what is missing, and the STL beside it is screened as ever.
  {
    const test::ScopedEnv missing("SCREEN3D_CAD_READER", test::temp_path("no-such-cad-reader"));
    const auto m = test::run_cli({"scan", "--json", "--db", db, step, stl});
    EXPECT_EQ(m.exit_code, 1) << m.err;
    ASSERT_EQ(m.out_lines().size(), 2u) << m.err;
    const auto j0 = nlohmann::json::parse(m.out_lines()[0]);
    EXPECT_EQ(j0["verdict"], "error");
    EXPECT_NE(j0["error"].get<std::string>().find("screen3d-cad-reader"), std::string::npos) << j0["error"];
    EXPECT_EQ(nlohmann::json::parse(m.out_lines()[1])["verdict"], "restricted");
  }

  // The other way round: an operator's reference is the CAD file; the STL is found.
  const std::string db2 = test::temp_path("from_step.s3db");
  std::filesystem::remove(db2);
  const auto add2 = test::run_cli({"sig", "add", "--db", db2, "--label", "bracket", "--category", "receiver", step});
  ASSERT_EQ(add2.exit_code, 0) << add2.err;
  const auto r2 = test::run_cli({"scan", "--json", "--db", db2, stl});
  ASSERT_EQ(r2.out_lines().size(), 1u) << r2.err;
  EXPECT_EQ(nlohmann::json::parse(r2.out_lines()[0])["verdict"], "restricted") << r2.out;
}

// Detection: the STEP header after a byte-order mark and blank lines; IGES by its 80-column Start
// record; text that only mentions them is not either.
TEST(CadReader, DetectedByTheirHeaders) {
  const std::string step = "\xEF\xBB\xBF\n  ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n";
  EXPECT_EQ(detect_format(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(step.data()), step.size())), Format::kStep);
  std::string iges(72, ' ');
  iges.replace(0, 10, "made by me");
  iges += "S      1\n";
  iges += std::string(72, ' ') + "G      1\n";
  EXPECT_EQ(detect_format(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(iges.data()), iges.size())), Format::kIges);
  const std::string prose = "notes: ISO-10303-21; is STEP\n";
  EXPECT_EQ(detect_format(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(prose.data()), prose.size())), Format::kUnknown);
  // A STEP file with no shape is an error, not an empty mesh.
  try {
    load_model(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(step.data()), step.size()), ReadOptions{});
    ADD_FAILURE() << "an empty STEP file was read";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("STEP"), std::string::npos) << e.what();
  }
}

// `n` damaged copies of `good`: even ones cut short, odd ones with up to seven bytes overwritten by
// characters that keep a CAD file's syntax plausible.
std::vector<std::vector<uint8_t>> damaged(const std::vector<uint8_t>& good, int n, unsigned seed) {
  std::vector<std::vector<uint8_t>> out;
  std::mt19937 rng(seed);
  for (int t = 0; t < n; ++t) {
    std::vector<uint8_t> bad = good;
    if (t % 2 == 0) {
      bad.resize(rng() % bad.size());
    } else {
      for (int k = 0; k < 1 + t % 7; ++k) bad[rng() % bad.size()] = static_cast<uint8_t>(" (),;'#.=0123456789EA\n"[rng() % 23]);
    }
    out.push_back(std::move(bad));
  }
  return out;
}

int trials() {
  const char* env = std::getenv("S3D_CAD_TRIALS");
  return env ? std::atoi(env) : 60;
}

// Damaged STEP and IGES files (cut short, or with bytes overwritten) end in LoadError or in a mesh,
// in this process: OpenCASCADE dereferences unresolved STEP entities (a SIGSEGV on most files cut
// short, before the reader checked references and load failures first), and its IGES parser crashes
// outright on some files, which costs only the reader process it runs in. OpenCASCADE is not built
// with the sanitizers, so this checks less than fuzzing it would. S3D_CAD_TRIALS sets the number
// (2,000 of each passed once).
TEST(CadReader, DamagedStepAndIgesEndInAnErrorOrAMeshInProcess) {
  for (const bool step : {true, false}) {
    int errors = 0, meshes = 0, crashes = 0;
    const std::string good = step ? write_step(bracket(), "damaged.step") : write_iges(bracket(), "damaged.igs");
    for (const std::vector<uint8_t>& bad : damaged(test::read_bytes(good), trials(), 11)) {
      try {
        const LoadedModel m = load_model(bad, ReadOptions{});
        ++meshes;
        for (const Tri& tri : m.mesh.triangles)
          for (uint32_t v : tri) ASSERT_LT(v, m.mesh.vertices.size());
      } catch (const LoadError& e) {
        ++errors;
        crashes += std::string(e.what()).find("crashed") != std::string::npos;
      }
    }
    std::printf("[ measured ] %d damaged %s files: %d errors (%d of them crashed the reader process), %d read as meshes\n",
                trials(), step ? "STEP" : "IGES", errors, crashes, meshes);
  }
}

// OpenCASCADE's IGES parser itself crashes on some damaged files (SIGSEGV in
// IGESSolid_ToolLoop::ReadOwnParams; the 126th file made here is one). It runs in a process of its own
// (screen3d-cad-reader), so such a file is an error result naming the crash, whether the scan is
// isolated (the default) or not: `--no-isolate` used to lose the whole process to it. Every file has
// its result line and no scan worker crashes.
TEST(CadReader, DamagedIgesCostsOnlyThatFileIsolatedOrNot) {
  const std::string dir = test::temp_path("damaged_iges");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const int n = std::max(trials(), 130);
  int k = 0;
  for (const std::vector<uint8_t>& bad : damaged(test::read_bytes(write_iges(bracket(), "damaged.igs")), n, 11)) {
    std::ofstream(dir + "/" + std::to_string(k++) + ".igs", std::ios::binary)
        .write(reinterpret_cast<const char*>(bad.data()), static_cast<std::streamsize>(bad.size()));
  }
  for (const bool isolated : {true, false}) {
    std::vector<std::string> args = {"scan", "-r", "--json", "--db", S3D_DEMO_DB, dir};
    if (!isolated) args.insert(args.begin() + 1, "--no-isolate");
    const auto r = test::run_cli(args, std::chrono::seconds(600));
    EXPECT_FALSE(r.timed_out);
    EXPECT_TRUE(r.exit_code == 0 || r.exit_code == 1 || r.exit_code == 2) << r.exit_code << r.err;
    ASSERT_EQ(r.out_lines().size(), static_cast<size_t>(n)) << r.err;
    int worker_crashed = 0, reader_crashed = 0, errors = 0;
    for (const std::string& l : r.out_lines()) {
      const auto j = nlohmann::json::parse(l);
      if (j["verdict"] == "error") ++errors;
      if (!j["error"].is_string()) continue;
      const std::string e = j["error"];
      if (e.find("stopped abnormally") != std::string::npos) ++worker_crashed;
      if (e.find("crashed OpenCASCADE's reader") != std::string::npos) {
        ++reader_crashed;
        EXPECT_NE(e.find("IGES"), std::string::npos) << e;
      }
    }
    EXPECT_EQ(worker_crashed, 0);
    std::printf("[ measured ] %d damaged IGES files, %s scan: %d errors, of them %d crashed the CAD reader process, %d a worker\n",
                n, isolated ? "isolated" : "--no-isolate", errors, reader_crashed, worker_crashed);
  }
  std::filesystem::remove_all(dir);
}

// What the engine does with a reader process that misbehaves, whatever the file: stand-in programs
// (shell scripts named by SCREEN3D_CAD_READER) crash, hang, answer junk, announce an object larger
// than max_triangles or end without a word. Each is a LoadError naming the reason; a hang ends at
// the scan's time limit or cancel flag (the process is killed), not when the program pleases.
TEST(CadReader, AMisbehavingReaderProcessIsAnErrorForThatFileOnly) {
  const std::vector<uint8_t> step = test::read_bytes(write_step(bracket(), "misbehave.step"));
  const auto script = [](const std::string& name, const std::string& body) {
    const std::string path = test::temp_path(name);
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
  };
  const auto fails = [&](const std::string& program, const ReadOptions& opt) -> std::pair<ErrorCode, std::string> {
    const test::ScopedEnv env("SCREEN3D_CAD_READER", program);
    try {
      load_model(step, opt);
    } catch (const LoadError& e) {
      return {e.code(), e.what()};
    }
    ADD_FAILURE() << program << " gave a mesh";
    return {ErrorCode::kIo, ""};
  };
  const ReadOptions plain;
  {
    const auto [code, why] = fails(script("cad_crash.sh", "kill -SEGV $$"), plain);
    EXPECT_EQ(code, ErrorCode::kMalformed);
    EXPECT_NE(why.find("crashed OpenCASCADE's reader (signal 11, SIGSEGV)"), std::string::npos) << why;
  }
  {
    const auto [code, why] = fails(script("cad_junk.sh", "echo hello"), plain);
    EXPECT_NE(why.find("malformed reply"), std::string::npos) << why;
  }
  {  // 'O', 2^64 - 1 vertices, 1 triangle
    const auto [code, why] = fails(script("cad_huge.sh", "printf 'O\\377\\377\\377\\377\\377\\377\\377\\377\\001\\0\\0\\0\\0\\0\\0\\0'"), plain);
    EXPECT_NE(why.find("larger than max_triangles allows"), std::string::npos) << why;
  }
  {
    const auto [code, why] = fails(script("cad_silent.sh", "exit 0"), plain);
    EXPECT_NE(why.find("ended without a result (exit status 0)"), std::string::npos) << why;
  }
  {
    const auto [code, why] = fails(test::temp_path("no-such-cad-reader"), plain);
    EXPECT_EQ(code, ErrorCode::kUnsupported);
    EXPECT_NE(why.find("screen3d-cad-reader"), std::string::npos) << why;
  }
  const std::string hang = script("cad_hang.sh", "exec sleep 60");
  {  // the time limit
    ReadOptions opt;
    opt.limits.max_seconds = 0.3;
    const StopToken token = stop_token(opt.limits);
    opt.limits.stop = &token;
    const auto t0 = std::chrono::steady_clock::now();
    const auto [code, why] = fails(hang, opt);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(code, ErrorCode::kLimitExceeded);
    EXPECT_NE(why.find("max_seconds"), std::string::npos) << why;
    EXPECT_LT(s, 10.0);
  }
  {  // the cancel flag
    std::atomic<bool> cancel{false};
    ReadOptions opt;
    const StopToken token = stop_token(opt.limits, &cancel);
    opt.limits.stop = &token;
    std::thread canceller([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      cancel = true;
    });
    const auto [code, why] = fails(hang, opt);
    canceller.join();
    EXPECT_EQ(code, ErrorCode::kCancelled) << why;
  }
}

// Not a test: what reading CAD costs. A plate 150 x 100 x 8 mm with 150 holes, as STEP, against an
// STL of the very triangles the STEP reader makes of it, each screened by `screen3d scan
// --no-isolate` against the demo database, alternating, five runs each; prints the median wall
// times and their ratio. Run with --gtest_also_run_disabled_tests --gtest_filter='*CadTiming*'.
TEST(CadTiming, DISABLED_StepAgainstItsStl) {
  TopoDS_Shape plate = BRepPrimAPI_MakeBox(150, 100, 8).Shape();
  for (int i = 0; i < 15; ++i)
    for (int j = 0; j < 10; ++j)
      plate = BRepAlgoAPI_Cut(plate, BRepPrimAPI_MakeCylinder(gp_Ax2(gp_Pnt(5 + 10 * i, 5 + 10 * j, -1), gp_Dir(0, 0, 1)),
                                                              2 + 0.1 * ((i + j) % 5), 10).Shape()).Shape();
  const std::string step = write_step(plate, "plate.step"), stl = test::temp_path("plate.stl");
  const LoadedModel m = load(step);
  write_stl_binary(m.mesh, stl);
  auto time_one = [](const std::string& path) {
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = test::run_cli({"scan", "--no-isolate", "--db", S3D_DEMO_DB, path});
    EXPECT_LE(r.exit_code, 1) << r.err;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  };
  std::vector<double> a, b;
  for (int k = 0; k < 5; ++k) {
    a.push_back(time_one(step));
    b.push_back(time_one(stl));
  }
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::printf("[ measured ] plate with 150 holes: STEP %zu bytes, %zu triangles; STL %zu bytes\n",
              test::read_bytes(step).size(), m.mesh.triangles.size(), test::read_bytes(stl).size());
  std::printf("[ measured ] scan medians: STEP %.3f s, STL %.3f s: %.2fx\n", a[2], b[2], a[2] / b[2]);
  // Files read in parallel (each in its own reader process): one scan of four copies of the STEP
  // (a comment line apart, so four different files) against one scan of one, alternating.
  std::vector<std::string> four;
  const std::vector<uint8_t> bytes = test::read_bytes(step);
  for (int k = 0; k < 4; ++k) {
    four.push_back(test::temp_path("plate" + std::to_string(k) + ".step"));
    std::ofstream out(four.back(), std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out << "/* copy " << k << " */\n";
  }
  std::vector<double> one, all;
  for (int k = 0; k < 5; ++k) {
    one.push_back(time_one(four[0]));
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<std::string> args = {"scan", "--no-isolate", "--db", S3D_DEMO_DB};
    args.insert(args.end(), four.begin(), four.end());
    const auto r = test::run_cli(args);
    EXPECT_LE(r.exit_code, 1) << r.err;
    all.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(one.begin(), one.end());
  std::sort(all.begin(), all.end());
  std::printf("[ measured ] scan medians on %u hardware threads: four STEP files %.3f s, one %.3f s: %.2fx\n",
              std::thread::hardware_concurrency(), all[2], one[2], all[2] / one[2]);
}

}  // namespace

std::string test::write_bracket_step(const std::string& name) { return write_step(bracket(), name); }

}  // namespace s3d
