// The demo database against the bundled examples, through the engine API and the CLI contract.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <archive.h>
#include <archive_entry.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <span>
#include <thread>

#include "engine/archive.h"
#include "engine/scan.h"
#include "engine/sha256.h"
#include "geometry/load.h"
#include "signatures/database.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

const Engine& demo_engine() {
  static const std::unique_ptr<Engine> e = Engine::from_database(S3D_DEMO_DB);
  return *e;
}
std::string example(const std::string& name) { return std::string(S3D_EXAMPLES_DIR) + "/" + name; }

#define EXPECT_VERDICT(file, expected)                                                           \
  do {                                                                                          \
    const ScanResult r_ = demo_engine().scan_file(example(file));                               \
    EXPECT_EQ(r_.verdict, expected) << file << ": " << verdict_name(r_.verdict) << " score " << r_.score \
                                   << " " << r_.error;                                          \
  } while (0)
#define EXPECT_RESTRICTED(file) EXPECT_VERDICT(file, Verdict::kRestricted)
#define EXPECT_REVIEW(file) EXPECT_VERDICT(file, Verdict::kReview)
#define EXPECT_CLEAN(file) EXPECT_VERDICT(file, Verdict::kClean)

TEST(DemoDatabase, ExamplesGetTheirDocumentedVerdicts) {
  EXPECT_RESTRICTED("bracket_reposed.stl");
  EXPECT_RESTRICTED("print_plate.3mf");
  EXPECT_REVIEW("bracket_70pct.obj");
  EXPECT_CLEAN("pipe.stl");
  EXPECT_CLEAN("gear_30t.stl");
  EXPECT_VERDICT("truncated.stl", Verdict::kError);
}

TEST(DemoDatabase, EvidenceNamesThePartAndItsPose) {
  const ScanResult r = demo_engine().scan_file(example("bracket_reposed.stl"));
  ASSERT_FALSE(r.matches.empty());
  EXPECT_EQ(r.matches[0].label, "demo-bracket");
  EXPECT_NEAR(r.matches[0].scale, 1.04, 0.03);
  EXPECT_FALSE(r.matches[0].mirrored);
  EXPECT_EQ(r.sha256.size(), 64u);
  const ScanResult p = demo_engine().scan_file(example("print_plate.3mf"));
  ASSERT_FALSE(p.matches.empty());
  EXPECT_EQ(p.matches[0].label, "demo-gear-hub");
  EXPECT_EQ(p.bodies, 3u);
  ASSERT_EQ(p.matches[0].bodies.size(), 1u);  // the hub alone, not the pipe and knob beside it
}

// A part exported in inches (or metres) matches nothing at its own size; slicers offer to convert it,
// so it is tried at those unit factors: review, with a note and the file's own scale.
TEST(DemoDatabase, APartInOtherUnitsIsReviewWithANote) {
  const Mesh part = load_model(test::read_bytes(example("bracket_reposed.stl")), {}).mesh;
  for (const double factor : {1 / 25.4, 25.4, 0.001}) {
    Mesh m = part;
    for (Vec3f& v : m.vertices)
      for (float& c : v) c = static_cast<float>(c * factor);
    const ScanResult r = demo_engine().scan_mesh(m, "bracket_in_other_units.stl");
    EXPECT_EQ(r.verdict, Verdict::kReview) << factor;
    ASSERT_FALSE(r.matches.empty()) << factor;
    EXPECT_EQ(r.matches[0].label, "demo-bracket");
    EXPECT_NEAR(r.matches[0].scale / factor, 1.04, 0.03) << factor;
    ASSERT_EQ(r.notes.size(), 1u) << factor;
    EXPECT_NE(r.notes[0].find("units converted"), std::string::npos) << r.notes[0];
  }
  // Ten times (centimetres) is not tried: ordinary parts a tenth of a reference's size are common.
  Mesh ten = part;
  for (Vec3f& v : ten.vertices)
    for (float& c : v) c *= 10.0f;
  const ScanResult r = demo_engine().scan_mesh(ten, "bracket_x10.stl");
  EXPECT_EQ(r.verdict, Verdict::kClean);
  EXPECT_TRUE(r.notes.empty());
}

