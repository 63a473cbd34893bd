// `screen3d gate`, the slicer post-processing hook, run as a program (tests/support/cli_runner.h),
// and through the real prusa-slicer CLI's --post-process when /usr/bin/prusa-slicer is installed.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/eval/gcode_evasion.h"
#include "engine/sha256.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

namespace fs = std::filesystem;
using test::run_cli;

constexpr const char* kPrusaSlicer = "/usr/bin/prusa-slicer";

std::string example(const std::string& name) { return std::string(S3D_EXAMPLES_DIR) + "/" + name; }

// A fresh folder per test.
std::string fresh_dir(const std::string& name) {
  const std::string d = test::temp_path(name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

std::string file_hash(const std::string& path) { return sha256_hex(test::read_bytes(path)); }

// The regular files of a folder whose names end with `suffix`.
std::vector<std::string> files_ending(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.size() >= suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(it->path().string());
  }
  return out;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// The one job the gate quarantined in `dir`: its bytes must be the job's (`before`, their SHA-256);
// its JSON record, or null when there is not exactly one.
nlohmann::json only_quarantined(const std::string& dir, const std::string& before) {
  const auto moved = files_ending(dir + "/screen3d-quarantine", ".quarantined");
  EXPECT_EQ(moved.size(), 1u);
  if (moved.size() != 1) return nullptr;
  EXPECT_EQ(file_hash(moved[0]), before);
  return read_json(moved[0] + ".json");
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// Runs prusa-slicer with `args` (already quoted), output to `log`; its exit status.
int prusa_slicer(const std::string& args, const std::string& log) {
  const int rc = std::system((std::string(kPrusaSlicer) + " " + args + " > " + shell_quote(log) + " 2>&1").c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string slurp(const std::string& path) {
  const auto b = test::read_bytes(path);
  return std::string(b.begin(), b.end());
}

class GateCli : public ::testing::Test {
 protected:
  void SetUp() override { ::unsetenv("SLIC3R_PP_OUTPUT_NAME"); }
  void TearDown() override { ::unsetenv("SLIC3R_PP_OUTPUT_NAME"); }
};

TEST_F(GateCli, CleanHandwrittenGcodeIsLeftByteIdentical) {
  const std::string dir = fresh_dir("clean");
  const std::string g = dir + "/square.gcode";
  write_file(g, test::square_gcode());
  const std::string before = file_hash(g);
  const auto r = run_cli({"gate", "--db", S3D_DEMO_DB, g});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_TRUE(r.err.empty()) << r.err;
  EXPECT_EQ(file_hash(g), before);
  EXPECT_FALSE(fs::exists(dir + "/screen3d-quarantine"));
}

TEST_F(GateCli, UnscreenableFileIsAllowedByDefaultAndQuarantinedWithOnErrorBlock) {
  const std::string dir = fresh_dir("onerror");
  const std::string g = dir + "/garbage.gcode";
  write_file(g, std::string("this is not G-code\x01\x02\x03\xff", 22));
  const std::string before = file_hash(g);

  const auto allow = run_cli({"gate", "--db", S3D_DEMO_DB, g});
  EXPECT_EQ(allow.exit_code, 0);
  EXPECT_TRUE(allow.out.empty());
  ASSERT_EQ(allow.err_lines().size(), 1u) << allow.err;
  EXPECT_NE(allow.err.find("could not be screened"), std::string::npos) << allow.err;
  EXPECT_EQ(file_hash(g), before);

  const auto block = run_cli({"gate", "--db", S3D_DEMO_DB, "--on-error", "block", g});
  EXPECT_EQ(block.exit_code, 2);
  EXPECT_TRUE(block.out.empty());
  EXPECT_NE(block.err.find("screen3d: blocked: "), std::string::npos) << block.err;
  EXPECT_FALSE(fs::exists(g));
  const std::string q = dir + "/screen3d-quarantine";
  EXPECT_EQ(fs::status(q).permissions() & fs::perms::all, fs::perms::owner_all);
  const auto moved = files_ending(q, ".quarantined");
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(fs::path(moved[0]).filename().string().rfind("garbage.gcode.", 0), 0u);
  EXPECT_EQ(file_hash(moved[0]), before);
  const auto j = read_json(moved[0] + ".json");
  EXPECT_EQ(j["gate"]["action"], "quarantined");
  EXPECT_EQ(fs::path(j["gate"]["original"].get<std::string>()), fs::absolute(g));
  EXPECT_TRUE(j["gate"]["final_name"].is_null());
  EXPECT_TRUE(j["error"].is_string());
}

// The gate screens in a worker process: a file that crashes the screening (the workers' test hook
// standing in for a parser crash) or hangs it past --timeout is a file that could not be screened,
// so --on-error decides --
// allowed with a warning by default, quarantined with --on-error block -- instead of an abnormal
// exit the slicer would take as a block. --no-isolate screens in-process (the hook is armed in
// workers only, so that run shows where the screening happened).
TEST_F(GateCli, AFileThatCrashesTheScreeningIsHandledByOnError) {
  const std::string dir = fresh_dir("crash");
  const std::string g = dir + "/square.gcode";
  write_file(g, test::square_gcode());
  const std::string before = file_hash(g);
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "crash:square.gcode");

  const auto allow = run_cli({"gate", "--db", S3D_DEMO_DB, g});
  EXPECT_EQ(allow.exit_code, 0) << allow.err;
  EXPECT_TRUE(allow.out.empty());
  ASSERT_EQ(allow.err_lines().size(), 1u) << allow.err;
  EXPECT_NE(allow.err.find("could not be screened (not screened: the screening process stopped abnormally (signal"),
            std::string::npos) << allow.err;
  EXPECT_NE(allow.err.find("allowed (--on-error allow)"), std::string::npos) << allow.err;
  EXPECT_EQ(file_hash(g), before);

  const auto here = run_cli({"gate", "--no-isolate", "--db", S3D_DEMO_DB, g});
  EXPECT_EQ(here.exit_code, 0);
  EXPECT_TRUE(here.err.empty()) << here.err;  // clean, silent: screened in this process


  const auto block = run_cli({"gate", "--db", S3D_DEMO_DB, "--on-error", "block", g});
  EXPECT_EQ(block.exit_code, 2);
  EXPECT_NE(block.err.find("screen3d: blocked: "), std::string::npos) << block.err;
  EXPECT_FALSE(fs::exists(g));
  const auto j = only_quarantined(dir, before);
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["verdict"], "error");
  EXPECT_EQ(j["gate"]["reason"], "error");
  EXPECT_NE(j["error"].get<std::string>().find("stopped abnormally"), std::string::npos) << j.dump();

  // A screening that hangs is stopped at --timeout and handled the same way (the slicer would
  // otherwise wait forever).
  write_file(g, test::square_gcode());
  const test::ScopedEnv hang("SCREEN3D_TEST_FAULT", "hang:square.gcode");
  const auto t0 = std::chrono::steady_clock::now();
  const auto stopped = run_cli({"gate", "--timeout", "1", "--db", S3D_DEMO_DB, g});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
  EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
  EXPECT_NE(stopped.err.find("could not be screened (not screened: the screening process was stopped after 1 s"),
            std::string::npos) << stopped.err;
  EXPECT_EQ(file_hash(g), before);
}

TEST_F(GateCli, UsageAndDatabaseErrorsExit2AndLeaveTheFile) {
  const std::string dir = fresh_dir("usage");
  const std::string g = dir + "/square.gcode";
  write_file(g, test::square_gcode());
  const std::string before = file_hash(g);
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"gate", "--db", S3D_DEMO_DB},
        std::vector<std::string>{"gate", "--db", S3D_DEMO_DB, g, g},
        std::vector<std::string>{"gate", "--db", S3D_DEMO_DB, "--on-error", "maybe", g},
        std::vector<std::string>{"gate", "--db", dir + "/missing.s3db", g},
        std::vector<std::string>{"gate", "--db", g, g},  // not a database
        std::vector<std::string>{"gate", "--db", S3D_DEMO_DB, dir + "/missing.gcode"},
        std::vector<std::string>{"gate", "--db", S3D_DEMO_DB, dir}}) {
    const auto r = run_cli(args);
    EXPECT_EQ(r.exit_code, 2) << args.back() << ": " << r.err;
    EXPECT_TRUE(r.out.empty());
    EXPECT_FALSE(r.err.empty());
    EXPECT_EQ(file_hash(g), before);
  }
  EXPECT_FALSE(fs::exists(dir + "/screen3d-quarantine"));
}

