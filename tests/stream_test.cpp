// The streaming scan (engine/stream.h; the C API's s3d_stream_* is checked in c_api_smoke.c): chunked feeding gives the same
// result as a whole-file scan, for plain G-code, .bgcode and buffered mesh formats; bad input ends
// in an error result, never an exception; the early verdict fires on a restricted print.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/scan.h"
#include "engine/stream.h"
#include "geometry/gcode/bgcode.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

const Engine& demo_engine() {
  static const std::unique_ptr<Engine> e = Engine::from_database(S3D_DEMO_DB);
  return *e;
}

std::string example(const std::string& name) {
  return (std::filesystem::path(S3D_EXAMPLES_DIR) / name).string();
}

// A hand-written square tube: 20 x 20 mm outside, 2 perimeters, 0.2 mm layers.
std::string tube_gcode(int layers) {
  std::string g = "G21\nG90\nM82\nG92 E0\n";
  double e = 0;
  char line[128];
  for (int l = 1; l <= layers; ++l) {
    std::snprintf(line, sizeof line, "G1 Z%.2f F600\n", 0.2 * l);
    g += line;
    for (int p = 0; p < 2; ++p) {
      const double a = 10.0 - 0.45 * p;
      const double pts[5][2] = {{-a, -a}, {a, -a}, {a, a}, {-a, a}, {-a, -a}};
      std::snprintf(line, sizeof line, "G0 X%.3f Y%.3f\n", 100 + pts[0][0], 100 + pts[0][1]);
      g += line;
      for (int k = 1; k < 5; ++k) {
        e += 2 * a * 0.033;
        std::snprintf(line, sizeof line, "G1 X%.3f Y%.3f E%.5f F1800\n", 100 + pts[k][0], 100 + pts[k][1], e);
        g += line;
      }
    }
  }
  return g;
}

ScanResult stream_scan(const std::vector<uint8_t>& data, size_t chunk, StreamOptions opt = {}, size_t* early_at = nullptr) {
  ScanStream s(demo_engine(), "stream", opt);
  for (size_t off = 0; off < data.size(); off += chunk) {
    const size_t n = std::min(chunk, data.size() - off);
    if (s.feed({data.data() + off, n}) == Verdict::kRestricted && early_at && *early_at == 0) *early_at = off + n;
  }
  return s.finish();
}

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST(Stream, ChunkedGcodeGivesTheWholeFileResult) {
  const std::vector<uint8_t> g = bytes_of(tube_gcode(60));
  const ScanResult whole = demo_engine().scan_bytes(g, "whole");
  ASSERT_TRUE(whole.error.empty()) << whole.error;
  EXPECT_EQ(whole.format, Format::kGcode);
  for (size_t chunk : {size_t{1} << 12, size_t{7}, size_t{1} << 20}) {
    const ScanResult s = stream_scan(g, chunk);
    EXPECT_EQ(s.verdict, whole.verdict) << chunk;
    EXPECT_DOUBLE_EQ(s.score, whole.score) << chunk;
    EXPECT_EQ(s.bodies, whole.bodies) << chunk;
    EXPECT_EQ(s.sha256, whole.sha256) << chunk;
    EXPECT_EQ(s.format, Format::kGcode);
  }
}

// A file that has the firmware undo its distortion (here RepRapFirmware's M579 and M556) carries
// the same note streamed as scanned whole; a plain file carries none.
TEST(Stream, FirmwareTransformNotesComeWithTheStreamedResult) {
  const std::vector<uint8_t> g = bytes_of("M579 X1.5 Y0.8\nM556 S100 X5\n" + tube_gcode(20));
  const ScanResult whole = demo_engine().scan_bytes(g, "whole");
  ASSERT_TRUE(whole.error.empty()) << whole.error;
  ASSERT_EQ(whole.notes.size(), 1u);
  EXPECT_NE(whole.notes[0].find("M579"), std::string::npos) << whole.notes[0];
  const ScanResult s = stream_scan(g, 4096);
  EXPECT_EQ(s.notes, whole.notes);
  EXPECT_TRUE(stream_scan(bytes_of(tube_gcode(20)), 4096).notes.empty());
}