// A G-code text of a tube `layers` layers tall (a 96-gon of radius 9 mm, two perimeters): plain
// enough to screen clean, long enough to take a while.
std::string tall_tube_gcode(int layers) {
  std::string g = "G21\nG90\nM83\n";
  char line[96];
  for (int l = 1; l <= layers; ++l) {
    std::snprintf(line, sizeof line, "G1 Z%.2f F600\n", 0.2 * l);
    g += line;
    for (const double r : {9.0, 8.55}) {
      for (int i = 0; i <= 96; ++i) {
        const double a = 2 * 3.14159265358979 * i / 96;
        std::snprintf(line, sizeof line, "G1 X%.3f Y%.3f E%.4f\n", 100 + r * std::cos(a), 100 + r * std::sin(a), i ? 0.03 : 0.0);
        g += line;
      }
    }
  }
  return g;
}

// Limits::max_seconds and a cancel flag stop a scan between steps with an error result that says
// why: at once when already past, and part-way through a long G-code when another thread cancels.
// File-hash signatures (sig add-hashes) among shape ones: a listed file is restricted by its
// SHA-256 whatever it holds, evidence indices still name the right entries of the combined list, a
// listed archive gets a line of its own before its members, and use_hashes off turns listing off.
TEST(ListedFiles, ARestrictedListedFileAmongShapeSignatures) {
  std::vector<Signature> sigs = load_contents(SignatureDb::open(S3D_DEMO_DB)).entries;
  const std::string zip = test::temp_path("listed.zip");
  test::write_zip(zip, {{"inside/pipe.stl", test::read_bytes(example("pipe.stl"))}, {"readme.txt", {'h', 'i'}}});
  for (const std::string& path : {example("pipe.stl"), zip}) {
    Signature listed;
    listed.meta.listed = ListedHash::kSha256;
    listed.meta.id = "s-09999" + std::to_string(sigs.size() % 10);
    listed.meta.label = "listed " + path.substr(path.rfind('/') + 1);
    listed.meta.category = Category::kFrame;
    listed.meta.sha256 = sha256(test::read_bytes(path));
    sigs.insert(sigs.begin(), listed);  // first: the shape entries' indices move up
  }
  const Engine engine(sigs);
  EXPECT_EQ(engine.signature_count(), sigs.size());

  const ScanResult pipe = engine.scan_file(example("pipe.stl"));  // clean by shape (DemoDatabase tests)
  EXPECT_EQ(pipe.verdict, Verdict::kRestricted);
  ASSERT_FALSE(pipe.matches.empty());
  EXPECT_EQ(pipe.matches[0].method, "sha256");
  EXPECT_EQ(pipe.matches[0].label, "listed pipe.stl");
  EXPECT_EQ(pipe.matches[0].signature_index, 1u);
  EXPECT_TRUE(pipe.error.empty());

  const ScanResult bracket = engine.scan_file(example("bracket_reposed.stl"));
  EXPECT_EQ(bracket.verdict, Verdict::kRestricted);
  ASSERT_FALSE(bracket.matches.empty());
  EXPECT_EQ(bracket.matches[0].method, "shape");
  for (const MatchEvidence& m : bracket.matches) {
    ASSERT_LT(m.signature_index, sigs.size());
    EXPECT_EQ(sigs[m.signature_index].meta.label, m.label);
    EXPECT_EQ(sigs[m.signature_index].meta.listed, ListedHash::kNone);
  }

  std::vector<ScanResult> out;
  scan_expanding_archives(engine, test::read_bytes(zip), "listed.zip", out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].path, "listed.zip");
  EXPECT_EQ(out[0].verdict, Verdict::kRestricted);
  EXPECT_EQ(out[0].format, Format::kZip);
  EXPECT_EQ(out[0].matches.at(0).label, "listed " + zip.substr(zip.rfind('/') + 1));
  EXPECT_EQ(out[1].path, "listed.zip!/inside/pipe.stl");
  EXPECT_EQ(out[1].verdict, Verdict::kRestricted);  // the member's own bytes are listed too
  EXPECT_EQ(out[2].path, "listed.zip!/readme.txt");
  EXPECT_EQ(out[2].verdict, Verdict::kSkipped);

  ScanSettings no_hashes;
  no_hashes.match.use_hashes = false;
  const Engine plain(sigs, no_hashes);
  EXPECT_EQ(plain.scan_file(example("pipe.stl")).verdict, Verdict::kClean);
  out.clear();
  scan_expanding_archives(plain, test::read_bytes(zip), "listed.zip", out);
  EXPECT_EQ(out.size(), 2u);  // members only
}

