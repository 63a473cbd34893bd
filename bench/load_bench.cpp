// load_bench: native binary STL load (FileBytes + detect_format + read_mesh, welded) against
// Assimp::Importer::ReadFile with aiProcess_JoinIdenticalVertices, side by side on one generated
// 1,000,000-triangle binary STL (a 1000 x 500 grid torus: a closed, tessellated shape whose
// triangles share vertices, like real exports). Prints the time ratio at the end.
//
//   load_bench [benchmark flags]          run the benchmarks (writes and removes a temp file)
//   load_bench --write FILE               write the benchmark STL to FILE
//   load_bench --peak native|assimp FILE  load FILE once and print peak RSS (getrusage ru_maxrss)
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <assimp/Importer.hpp>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "geometry/file_bytes.h"
#include "geometry/formats/format.h"
#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace {

constexpr int kRings = 1000;  // around the torus axis
constexpr int kSides = 500;   // around the tube
constexpr uint32_t kTriangles = 2u * kRings * kSides;

std::string g_path;

void put_f32(std::vector<uint8_t>& b, float v) {
  const auto u = std::bit_cast<uint32_t>(v);
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(u >> (8 * i)));
}

// Writes the torus (major radius 40 mm, minor 12 mm) as binary STL. Each grid vertex is computed
// once, so shared corners are bitwise equal and weld exactly.
void write_torus_stl(const std::string& path) {
  std::vector<s3d::Vec3f> grid(static_cast<size_t>(kRings) * kSides);
  for (int i = 0; i < kRings; ++i) {
    const double u = 2.0 * std::numbers::pi * i / kRings;
    for (int j = 0; j < kSides; ++j) {
      const double v = 2.0 * std::numbers::pi * j / kSides;
      const double r = 40.0 + 12.0 * std::cos(v);
      grid[static_cast<size_t>(i) * kSides + j] = {static_cast<float>(r * std::cos(u)), static_cast<float>(r * std::sin(u)),
                                                   static_cast<float>(12.0 * std::sin(v))};
    }
  }
  auto at = [&](int i, int j) -> const s3d::Vec3f& { return grid[static_cast<size_t>(i % kRings) * kSides + (j % kSides)]; };
  std::vector<uint8_t> b(80, ' ');
  const char header[] = "load_bench torus 1000x500";
  std::memcpy(b.data(), header, sizeof header - 1);
  for (int k = 0; k < 4; ++k) b.push_back(static_cast<uint8_t>(kTriangles >> (8 * k)));
  b.reserve(84 + 50ull * kTriangles);
  auto emit = [&](const s3d::Vec3f& a, const s3d::Vec3f& c1, const s3d::Vec3f& c2) {
    const float e1[3] = {c1[0] - a[0], c1[1] - a[1], c1[2] - a[2]};
    const float e2[3] = {c2[0] - a[0], c2[1] - a[1], c2[2] - a[2]};
    float n[3] = {e1[1] * e2[2] - e1[2] * e2[1], e1[2] * e2[0] - e1[0] * e2[2], e1[0] * e2[1] - e1[1] * e2[0]};
    const float len = std::sqrt(n[0] * n[0] + n[1] * n[1] + n[2] * n[2]);
    for (float& x : n) x = len > 0 ? x / len : 0.0f;
    for (float x : n) put_f32(b, x);
    for (const auto* p : {&a, &c1, &c2})
      for (float x : *p) put_f32(b, x);
    b.push_back(0);
    b.push_back(0);
  };
  for (int i = 0; i < kRings; ++i)
    for (int j = 0; j < kSides; ++j) {
      emit(at(i, j), at(i + 1, j), at(i + 1, j + 1));
      emit(at(i, j), at(i + 1, j + 1), at(i, j + 1));
    }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

size_t native_load(const std::string& path) {
  const s3d::ReadOptions opt;
  const s3d::FileBytes fb(path, opt.limits);
  const s3d::Format f = s3d::detect_format(fb.bytes());
  const s3d::Mesh m = s3d::read_mesh(fb.bytes(), f, opt);
  benchmark::DoNotOptimize(m.triangles.data());
  return m.vertices.size();
}

size_t assimp_load(const std::string& path, unsigned flags) {
  Assimp::Importer importer;
  const aiScene* scene = importer.ReadFile(path, flags);
  if (scene == nullptr) throw std::runtime_error(std::string("assimp: ") + importer.GetErrorString());
  size_t vertices = 0;
  for (unsigned i = 0; i < scene->mNumMeshes; ++i) vertices += scene->mMeshes[i]->mNumVertices;
  return vertices;
}

void BM_NativeLoad(benchmark::State& state) {
  size_t v = 0;
  for (auto _ : state) v = native_load(g_path);
  state.counters["vertices"] = static_cast<double>(v);
  state.counters["triangles"] = kTriangles;
}

void BM_AssimpJoinIdenticalVertices(benchmark::State& state) {
  size_t v = 0;
  for (auto _ : state) v = assimp_load(g_path, aiProcess_JoinIdenticalVertices);
  state.counters["vertices"] = static_cast<double>(v);
  state.counters["triangles"] = kTriangles;
}

// Same, but with the per-face normals Assimp's STL importer attaches dropped first, so the join
// compares positions only, as the native weld does.
void BM_AssimpJoinDropNormals(benchmark::State& state) {
  size_t v = 0;
  for (auto _ : state) v = assimp_load(g_path, aiProcess_JoinIdenticalVertices | aiProcess_DropNormals);
  state.counters["vertices"] = static_cast<double>(v);
  state.counters["triangles"] = kTriangles;
}

BENCHMARK(BM_NativeLoad)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_AssimpJoinIdenticalVertices)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
BENCHMARK(BM_AssimpJoinDropNormals)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);