TEST_F(GateCli, SlicerFinalNameNamesTheFileAndNothingIsOverwritten) {
  const std::string dir = fresh_dir("finalname");
  const std::string final_name = dir + "/out/My Part.gcode";
  ::setenv("SLIC3R_PP_OUTPUT_NAME", final_name.c_str(), 1);
  // Two blocked files within the same second get two names, never one replacing the other.
  std::vector<std::string> hashes;
  for (int i = 0; i < 2; ++i) {
    const std::string g = dir + "/.tmp_" + std::to_string(i) + ".gcode.pp";
    write_file(g, "garbage " + std::to_string(i));
    hashes.push_back(file_hash(g));
    const auto r = run_cli({"gate", "--db", S3D_DEMO_DB, "--on-error", "block", g});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("blocked: " + final_name), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(g));
  }
  const auto moved = files_ending(dir + "/screen3d-quarantine", ".quarantined");
  ASSERT_EQ(moved.size(), 2u);
  std::vector<std::string> got;
  for (const std::string& m : moved) {
    EXPECT_EQ(fs::path(m).filename().string().rfind("My Part.gcode.", 0), 0u) << m;
    got.push_back(file_hash(m));
    EXPECT_EQ(read_json(m + ".json")["gate"]["final_name"], final_name);
  }
  std::sort(got.begin(), got.end());
  std::sort(hashes.begin(), hashes.end());
  EXPECT_EQ(got, hashes);
}