TEST(ScanLimits, ATimeLimitOrACancelRequestEndsTheScanWithAnError) {
  ScanSettings tight;
  tight.limits.max_seconds = 1e-6;
  const auto limited = Engine::from_database(S3D_DEMO_DB, tight);
  const ScanResult r = limited->scan_file(example("bracket_reposed.stl"));
  EXPECT_EQ(r.verdict, Verdict::kError);
  EXPECT_EQ(r.error, "not screened: the time limit of 1e-06 s per file was reached (max_seconds)");
  EXPECT_TRUE(r.matches.empty());
  EXPECT_EQ(demo_engine().scan_file(example("bracket_reposed.stl")).verdict, Verdict::kRestricted);

  // The limit is checked while the file is hashed and read, not only before matching: a file that
  // cannot be read gets the time-limit error, not its read error.
  const ScanResult t = limited->scan_file(example("truncated.stl"));
  EXPECT_EQ(t.error, "not screened: the time limit of 1e-06 s per file was reached (max_seconds)");
  EXPECT_EQ(t.sha256, "");
  EXPECT_NE(demo_engine().scan_file(example("truncated.stl")).error.find("but the file has"), std::string::npos);

  std::atomic<bool> cancel{true};
  const ScanResult c = demo_engine().scan_file(example("bracket_reposed.stl"), &cancel);
  EXPECT_EQ(c.verdict, Verdict::kError);
  EXPECT_EQ(c.error, "not screened: cancelled");

  // Part-way: a G-code that takes a while, cancelled from another thread after a quarter of its time.
  const std::string g = tall_tube_gcode(4000);
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(g.data()), g.size());
  const ScanResult full = demo_engine().scan_bytes(bytes, "tube.gcode");
  ASSERT_EQ(full.verdict, Verdict::kClean) << full.error;
  std::printf("uncancelled: %.0f ms\n", full.elapsed_ms);
  if (full.elapsed_ms < 200) GTEST_SKIP() << "the G-code screens in " << full.elapsed_ms << " ms: too fast to cancel part-way";
  std::atomic<bool> later{false};
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(full.elapsed_ms / 4));
    later = true;
  });
  const ScanResult part = demo_engine().scan_bytes(bytes, "tube.gcode", {}, &later);
  canceller.join();
  EXPECT_EQ(part.verdict, Verdict::kError);
  EXPECT_EQ(part.error, "not screened: cancelled");
  EXPECT_LT(part.elapsed_ms, full.elapsed_ms * 0.75) << "full " << full.elapsed_ms << " ms";
}

TEST(ScanCli, MaxSecondsReachesTheWorkersToo) {
  // One file and several (workers, which get the option from their parent).
  const auto one = test::run_cli({"scan", "--db", S3D_DEMO_DB, "--max-seconds", "1e-6", example("pipe.stl")});
  EXPECT_EQ(one.exit_code, 2);
  EXPECT_NE(one.err.find("pipe.stl: not screened: the time limit of 1e-06 s per file was reached"), std::string::npos) << one.err;
  const auto two = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, "--max-seconds", "1e-6", example("pipe.stl"),
                                  example("bracket_reposed.stl")});
  EXPECT_EQ(two.exit_code, 2) << two.err;
  for (const auto& line : two.out_lines()) EXPECT_NE(line.find("the time limit of 1e-06 s"), std::string::npos) << line;
  EXPECT_EQ(two.out_lines().size(), 2u);
  EXPECT_EQ(test::run_cli({"scan", "--db", S3D_DEMO_DB, "--max-seconds", "-1", example("pipe.stl")}).exit_code, 2);
}

