// screen3d-print-filter (plugins/firmware), the C integration of the streaming API, run as a program
// with the job on stdin: a clean job passes byte for byte; a restricted plate sliced by prusa-slicer
// never reaches the printer when it fits the hold window, and is cut at a line end and followed by the
// abort G-code when the window is 0; input that cannot be screened follows --on-error.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPrusaSlicer = "/usr/bin/prusa-slicer";
constexpr const char* kAbort = "\nM104 S0\nM140 S0\nM107\nM84\n";

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string slurp(const std::string& path) {
  const auto b = test::read_bytes(path);
  return std::string(b.begin(), b.end());
}

struct Filtered {
  int exit_code = -1;
  std::string out, err;
};

// Runs the filter on the file `in` (stdin) with `args`.
Filtered filter(const std::vector<std::string>& args, const std::string& in) {
  const std::string out = test::temp_path("filter.out"), err = test::temp_path("filter.err");
  std::string cmd = quote(S3D_PRINT_FILTER_PATH);
  // Appended piece by piece: gcc 12 warns (-Wrestrict, a known false positive) on "literal" + string.
  for (const auto& a : args) {
    cmd += ' ';
    cmd += quote(a);
  }
  for (const auto& [redirect, path] : {std::pair<const char*, std::string>{" < ", in}, {" > ", out}, {" 2> ", err}}) {
    cmd += redirect;
    cmd += quote(path);
  }
  const int rc = std::system(cmd.c_str());
  Filtered f;
  f.exit_code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  f.out = slurp(out);
  f.err = slurp(err);
  return f;
}

std::string write_file(const std::string& name, const std::string& text) {
  const std::string p = test::temp_path(name);
  std::ofstream(p, std::ios::binary) << text;
  return p;
}


std::string slice(const std::string& model, const std::string& name) {
  const std::string out = test::temp_path(name);
  const std::string cmd = std::string(kPrusaSlicer) + " --export-gcode --loglevel 0 -o " + quote(out) + " " + quote(model) + " > /dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return out;
}

TEST(PrintFilter, ACleanJobPassesByteForByte) {
  const std::string in = write_file("square.gcode", test::square_gcode());
  for (const char* hold : {"8388608", "0", "100"}) {
    const auto f = filter({"--db", S3D_DEMO_DB, "--hold-bytes", hold}, in);
    EXPECT_EQ(f.exit_code, 0) << f.err;
    EXPECT_EQ(f.out, test::square_gcode()) << "hold " << hold;
    EXPECT_TRUE(f.err.empty()) << f.err;
  }
}

TEST(PrintFilter, ARestrictedPlateIsStoppedBeforeOrWhilePrinting) {
  if (!fs::exists(kPrusaSlicer)) GTEST_SKIP() << "prusa-slicer is not installed";
  const std::string plate = slice(std::string(S3D_EXAMPLES_DIR) + "/print_plate.3mf", "plate.gcode");
  const std::string job = slurp(plate);
  ASSERT_GT(job.size(), 1000000u);

  // The whole job fits the default window (8 MiB): the printer gets nothing.
  auto f = filter({"--db", S3D_DEMO_DB}, plate);
  EXPECT_EQ(f.exit_code, 1) << f.err;
  EXPECT_TRUE(f.out.empty());
  EXPECT_NE(f.err.find("match restricted part demo-gear-hub"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("nothing was passed to the printer"), std::string::npos) << f.err;

  // No window, an early check every 10 layers: the printer got whole lines of the job's start, then
  // the abort G-code, and not the rest.
  f = filter({"--db", S3D_DEMO_DB, "--hold-bytes", "0", "--check-every", "10"}, plate);
  EXPECT_EQ(f.exit_code, 1) << f.err;
  ASSERT_GT(f.out.size(), std::string(kAbort).size());
  const std::string sent = f.out.substr(0, f.out.size() - std::string(kAbort).size());
  EXPECT_EQ(f.out.substr(sent.size()), kAbort);
  EXPECT_GT(sent.size(), 0u);
  EXPECT_LT(sent.size(), job.size() * 3 / 4);
  EXPECT_EQ(job.compare(0, sent.size(), sent), 0);
  EXPECT_EQ(sent.back(), '\n');
  EXPECT_NE(f.err.find("the layers read so far"), std::string::npos) << f.err;
  EXPECT_NE(f.err.find("sent the abort G-code"), std::string::npos) << f.err;

  // A custom abort sequence.
  f = filter({"--db", S3D_DEMO_DB, "--hold-bytes", "0", "--check-every", "10", "--abort-gcode", "M112\\nM84"}, plate);
  EXPECT_EQ(f.exit_code, 1);
  EXPECT_EQ(f.out.substr(f.out.size() - 10), "\nM112\nM84\n");

  // A clean sliced job with no window passes whole.
  const std::string pipe = slice(std::string(S3D_EXAMPLES_DIR) + "/pipe.stl", "pipe.gcode");
  f = filter({"--db", S3D_DEMO_DB, "--hold-bytes", "0"}, pipe);
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(f.out, slurp(pipe));
}

TEST(PrintFilter, InputThatCannotBeScreenedFollowsTheErrorPolicy) {
  const std::string junk(std::string("this is not G-code\x01\x02\x03\xff", 22));
  const std::string in = write_file("junk.gcode", junk);
  auto f = filter({"--db", S3D_DEMO_DB}, in);
  EXPECT_EQ(f.exit_code, 0);
  EXPECT_EQ(f.out, junk);
  EXPECT_NE(f.err.find("could not be screened"), std::string::npos) << f.err;
  f = filter({"--db", S3D_DEMO_DB, "--on-error", "block"}, in);
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_TRUE(f.out.empty());
  EXPECT_NE(f.err.find("--on-error block"), std::string::npos) << f.err;
}

TEST(PrintFilter, ABadDatabaseOrArgumentPassesNothing) {
  const std::string in = write_file("square.gcode", test::square_gcode());
  auto f = filter({"--db", test::temp_path("missing.s3db")}, in);
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_TRUE(f.out.empty());
  EXPECT_NE(f.err.find("missing.s3db"), std::string::npos) << f.err;
  f = filter({"--db", S3D_DEMO_DB, "--hold-bytes", "-5"}, in);
  EXPECT_EQ(f.exit_code, 2);
  EXPECT_TRUE(f.out.empty());
  EXPECT_NE(f.err.find("bad argument: --hold-bytes"), std::string::npos) << f.err;
}

}  // namespace
}  // namespace s3d