TEST(Stream, BgcodeStreamsLikeText) {
  const std::string text = tube_gcode(40);
  const ScanResult plain = stream_scan(bytes_of(text), 4096);
  const std::vector<uint8_t> bg = gcode::encode_bgcode(text, 1, 0, true);
  const ScanResult b = stream_scan(bg, 4096);
  ASSERT_TRUE(b.error.empty()) << b.error;
  EXPECT_EQ(b.format, Format::kBgcode);
  EXPECT_EQ(b.verdict, plain.verdict);
  EXPECT_DOUBLE_EQ(b.score, plain.score);
}

TEST(Stream, MeshFormatsAreBufferedAndScreenedAtTheEnd) {
  const std::vector<uint8_t> stl = test::read_bytes(example("bracket_reposed.stl"));
  const ScanResult whole = demo_engine().scan_bytes(stl, "b");
  const ScanResult s = stream_scan(stl, 4096);
  EXPECT_EQ(whole.verdict, Verdict::kRestricted);
  EXPECT_EQ(s.verdict, whole.verdict);
  EXPECT_DOUBLE_EQ(s.score, whole.score);
  // The hash computed while streaming is the one reported (the buffer is not hashed again).
  EXPECT_EQ(s.sha256, whole.sha256);
  EXPECT_EQ(s.sha256.size(), 64u);
  // Over the buffer limit: an error result naming the limit, not an exception.
  StreamOptions small;
  small.max_buffer_bytes = 1000;
  const ScanResult over = stream_scan(stl, 4096, small);
  EXPECT_EQ(over.verdict, Verdict::kError);
  EXPECT_NE(over.error.find("buffer limit"), std::string::npos) << over.error;
}

TEST(Stream, BadInputEndsInAnErrorResult) {
  // Past the sniffed prefix (64 KiB) the stream is committed to G-code: binary bytes in a command
  // line are then an error, as in a whole-file scan.
  std::string g = tube_gcode(300);
  ASSERT_GT(g.size(), 70000u);
  static const char kBinary[] = "G1 X1\x01\x02\x03 Y2\n";  // binary bytes in a command line
  g.append(kBinary, sizeof kBinary - 1);
  g += tube_gcode(5);
  const ScanResult s = stream_scan(bytes_of(g), 4096);
  EXPECT_EQ(s.verdict, Verdict::kError);
  EXPECT_FALSE(s.error.empty());
  EXPECT_EQ(demo_engine().scan_bytes(bytes_of(g), "whole").verdict, Verdict::kError);
  const ScanResult empty = stream_scan({}, 4096);
  EXPECT_EQ(empty.verdict, Verdict::kError);
  ScanStream done(demo_engine(), "x");
  done.finish();
  EXPECT_THROW(done.feed({}), std::logic_error);
}

TEST(Stream, SlicedPlateIsRestrictedEarlyAndAtTheEnd) {
  if (!std::filesystem::exists("/usr/bin/prusa-slicer")) GTEST_SKIP() << "prusa-slicer is not installed";
  const std::string out = test::temp_path("plate.gcode");
  const std::string cmd = "prusa-slicer --export-gcode --loglevel 0 -o '" + out + "' '" + example("print_plate.3mf") + "' >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const std::vector<uint8_t> g = test::read_bytes(out);
  const ScanResult whole = demo_engine().scan_file(out);
  EXPECT_EQ(whole.verdict, Verdict::kRestricted);
  StreamOptions opt;
  opt.check_every_layers = 10;
  size_t early_at = 0;
  const ScanResult s = stream_scan(g, 4096, opt, &early_at);
  EXPECT_EQ(s.verdict, Verdict::kRestricted);
  EXPECT_GT(early_at, 0u) << "no early verdict";
  EXPECT_LE(early_at, g.size());
  std::filesystem::remove(out);
}

}  // namespace
}  // namespace s3d