TEST(ScanCli, JsonLinesFollowTheContractAndExitCodes) {
  auto r = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, example("pipe.stl"), example("bracket_reposed.stl"),
                          example("truncated.stl")});
  EXPECT_EQ(r.exit_code, 1);  // a match wins over an error
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 3u);
  const auto j0 = nlohmann::json::parse(lines[0]);
  for (const char* key : {"path", "sha256", "format", "verdict", "score", "bodies", "matches", "error", "elapsed_ms"})
    EXPECT_TRUE(j0.contains(key)) << key;
  EXPECT_EQ(j0["verdict"], "clean");
  const auto j1 = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j1["verdict"], "restricted");
  for (const char* key : {"signature", "label", "category", "score", "coverage", "scale", "mirrored", "bodies"})
    EXPECT_TRUE(j1["matches"][0].contains(key)) << key;
  const auto j2 = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(j2["verdict"], "error");
  EXPECT_TRUE(j2["error"].is_string());
  ASSERT_EQ(r.err_lines().size(), 1u);
  EXPECT_NE(r.err_lines()[0].find("truncated.stl"), std::string::npos);

  auto clean = test::run_cli({"scan", "--db", S3D_DEMO_DB, example("pipe.stl")});
  EXPECT_EQ(clean.exit_code, 0);
  auto bad = test::run_cli({"scan", "--db", S3D_DEMO_DB, example("truncated.stl")});
  EXPECT_EQ(bad.exit_code, 2);
  auto nodb = test::run_cli({"scan", "--db", "/nonexistent/x.s3db", example("pipe.stl")});
  EXPECT_EQ(nodb.exit_code, 2);
}

TEST(ScanCli, ZipMembersAreScannedAndNamed) {
  const auto dir = std::filesystem::temp_directory_path() / "s3d_scan_zip";
  std::filesystem::create_directories(dir);
  const std::string zip = (dir / "jobs.zip").string();
  {
    archive* a = archive_write_new();
    archive_write_set_format_zip(a);
    ASSERT_EQ(archive_write_open_filename(a, zip.c_str()), ARCHIVE_OK);
    for (const char* name : {"pipe.stl", "bracket_reposed.stl"}) {
      std::ifstream f(example(name), std::ios::binary);
      const std::string bytes{std::istreambuf_iterator<char>(f), {}};
      archive_entry* e = archive_entry_new();
      archive_entry_set_pathname(e, (std::string("inner/") + name).c_str());
      archive_entry_set_size(e, static_cast<la_int64_t>(bytes.size()));
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_perm(e, 0644);
      archive_write_header(a, e);
      archive_write_data(a, bytes.data(), bytes.size());
      archive_entry_free(e);
    }
    archive_write_close(a);
    archive_write_free(a);
  }
  auto r = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, zip});
  EXPECT_EQ(r.exit_code, 1);
  const auto lines = r.out_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(nlohmann::json::parse(lines[0])["path"], zip + "!/inner/pipe.stl");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["verdict"], "restricted");
  // --recursive walks folders; without it a folder is an error.
  auto nr = test::run_cli({"scan", "--db", S3D_DEMO_DB, dir.string()});
  EXPECT_EQ(nr.exit_code, 2);
  auto rec = test::run_cli({"scan", "--recursive", "--json", "--db", S3D_DEMO_DB, dir.string()});
  EXPECT_EQ(rec.exit_code, 1);
  EXPECT_EQ(rec.out_lines().size(), 2u);
  std::filesystem::remove_all(dir);
}