TEST_F(GateCli, FailedQuarantineLeavesTheFileAndStillFails) {
  const std::string dir = fresh_dir("failq");
  const std::string g = dir + "/garbage.gcode";
  write_file(g, "garbage");
  const std::string before = file_hash(g);
  // The quarantine "folder" is a file: the move cannot happen.
  const std::string not_dir = dir + "/plain_file";
  write_file(not_dir, "x");
  auto r = run_cli({"gate", "--db", S3D_DEMO_DB, "--on-error", "block", "--quarantine", not_dir, g});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("NOT quarantined"), std::string::npos) << r.err;
  EXPECT_EQ(file_hash(g), before);
  EXPECT_EQ(slurp(not_dir), "x");

  // The default folder next to the file must not be a link (e.g. planted in a shared temp folder).
  const std::string elsewhere = dir + "/elsewhere";
  fs::create_directories(elsewhere);
  fs::create_directory_symlink(elsewhere, dir + "/screen3d-quarantine");
  r = run_cli({"gate", "--db", S3D_DEMO_DB, "--on-error", "block", g});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("NOT quarantined"), std::string::npos) << r.err;
  EXPECT_EQ(file_hash(g), before);
  EXPECT_TRUE(fs::is_empty(elsewhere));
}

TEST_F(GateCli, CopiesAcrossFileSystemsAndRemovesTheOriginalAfter) {
  const std::string dir = fresh_dir("exdev");
  struct stat a {}, b {};
  if (::stat(dir.c_str(), &a) != 0 || ::stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev)
    GTEST_SKIP() << "no second file system at /dev/shm";
  const std::string q = "/dev/shm/" + fs::path(dir).filename().string() + "_q";
  fs::remove_all(q);
  const std::string g = dir + "/garbage.gcode";
  write_file(g, std::string(3 << 20, 'g'));  // larger than one copy buffer
  const std::string before = file_hash(g);
  const auto r = run_cli({"gate", "--db", S3D_DEMO_DB, "--on-error", "block", "--quarantine", q, g});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_FALSE(fs::exists(g));
  const auto moved = files_ending(q, ".quarantined");
  ASSERT_EQ(moved.size(), 1u);
  EXPECT_EQ(file_hash(moved[0]), before);
  EXPECT_TRUE(files_ending(q, ".partial").empty());
  fs::remove_all(q);
}

