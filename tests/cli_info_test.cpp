// `screen3d info` and `--version`, run as a program (tests/support/cli_runner.h).
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/sha256.h"
#include "engine/version.h"
#include "tests/support/cli_runner.h"

namespace s3d {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using Json = nlohmann::ordered_json;

// A tiny binary STL writer (facet normals left zero; readers recompute what they need).
std::string binary_stl(const std::vector<std::array<float, 3>>& v, const std::vector<std::array<uint32_t, 3>>& t) {
  std::string b(80, '\0');
  const auto put32 = [&b](uint32_t x) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<char>((x >> (8 * i)) & 0xff));
  };
  const auto putf = [&](float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    put32(x);
  };
  put32(static_cast<uint32_t>(t.size()));
  for (const auto& tri : t) {
    for (int i = 0; i < 3; ++i) putf(0.f);
    for (uint32_t i : tri)
      for (float c : v[i]) putf(c);
    b.append(2, '\0');
  }
  return b;
}

// Closed, outward-oriented cube [o, o + a]^3.
std::string cube_stl(float a, std::array<float, 3> o = {0, 0, 0}) {
  std::vector<std::array<float, 3>> v;
  for (int i = 0; i < 8; ++i)
    v.push_back({o[0] + ((i & 1) ? a : 0.f), o[1] + ((i & 2) ? a : 0.f), o[2] + ((i & 4) ? a : 0.f)});
  return binary_stl(v, {{0, 2, 1}, {1, 2, 3}, {4, 5, 6}, {5, 7, 6}, {0, 1, 4}, {1, 5, 4},
                        {2, 6, 3}, {3, 6, 7}, {0, 4, 2}, {2, 4, 6}, {1, 3, 5}, {3, 7, 5}});
}

class CliInfo : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("s3d_cli_info_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p.string();
  }

  fs::path dir_;
};

std::vector<std::string> keys_of(const Json& j) {
  std::vector<std::string> k;
  for (auto it = j.begin(); it != j.end(); ++it) k.push_back(it.key());
  return k;
}