// What an evader might try on the container rather than the shape: a binary STL whose header count
// is edited (slicers read it by its size, so do we, with a note), and content we cannot read under a
// name printers take as 3D data (an error for the gateway's policy, not "skipped: not a 3D file").
TEST(ScanCli, EditedStlHeaderAndUnreadable3dNamesAreNotPassedAsSkipped) {
  const std::string dir = test::temp_path("container_evasion");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto write = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    const std::string path = dir + "/" + name;
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(bytes.size()));
    return path;
  };
  std::vector<uint8_t> edited = test::read_bytes(example("bracket_reposed.stl"));
  ASSERT_GT(edited.size(), 84u);
  for (int i = 80; i < 84; ++i) edited[static_cast<size_t>(i)] = 0;  // "0 triangles"
  std::vector<uint8_t> junk(134, 0);
  junk[80] = junk[81] = junk[82] = junk[83] = 0xff;
  const std::string stl = write("edited.stl", edited);
  const std::string junk_stl = write("junk.stl", junk);
  const std::string junk_gcode = write("junk.gcode", junk);
  const std::string junk_step = write("junk.step", junk);
  const std::string junk_bin = write("junk.bin", junk);

  auto r = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, stl});
  EXPECT_EQ(r.exit_code, 1);
  ASSERT_EQ(r.out_lines().size(), 1u);
  const auto j = nlohmann::json::parse(r.out_lines()[0]);
  EXPECT_EQ(j["verdict"], "restricted");
  ASSERT_TRUE(j.contains("notes"));
  EXPECT_NE(j["notes"][0].get<std::string>().find("declares 0 triangles"), std::string::npos) << j["notes"];
  // A well-formed file's line has no "notes" field (the contract's lines are unchanged).
  const auto clean = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, example("bracket_reposed.stl")});
  ASSERT_EQ(clean.out_lines().size(), 1u);
  EXPECT_FALSE(nlohmann::json::parse(clean.out_lines()[0]).contains("notes"));

  for (const std::string& named_3d : {junk_stl, junk_gcode, junk_step}) {
    auto e = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, named_3d});
    EXPECT_EQ(e.exit_code, 2) << named_3d;
    ASSERT_EQ(e.out_lines().size(), 1u);
    const auto je = nlohmann::json::parse(e.out_lines()[0]);
    EXPECT_EQ(je["verdict"], "error") << named_3d;
    EXPECT_NE(je["error"].get<std::string>().find("a 3D file type"), std::string::npos) << je["error"];
  }
  auto s = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, junk_bin});
  EXPECT_EQ(s.exit_code, 0);
  ASSERT_EQ(s.out_lines().size(), 1u);
  EXPECT_EQ(nlohmann::json::parse(s.out_lines()[0])["verdict"], "skipped");
  std::filesystem::remove_all(dir);
}

// The examples copied to a folder of their own (the isolation tests name files by their ends).
std::string examples_folder() {
  const std::string dir = test::temp_path("examples");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  for (const auto& e : std::filesystem::directory_iterator(S3D_EXAMPLES_DIR))
    std::filesystem::copy_file(e.path(), std::filesystem::path(dir) / e.path().filename());
  return dir;
}

// path -> (verdict, score) of each line, in order.
std::vector<std::pair<std::string, std::string>> verdicts(const test::CliResult& r) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& l : r.out_lines()) {
    const auto j = nlohmann::json::parse(l);
    out.emplace_back(j["path"].get<std::string>(), j["verdict"].get<std::string>() + " " + j["score"].dump());
  }
  return out;
}