// Console output plus the mean real time per benchmark, for the ratio.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs)
      if (r.iterations > 0 && r.run_type == Run::RT_Iteration)
        seconds[r.run_name.function_name] = r.real_accumulated_time / static_cast<double>(r.iterations);
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> seconds;
};

long max_rss_kib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;  // KiB on Linux
}

int peak_mode(const std::string& which, const std::string& path) {
  const long before = max_rss_kib();
  size_t vertices = 0;
  try {
    if (which == "native")
      vertices = native_load(path);
    else if (which == "assimp")
      vertices = assimp_load(path, aiProcess_JoinIdenticalVertices);
    else {
      std::fprintf(stderr, "--peak wants native or assimp\n");
      return 2;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "load failed: %s\n", e.what());
    return 2;
  }
  const long after = max_rss_kib();
  const double file_kib = static_cast<double>(std::filesystem::file_size(path)) / 1024.0;
  std::printf("%s: vertices %zu, file %.0f KiB, peak RSS %ld KiB (%.2fx file), RSS before load %ld KiB, "
              "growth %.2fx file\n",
              which.c_str(), vertices, file_kib, after, after / file_kib, before, (after - before) / file_kib);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 4 && std::string(argv[1]) == "--peak") return peak_mode(argv[2], argv[3]);
  if (argc == 3 && std::string(argv[1]) == "--write") {
    write_torus_stl(argv[2]);
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  g_path = (std::filesystem::temp_directory_path() / ("load_bench_" + std::to_string(::getpid()) + ".stl")).string();
  write_torus_stl(g_path);
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  std::filesystem::remove(g_path);
  const auto& s = reporter.seconds;
  const auto native = s.find("BM_NativeLoad");
  if (native != s.end() && native->second > 0) {
    for (const char* other : {"BM_AssimpJoinIdenticalVertices", "BM_AssimpJoinDropNormals"}) {
      const auto it = s.find(other);
      if (it != s.end())
        std::printf("ratio %s / BM_NativeLoad = %.1fx (%.1f ms vs %.1f ms)\n", other, it->second / native->second,
                    it->second * 1e3, native->second * 1e3);
    }
  }
  benchmark::Shutdown();
  return 0;
}
