// gcode_reconstruct_bench: one layer's filled cross-section from extrusion moves, two ways, side by
// side on the same synthetic layer (an 80 x 80 mm plate with a 3 x 3 grid of 6 mm holes, three
// perimeters round the outline and each hole, 15% rectilinear infill: about 2,700 moves):
//   BM_RasterReconstructLayer  Reconstructor::on_layer (geometry/gcode/reconstruct.h) on one thread:
//                              raster paint, gap filling, skins, walls, sampling -- all one layer costs;
//   BM_BoostBufferUnion        Boost.Geometry buffer(width / 2, round joins and ends, 16 points per
//                              circle) of the layer's chains as one multi_linestring, which returns
//                              their union, plus its area -- the filled region only, no gap filling
//                              and no surface sample.
// Prints the time ratio at the end. With S3D_GCODE=<file> it also times, on that file's bytes:
// SHA-256, the reader alone, and reader + reconstruction (the speed budget is a multiple of SHA-256;
// reconstruction builds layers on TBB workers, so compare real times).
#include <benchmark/benchmark.h>

// Boost.Geometry 1.74's round join trips gcc 12's -Wmaybe-uninitialized inside its own headers.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/geometry.hpp>
#pragma GCC diagnostic pop
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "engine/sha256.h"
#include "geometry/gcode/gcode_reader.h"
#include "geometry/gcode/reconstruct.h"

namespace {

namespace bg = boost::geometry;
using BPt = bg::model::d2::point_xy<double>;
using BLine = bg::model::linestring<BPt>;
using BMLine = bg::model::multi_linestring<BLine>;
using BPoly = bg::model::polygon<BPt>;
using BMPoly = bg::model::multi_polygon<BPoly>;
using s3d::gcode::ExtrusionMove;
using s3d::gcode::Layer;

constexpr float kW = 0.45f;
constexpr double kPi = 3.14159265358979323846;

void add_move(Layer& l, double ax, double ay, double bx, double by) {
  l.moves.push_back({static_cast<float>(ax), static_cast<float>(ay), static_cast<float>(bx), static_cast<float>(by), l.z, 0.03f,
                     kW, 0, -1});
}

Layer synthetic_layer() {
  Layer l;
  l.z = 0.2f;
  l.height = 0.2f;
  constexpr double half = 40, hole_r = 3, pitch = 80.0 / 3;
  for (int k = 0; k < 3; ++k) {
    const double h = half - kW * (0.5 + k);
    add_move(l, -h, -h, h, -h);
    add_move(l, h, -h, h, h);
    add_move(l, h, h, -h, h);
    add_move(l, -h, h, -h, -h);
  }
  std::vector<std::array<double, 2>> centres;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) centres.push_back({-half + pitch * (i + 0.5), -half + pitch * (j + 0.5)});
  for (const auto& c : centres)
    for (int k = 0; k < 3; ++k) {
      const double r = hole_r + kW * (0.5 + k);
      for (int s = 0; s < 96; ++s) {
        const double a0 = 2 * kPi * s / 96, a1 = 2 * kPi * (s + 1) / 96;
        add_move(l, c[0] + r * std::cos(a0), c[1] + r * std::sin(a0), c[0] + r * std::cos(a1), c[1] + r * std::sin(a1));
      }
    }
  const double in = half - 3 * kW + 0.1, keep_out = hole_r + 3 * kW - 0.1;
  for (double y = -in + 1.5; y < in; y += 3.0) {
    // Split each infill line around the holes it crosses.
    std::vector<std::array<double, 2>> cuts;
    for (const auto& c : centres)
      if (std::fabs(y - c[1]) < keep_out) {
        const double s = std::sqrt(keep_out * keep_out - (y - c[1]) * (y - c[1]));
        cuts.push_back({c[0] - s, c[0] + s});
      }
    std::sort(cuts.begin(), cuts.end());
    double x = -in;
    for (const auto& cut : cuts) {
      if (cut[0] > x) add_move(l, x, y, cut[0], y);
      x = std::max(x, cut[1]);
    }
    if (x < in) add_move(l, x, y, in, y);
  }
  return l;
}

const Layer& layer() {
  static const Layer l = synthetic_layer();
  return l;
}