// Several files are screened in a worker process (--isolate, the default for more than one file):
// the same results in the same order and the same exit status as in-process (--no-isolate); a file
// that crashes its process (the workers' test hook standing in for a parser crash) becomes an error
// result naming the reason, and every other file is still screened.
TEST(ScanCli, IsolatedScanSurvivesAFileThatCrashesTheParser) {
  const std::string dir = examples_folder();
  const auto plain = test::run_cli({"scan", "-r", "--json", "--no-isolate", "--db", S3D_DEMO_DB, dir});
  const auto iso = test::run_cli({"scan", "-r", "--json", "--isolate", "--db", S3D_DEMO_DB, dir});
  EXPECT_EQ(iso.exit_code, plain.exit_code);
  EXPECT_EQ(plain.exit_code, 1);
  const auto expected = verdicts(plain);
  ASSERT_EQ(expected.size(), 6u) << plain.out;
  EXPECT_EQ(verdicts(iso), expected);
  EXPECT_EQ(test::run_cli({"scan", "--isolate", "--no-isolate", "--db", S3D_DEMO_DB, dir}).exit_code, 2);
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "crash:gear_30t.stl");
  const auto crash = test::run_cli({"scan", "-r", "--json", "--threads", "2", "--db", S3D_DEMO_DB, dir});  // no option
  EXPECT_EQ(crash.exit_code, 1) << crash.err;  // the matches still win over the error
  const auto got = verdicts(crash);
  ASSERT_EQ(got.size(), expected.size()) << crash.out;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, expected[i].first);
    if (got[i].first.ends_with("gear_30t.stl"))
      EXPECT_EQ(got[i].second, "error 0.0");
    else
      EXPECT_EQ(got[i].second, expected[i].second) << got[i].first;
  }
  EXPECT_NE(crash.err.find("gear_30t.stl: not screened: the screening process stopped abnormally (signal"),
            std::string::npos) << crash.err;
  EXPECT_EQ(verdicts(test::run_cli({"scan", "-r", "--json", "--isolate", "--db", S3D_DEMO_DB, dir})), got);
  // In-process the same fault would end the run: the hook is armed in workers only, so these runs
  // show where the screening happened. --no-isolate screens in-process; a single file is isolated
  // by default too (a gateway's one job that crashes a parser gets an error result, exit 2).
  EXPECT_EQ(verdicts(test::run_cli({"scan", "-r", "--json", "--no-isolate", "--db", S3D_DEMO_DB, dir})), expected);
  const auto one = test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, dir + "/gear_30t.stl"});
  EXPECT_EQ(one.exit_code, 2) << one.err;
  ASSERT_EQ(verdicts(one).size(), 1u) << one.out;
  EXPECT_EQ(verdicts(one)[0].second, "error 0.0");
  EXPECT_NE(one.err.find("gear_30t.stl: not screened: the screening process stopped abnormally (signal"),
            std::string::npos) << one.err;
  const auto one_iso = test::run_cli({"scan", "--json", "--isolate", "--db", S3D_DEMO_DB, dir + "/gear_30t.stl"});
  EXPECT_EQ(one_iso.exit_code, 2) << one_iso.err;
  const auto one_here = test::run_cli({"scan", "--json", "--no-isolate", "--db", S3D_DEMO_DB, dir + "/gear_30t.stl"});
  EXPECT_EQ(one_here.exit_code, 0) << one_here.err;
}