TEST(Sha256, KnownAnswers) {
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex({reinterpret_cast<const uint8_t*>(abc.data()), abc.size()}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_F(CliInfo, JsonGivesContractKeysAndFacts) {
  const std::string bytes = cube_stl(10.f, {-5, 0, 2.5f});
  const std::string path = write("cube.stl", bytes);
  const test::CliResult r = run_cli({"info", "--json", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const Json j = Json::parse(lines[0]);
  EXPECT_EQ(keys_of(j), (std::vector<std::string>{"path", "sha256", "format", "triangles", "vertices", "bodies",
                                                  "area_mm2", "volume_mm3", "aabb", "obb_extents", "watertight",
                                                  "manifold", "degenerate_triangles", "error"}));
  EXPECT_EQ(j["path"], path);
  EXPECT_EQ(j["sha256"], sha256_hex({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  EXPECT_EQ(j["format"], "stl-binary");
  EXPECT_EQ(j["triangles"], 12);
  EXPECT_EQ(j["vertices"], 8);
  EXPECT_EQ(j["bodies"], 1);
  EXPECT_DOUBLE_EQ(j["area_mm2"].get<double>(), 600.0);
  EXPECT_DOUBLE_EQ(j["volume_mm3"].get<double>(), 1000.0);
  EXPECT_EQ(keys_of(j["aabb"]), (std::vector<std::string>{"min", "max"}));
  EXPECT_EQ(j["aabb"]["min"], Json::parse("[-5, 0, 2.5]"));
  EXPECT_EQ(j["aabb"]["max"], Json::parse("[5, 10, 12.5]"));
  ASSERT_EQ(j["obb_extents"].size(), 3u);
  for (const auto& e : j["obb_extents"]) EXPECT_NEAR(e.get<double>(), 10.0, 1e-4);
  EXPECT_EQ(j["watertight"], true);
  EXPECT_EQ(j["manifold"], true);
  EXPECT_EQ(j["degenerate_triangles"], 0);
  EXPECT_TRUE(j["error"].is_null());
}

TEST_F(CliInfo, TextOutputIsAlignedLinesPerFile) {
  const std::string path = write("cube.stl", cube_stl(2.f));
  const test::CliResult r = run_cli({"info", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = r.out_lines();
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], path);
  EXPECT_NE(r.out.find("  format       stl-binary\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  watertight   yes\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  volume       8 mm3\n"), std::string::npos) << r.out;
}

struct BadInputs {
  std::string good, dir, empty, missing, truncated;
};

template <typename Write>
BadInputs make_bad_inputs(const fs::path& dir, Write write) {
  BadInputs b;
  b.good = write("good.stl", cube_stl(3.f));
  b.dir = (dir / "a_folder").string();
  fs::create_directories(b.dir);
  b.empty = write("empty.stl", "");
  b.missing = (dir / "does_not_exist.stl").string();
  const std::string full = cube_stl(3.f);
  b.truncated = write("truncated.stl", full.substr(0, 84 + 50 * 5 + 17));  // header says 12, holds 5.3
  return b;
}

// Each bad input: exactly one stderr line "screen3d: <path>: <reason>", in input order.
void expect_diagnostics(const test::CliResult& r, const std::vector<std::pair<std::string, std::string>>& want) {
  const auto err = r.err_lines();
  ASSERT_EQ(err.size(), want.size()) << r.err;
  for (size_t i = 0; i < want.size(); ++i) {
    const std::string prefix = "screen3d: " + want[i].first + ": ";
    ASSERT_EQ(err[i].rfind(prefix, 0), 0u) << err[i];
    const std::string reason = err[i].substr(prefix.size());
    EXPECT_FALSE(reason.empty()) << err[i];
    EXPECT_NE(reason.find(want[i].second), std::string::npos) << "reason '" << reason << "' lacks '" << want[i].second << "'";
  }
}

TEST_F(CliInfo, BadInputsAreReportedAndGoodOnesStillDescribed) {
  const BadInputs b = make_bad_inputs(dir_, [this](const std::string& n, const std::string& s) { return write(n, s); });
  const test::CliResult r = run_cli({"info", "--json", b.dir, b.good, b.empty, b.missing, b.truncated});
  EXPECT_EQ(r.exit_code, 2);
  expect_diagnostics(r, {{b.dir, "directory"}, {b.empty, "empty"}, {b.missing, "No such file"}, {b.truncated, ""}});

  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 5u) << r.out;
  const std::vector<std::string> order = {b.dir, b.good, b.empty, b.missing, b.truncated};
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json j = Json::parse(lines[i]);
    EXPECT_EQ(j["path"], order[i]);
    if (order[i] == b.good) {
      EXPECT_TRUE(j["error"].is_null());
      EXPECT_EQ(j["triangles"], 12);
      EXPECT_EQ(j["watertight"], true);
      continue;
    }
    EXPECT_EQ(keys_of(j), (std::vector<std::string>{"path", "sha256", "format", "error"})) << lines[i];
    EXPECT_TRUE(j["error"].is_string());
    EXPECT_FALSE(j["error"].get<std::string>().empty());
    EXPECT_FALSE(j.contains("triangles"));
  }
  EXPECT_TRUE(Json::parse(lines[0])["sha256"].is_null());  // directory: nothing read
  EXPECT_EQ(Json::parse(lines[0])["format"], "unknown");
  EXPECT_EQ(Json::parse(lines[2])["sha256"], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_TRUE(Json::parse(lines[4])["sha256"].is_string());  // truncated: bytes were read and hashed
}

TEST_F(CliInfo, TextModeWritesOnlyResultsToStdout) {
  const BadInputs b = make_bad_inputs(dir_, [this](const std::string& n, const std::string& s) { return write(n, s); });
  const test::CliResult r = run_cli({"info", b.truncated, b.missing, b.good, b.empty, b.dir});
  EXPECT_EQ(r.exit_code, 2);
  expect_diagnostics(r, {{b.truncated, ""}, {b.missing, "No such file"}, {b.empty, "empty"}, {b.dir, "directory"}});
  ASSERT_FALSE(r.out_lines().empty());
  EXPECT_EQ(r.out_lines()[0], b.good);
  EXPECT_EQ(r.out.find(b.missing), std::string::npos);
}

TEST_F(CliInfo, LimitsAreSettingsAndReported) {
  const std::string path = write("cube.stl", cube_stl(1.f));
  const test::CliResult bytes = run_cli({"info", "--json", "--max-bytes", "100", path});
  EXPECT_EQ(bytes.exit_code, 2);
  expect_diagnostics(bytes, {{path, "max_input_bytes"}});
  const test::CliResult tris = run_cli({"info", "--json", "--max-triangles", "5", path});
  EXPECT_EQ(tris.exit_code, 2);
  expect_diagnostics(tris, {{path, ""}});
  ASSERT_EQ(tris.out_lines().size(), 1u);
  EXPECT_EQ(Json::parse(tris.out_lines()[0])["format"], "stl-binary");
  const test::CliResult fine = run_cli({"info", "--json", "--max-triangles", "12", "--max-decompressed", "1000", path});
  EXPECT_EQ(fine.exit_code, 0) << fine.err;
}

TEST_F(CliInfo, HostilePathStaysOneValidJsonLine) {
  const std::string path = write("bad\xff\nname.stl", cube_stl(1.f));
  const test::CliResult r = run_cli({"info", "--json", path});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const Json j = Json::parse(lines[0]);
  EXPECT_EQ(j["triangles"], 12);
  // A bad path's diagnostic stays one line too.
  const test::CliResult bad = run_cli({"info", path + "\nmissing"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_EQ(bad.err_lines().size(), 1u) << bad.err;
}

TEST_F(CliInfo, OutputFollowsInputOrder) {
  std::vector<std::string> args = {"info", "--json"};
  for (int i = 0; i < 24; ++i) {
    const std::string n = std::to_string(i);
    if (i % 3 == 1)
      args.push_back((dir_ / ("missing_" + n)).string());
    else
      args.push_back(write("c" + n + ".stl", cube_stl(1.f + static_cast<float>(i))));
  }
  const test::CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 2);
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 24u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const Json j = Json::parse(lines[i]);
    EXPECT_EQ(j["path"], args[i + 2]);
    if (i % 3 != 1) {
      EXPECT_DOUBLE_EQ(j["volume_mm3"].get<double>(), std::pow(1.0 + static_cast<double>(i), 3));
    }
  }
  EXPECT_EQ(r.err_lines().size(), 8u);
}

TEST(Cli, VersionAndUsage) {
  const test::CliResult v = run_cli({"--version"});
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.out, version_line() + "\n");
  {  // "screen3d A.B.C (signature format N)"; no <regex>: gcc 12 warns inside it under the sanitizers
    unsigned a = 0, b = 0, c = 0, n = 0;
    int used = 0;
    const std::string line = version_line();
    EXPECT_EQ(std::sscanf(line.c_str(), "screen3d %u.%u.%u (signature format %u)%n", &a, &b, &c, &n, &used), 4) << line;
    EXPECT_EQ(static_cast<size_t>(used), line.size()) << line;
  }
  EXPECT_EQ(v.err, "");

  const test::CliResult none = run_cli({});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(run_cli({"info"}).exit_code, 2);
  EXPECT_EQ(run_cli({"info", "--no-such-option", "x"}).exit_code, 2);
  EXPECT_EQ(run_cli({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_cli({"info", "--help"}).exit_code, 0);
}

}  // namespace
}  // namespace s3d