void BM_RasterReconstructLayer(benchmark::State& state) {
  s3d::gcode::ReconstructOptions o;
  o.parallel_layers = 0;  // one thread, like Boost below
  s3d::gcode::Reconstructor r(o);
  uint32_t k = 0;
  for (auto _ : state) {
    Layer l = layer();
    l.index = k;
    l.z = 0.2f * static_cast<float>(++k);
    r.on_layer(std::move(l));
  }
  benchmark::DoNotOptimize(r.snapshot().sample.points.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(layer().moves.size()));
}
BENCHMARK(BM_RasterReconstructLayer)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BoostBufferUnion(benchmark::State& state) {
  // Chains of consecutive moves become one linestring each (fewer, longer inputs: Boost's best case).
  BMLine lines;
  for (const ExtrusionMove& m : layer().moves) {
    if (lines.empty() || lines.back().back().x() != m.x0 || lines.back().back().y() != m.y0) {
      lines.emplace_back();
      lines.back().push_back(BPt(m.x0, m.y0));
    }
    lines.back().push_back(BPt(m.x1, m.y1));
  }
  const bg::strategy::buffer::distance_symmetric<double> dist(kW / 2);
  const bg::strategy::buffer::side_straight side;
  const bg::strategy::buffer::join_round join(16);
  const bg::strategy::buffer::end_round end(16);
  const bg::strategy::buffer::point_circle circle(16);
  double area = 0;
  for (auto _ : state) {
    BMPoly out;
    bg::buffer(lines, out, dist, side, join, end, circle);
    area = bg::area(out);
    benchmark::DoNotOptimize(area);
  }
  state.counters["area_mm2"] = area;
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(layer().moves.size()));
}
BENCHMARK(BM_BoostBufferUnion)->Unit(benchmark::kMillisecond)->UseRealTime();

// ---- Optional: a real file (S3D_GCODE) -----------------------------------------------------------
std::string& file_bytes() {
  static std::string bytes;
  return bytes;
}

class NullSink final : public s3d::gcode::ToolpathSink {
 public:
  void on_object(const s3d::gcode::ObjectLabel&) override {}
  void on_layer(Layer&& l) override { moves += l.moves.size(); }
  uint64_t moves = 0;
};

void BM_FileSha256(benchmark::State& state) {
  const std::string& b = file_bytes();
  for (auto _ : state)
    benchmark::DoNotOptimize(s3d::sha256(std::span(reinterpret_cast<const uint8_t*>(b.data()), b.size())));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b.size()));
}

void BM_FileReadOnly(benchmark::State& state) {
  const std::string& b = file_bytes();
  for (auto _ : state) {
    NullSink sink;
    s3d::gcode::Reader reader(sink);
    for (size_t pos = 0; pos < b.size(); pos += 1 << 20) reader.feed(std::string_view(b).substr(pos, 1 << 20));
    reader.finish();
    benchmark::DoNotOptimize(sink.moves);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b.size()));
}

void BM_FileReadReconstruct(benchmark::State& state) {
  const std::string& b = file_bytes();
  for (auto _ : state) {
    s3d::gcode::Reconstructor r;
    s3d::gcode::Reader reader(r);
    for (size_t pos = 0; pos < b.size(); pos += 1 << 20) reader.feed(std::string_view(b).substr(pos, 1 << 20));
    reader.finish();
    const s3d::gcode::PrintSample ps = r.finish();
    state.counters["layers"] = ps.layers;
    state.counters["bodies"] = ps.bodies;
    state.counters["points"] = static_cast<double>(ps.sample.points.size());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(b.size()));
}

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

void print_ratio(const std::map<std::string, double>& s, const char* num, const char* den) {
  const auto a = s.find(num), b = s.find(den);
  if (a != s.end() && b != s.end() && b->second > 0)
    std::printf("ratio %s / %s = %.1fx (%.2f ms vs %.2f ms)\n", num, den, a->second / b->second, a->second * 1e3, b->second * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (const char* path = std::getenv("S3D_GCODE")) {
    std::ifstream in(path, std::ios::binary);
    file_bytes().assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (file_bytes().empty()) {
      std::fprintf(stderr, "cannot read %s\n", path);
      return 2;
    }
    benchmark::RegisterBenchmark("BM_FileSha256", BM_FileSha256)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
    benchmark::RegisterBenchmark("BM_FileReadOnly", BM_FileReadOnly)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
    benchmark::RegisterBenchmark("BM_FileReadReconstruct", BM_FileReadReconstruct)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime()
        ->Iterations(3);
  }
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_ratio(reporter.seconds, "BM_BoostBufferUnion", "BM_RasterReconstructLayer");
  print_ratio(reporter.seconds, "BM_FileReadOnly", "BM_FileSha256");
  print_ratio(reporter.seconds, "BM_FileReadReconstruct", "BM_FileSha256");
  benchmark::Shutdown();
  return 0;
}