// --files-from: paths from a list (one per line, or NUL-separated with --null; - is stdin), screened
// after the PATH arguments, in list order; a listed path that is missing is an error result; no
// paths at all is an error.
TEST(ScanCli, FilesFromAListNewlineOrNulSeparatedOrStdin) {
  const std::string dir = examples_folder();
  std::filesystem::copy_file(dir + "/pipe.stl", dir + "/my pipe.stl");
  const std::vector<std::string> listed = {dir + "/bracket_reposed.stl", dir + "/my pipe.stl", dir + "/missing.stl",
                                           dir + "/gear_30t.stl"};
  const std::vector<std::string> expected = {"restricted", "clean", "error", "clean"};
  auto check = [&](const test::CliResult& r, size_t skip_first) {
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto lines = r.out_lines();
    ASSERT_EQ(lines.size(), skip_first + listed.size()) << r.out;
    for (size_t i = 0; i < listed.size(); ++i) {
      const auto j = nlohmann::json::parse(lines[skip_first + i]);
      EXPECT_EQ(j["path"], listed[i]);
      EXPECT_EQ(j["verdict"], expected[i]) << listed[i];
    }
  };
  const std::string nl_list = test::temp_path("list.txt"), nul_list = test::temp_path("list0");
  {
    std::ofstream a(nl_list, std::ios::binary), b(nul_list, std::ios::binary);
    for (const auto& p : listed) {
      a << p << "\r\n\n";  // CRLF line ends and an empty line are taken in stride
      b << p << '\0';
    }
  }
  check(test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, "--files-from", nl_list}), 0);
  check(test::run_cli({"scan", "--json", "--db", S3D_DEMO_DB, "--files-from", nul_list, "--null", dir + "/truncated.stl"}), 1);
  const std::string out = test::temp_path("stdin.out");
  const std::string cmd = std::string(S3D_CLI_PATH) + " scan --json --no-isolate --db " + S3D_DEMO_DB + " --files-from - < " + nl_list + " > " + out;
  EXPECT_EQ(WEXITSTATUS(std::system(cmd.c_str())), 1);
  test::CliResult from_stdin;
  const auto bytes = test::read_bytes(out);
  from_stdin.exit_code = 1;
  from_stdin.out.assign(bytes.begin(), bytes.end());
  check(from_stdin, 0);
  const auto none = test::run_cli({"scan", "--db", S3D_DEMO_DB});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("no files to screen"), std::string::npos) << none.err;
  // An empty list, like an empty folder with -r, is nothing to screen and nothing wrong.
  const std::string empty_list = test::temp_path("empty.txt");
  std::ofstream(empty_list).close();
  const auto empty = test::run_cli({"scan", "--db", S3D_DEMO_DB, "--files-from", empty_list});
  EXPECT_EQ(empty.exit_code, 0) << empty.err;
  EXPECT_TRUE(empty.out.empty());
  const auto missing = test::run_cli({"scan", "--db", S3D_DEMO_DB, "--files-from", test::temp_path("nope")});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("cannot read the file list"), std::string::npos) << missing.err;
}

// A file whose screening allocates far more than the worker's data cap (the hook allocates 1 GiB,
// untouched) is an error result naming the cap; the other files are screened; without a cap the
// same allocation succeeds and the file is screened as usual.
TEST(ScanCli, IsolatedWorkersCapTheirMemory) {
  if (test::kSanitizerBuild) GTEST_SKIP() << "no memory cap in sanitizer builds";
  const std::string dir = examples_folder();
  const auto plain = verdicts(test::run_cli({"scan", "-r", "--json", "--db", S3D_DEMO_DB, dir}));
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "alloc:pipe.stl");
  const auto capped = test::run_cli({"scan", "-r", "--json", "--isolate", "--worker-memory", "512", "--db", S3D_DEMO_DB, dir});
  EXPECT_EQ(capped.exit_code, 1) << capped.err;
  const auto got = verdicts(capped);
  ASSERT_EQ(got.size(), plain.size()) << capped.out;
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].first, plain[i].first);
    EXPECT_EQ(got[i].second, got[i].first.ends_with("pipe.stl") ? "error 0.0" : plain[i].second) << got[i].first;
  }
  EXPECT_NE(capped.err.find("pipe.stl: not screened: it needs more memory than the worker's cap of 512 MiB"),
            std::string::npos) << capped.err;
  const auto uncapped = test::run_cli({"scan", "-r", "--json", "--isolate", "--worker-memory", "0", "--db", S3D_DEMO_DB, dir});
  EXPECT_EQ(verdicts(uncapped), plain) << uncapped.err;
}

// A file on which the parser never returns: --stall-timeout stops the worker, the file is reported,
// the others are screened.
TEST(ScanCli, IsolatedScanStopsAFileThatHangsTheParser) {
  const std::string dir = examples_folder();
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "hang:pipe.stl");
  const auto r = test::run_cli({"scan", "-r", "--json", "--isolate", "--stall-timeout", "1", "--db", S3D_DEMO_DB, dir},
                               std::chrono::seconds(60));
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 1);
  const auto got = verdicts(r);
  ASSERT_EQ(got.size(), 6u) << r.out;
  EXPECT_TRUE(got[3].first.ends_with("pipe.stl"));
  EXPECT_EQ(got[3].second, "error 0.0");
  EXPECT_NE(r.err.find("pipe.stl: not screened: the screening process was stopped after 1 s without progress"),
            std::string::npos) << r.err;
}

}  // namespace
}  // namespace s3d