// The real slicer: its G-code of the demo plate is restricted (the gear hub), the pipe is clean.
TEST_F(GateCli, RealPrusaSlicerGcodeAndPostProcessHook) {
  if (!fs::exists(kPrusaSlicer)) GTEST_SKIP() << kPrusaSlicer << " is not installed";
  const std::string dir = fresh_dir("slicer");
  const std::string db = S3D_DEMO_DB;

  // 1. Sliced without the hook, then gated by hand.
  const std::string out = dir + "/plate.gcode";
  ASSERT_EQ(prusa_slicer("--export-gcode -o " + shell_quote(out) + " " + shell_quote(example("print_plate.3mf")),
                         dir + "/slice1.log"),
            0)
      << slurp(dir + "/slice1.log");
  ASSERT_TRUE(fs::exists(out));
  const std::string before = file_hash(out);
  const auto r = run_cli({"gate", "--db", db, out});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_TRUE(r.out.empty());
  EXPECT_NE(r.err.find("blocked: " + out + " matches restricted part demo-gear-hub"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));
  const auto j = only_quarantined(dir, before);
  ASSERT_FALSE(j.is_null());
  EXPECT_EQ(j["verdict"], "restricted");
  EXPECT_EQ(j["format"], "gcode");
  EXPECT_EQ(j["sha256"], before);
  EXPECT_EQ(j["matches"][0]["label"], "demo-gear-hub");
  EXPECT_EQ(j["gate"]["action"], "quarantined");

  // 2. The hook: prusa-slicer runs `<hook> '<output path>'` through the shell; non-zero aborts.
  const std::string hook = shell_quote(test::cli_path()) + " gate --db " + shell_quote(db);
  const std::string hook_dir = dir + "/hooked";
  fs::create_directories(hook_dir);
  const std::string out2 = hook_dir + "/plate.gcode";
  const int rc2 = prusa_slicer("--export-gcode --post-process " + shell_quote(hook) + " -o " + shell_quote(out2) + " " +
                                   shell_quote(example("print_plate.3mf")),
                               dir + "/slice2.log");
  const std::string log2 = slurp(dir + "/slice2.log");
  EXPECT_NE(rc2, 0) << log2;
  EXPECT_FALSE(fs::exists(out2)) << log2;
  EXPECT_NE(log2.find("screen3d: blocked: "), std::string::npos) << log2;  // the slicer shows our stderr
  EXPECT_EQ(files_ending(hook_dir + "/screen3d-quarantine", ".quarantined").size(), 1u);

  const std::string out3 = hook_dir + "/pipe.gcode";
  const int rc3 = prusa_slicer("--export-gcode --post-process " + shell_quote(hook) + " -o " + shell_quote(out3) + " " +
                                   shell_quote(example("pipe.stl")),
                               dir + "/slice3.log");
  EXPECT_EQ(rc3, 0) << slurp(dir + "/slice3.log");
  EXPECT_TRUE(fs::exists(out3));
  EXPECT_GT(fs::file_size(out3), 1000u);
  EXPECT_EQ(files_ending(hook_dir + "/screen3d-quarantine", ".quarantined").size(), 1u);  // only the plate
}

// What a skilled user with a RepRapFirmware or Klipper printer can do to sliced G-code without
// touching the shape (bench/eval/gcode_evasion.h, the evaluation's gcode-firmware class): every
// layer's coordinates pre-distorted and undone on the printer by the firmware (G68 rotation and
// M579 scale factors; SAVE_GCODE_STATE + G92 ... RESTORE_GCODE_STATE; Marlin's M852 and Klipper's
// SET_SKEW skew). Read naively, the layers land turned, squeezed, shifted or sheared (clean before
// the reader followed them); the Marlin file (M206 shifts, G5) is the gcode-evasive class's.
TEST_F(GateCli, RealSlicerGcodeUndistortedByTheFirmwareStaysRestricted) {
  if (!fs::exists(kPrusaSlicer)) GTEST_SKIP() << kPrusaSlicer << " is not installed";
  const std::string dir = fresh_dir("firmware_evasion");
  const std::string sliced = dir + "/plate.gcode";  // the gear hub with a pipe and a knob
  ASSERT_EQ(prusa_slicer("--export-gcode -o " + shell_quote(sliced) + " " + shell_quote(example("print_plate.3mf")),
                         dir + "/slice.log"),
            0)
      << slurp(dir + "/slice.log");
  const std::string text = slurp(sliced);
  const auto plain = run_cli({"scan", "--json", "--db", S3D_DEMO_DB, sliced});
  ASSERT_EQ(plain.out_lines().size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(plain.out_lines()[0])["verdict"], "restricted") << plain.out;
  const char* names[5] = {"marlin", "reprap", "klipper", "marlin_skew", "klipper_skew"};
  const char* note_words[5] = {nullptr, "G68", nullptr, "M852", "SET_SKEW"};
  const eval::Firmware firmwares[5] = {eval::Firmware::kRepRap, eval::Firmware::kRepRap, eval::Firmware::kKlipper,
                                       eval::Firmware::kMarlinSkew, eval::Firmware::kKlipperSkew};
  for (int kind = 0; kind < 5; ++kind) {
    const std::string path = dir + "/" + names[kind] + ".gcode";
    const std::string evasive = kind == 0 ? eval::evade_gcode_marlin(text, 7) : eval::evade_gcode_firmware(text, firmwares[kind], 7);
    ASSERT_NE(evasive, text);
    write_file(path, evasive);
    const auto r = run_cli({"scan", "--json", "--db", S3D_DEMO_DB, path});
    EXPECT_EQ(r.exit_code, 1) << names[kind] << r.err;
    ASSERT_EQ(r.out_lines().size(), 1u) << names[kind];
    const auto j = nlohmann::json::parse(r.out_lines()[0]);
    EXPECT_EQ(j["verdict"], "restricted") << names[kind] << " " << r.out;
    if (note_words[kind]) {
      ASSERT_TRUE(j.contains("notes")) << names[kind];
      EXPECT_NE(j["notes"][0].get<std::string>().find(note_words[kind]), std::string::npos) << j["notes"];
    }
  }
}

}  // namespace
}  // namespace s3d
