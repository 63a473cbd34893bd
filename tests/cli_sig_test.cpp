// `screen3d sig add|list|remove`, run as a program (tests/support/cli_runner.h).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "engine/sha256.h"
#include "geometry/mesh.h"
#include "geometry/write_mesh.h"
#include "signatures/database.h"
#include "tests/support/cli_runner.h"

namespace s3d {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
constexpr double kPi = 3.14159265358979323846;

Mesh torus(double big_r, double small_r, int nu = 48, int nv = 24) {
  Mesh m;
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      const double u = 2 * kPi * (i + 0.3) / nu, v = 2 * kPi * (j + 0.1) / nv;
      m.vertices.push_back({static_cast<float>((big_r + small_r * std::cos(v)) * std::cos(u) + 0.37),
                            static_cast<float>((big_r + small_r * std::cos(v)) * std::sin(u) - 1.21),
                            static_cast<float>(small_r * std::sin(v) + 2.03)});
    }
  auto idx = [&](int i, int j) { return static_cast<uint32_t>((i % nu) * nv + (j % nv)); };
  for (int i = 0; i < nu; ++i)
    for (int j = 0; j < nv; ++j) {
      m.triangles.push_back({idx(i, j), idx(i + 1, j), idx(i + 1, j + 1)});
      m.triangles.push_back({idx(i, j), idx(i + 1, j + 1), idx(i, j + 1)});
    }
  return m;
}

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

class CliSig : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("s3d_cli_sig_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "refs.s3db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string stl(const std::string& name, const Mesh& m) {
    const std::string p = (dir_ / name).string();
    write_stl_binary(m, p);
    return p;
  }

  test::CliResult add(const std::vector<std::string>& files, const std::string& label = "part",
                      const std::string& category = "receiver") {
    std::vector<std::string> args = {"sig", "add", "--db", db_, "--label", label, "--category", category};
    args.insert(args.end(), files.begin(), files.end());
    return run_cli(args);
  }

  std::vector<nlohmann::json> list_json() {
    const auto r = run_cli({"sig", "list", "--db", db_, "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<nlohmann::json> out;
    for (const auto& line : r.out_lines()) out.push_back(nlohmann::json::parse(line));
    return out;
  }

  fs::path dir_;
  std::string db_;
};

TEST_F(CliSig, AddCreatesDatabaseAndListShowsEntries) {
  const std::string a = stl("a.stl", torus(20.3, 6.1)), b = stl("b.stl", torus(14.2, 3.3));
  // --no-checks: a plain disc of a torus's size reaches review against it (the warning is tested
  // in AddWarnsAboutPlainAndResemblingReferences); here stderr must stay empty.
  const auto r = run_cli({"sig", "add", "--db", db_, "--label", "ring part", "--category", "fire-control",
                          "--severity", "9", "--added-by", "alice", "--no-checks", a, b});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out_lines(), (std::vector<std::string>{"s-000001\t" + a, "s-000002\t" + b}));
  ASSERT_TRUE(fs::exists(db_));

  const auto entries = list_json();
  ASSERT_EQ(entries.size(), 2u);
  const auto bytes = read_all(a);
  const auto& e = entries[0];
  EXPECT_EQ(e["id"], "s-000001");
  EXPECT_EQ(e["label"], "ring part");
  EXPECT_EQ(e["category"], "fire-control");
  EXPECT_EQ(e["severity"], 9);
  EXPECT_EQ(e["added_by"], "alice");
  EXPECT_EQ(e["sha256"], sha256_hex(bytes));
  // "YYYY-MM-DDTHH:MM:SSZ" ('#' a digit). No <regex>: gcc 12 warns inside it under the sanitizers.
  const std::string at = e["added_at"].get<std::string>();
  const std::string shape = "####-##-##T##:##:##Z";
  ASSERT_EQ(at.size(), shape.size()) << at;
  for (size_t i = 0; i < at.size(); ++i)
    EXPECT_TRUE(shape[i] == '#' ? (at[i] >= '0' && at[i] <= '9') : at[i] == shape[i]) << at;
  EXPECT_GT(e["points"].get<int>(), 0);
  EXPECT_LE(e["points"].get<int>(), static_cast<int>(kMaxSamplePoints));
  EXPECT_NE(e["exact_hash"], entries[1]["exact_hash"]);

  const auto text = run_cli({"sig", "list", "--db", db_});
  ASSERT_EQ(text.exit_code, 0);
  ASSERT_EQ(text.out_lines().size(), 2u);
  EXPECT_EQ(text.out_lines()[0].rfind("s-000001", 0), 0u);
  EXPECT_NE(text.out_lines()[0].find(sha256_hex(bytes)), std::string::npos);
  EXPECT_NE(text.out_lines()[0].find("fire-control"), std::string::npos);
  EXPECT_NE(text.out_lines()[0].find("ring part"), std::string::npos);

  // The file is a valid database with the same content.
  const SignatureDb db = SignatureDb::open(db_);
  EXPECT_EQ(db.size(), 2u);
  EXPECT_EQ(db.get(1).meta.severity, 9);
}

TEST_F(CliSig, DuplicateReferencesAreRefusedNamingTheExistingId) {
  const Mesh m = torus(20.3, 6.1);
  const std::string a = stl("a.stl", m);
  ASSERT_EQ(add({a}).exit_code, 0);
  const auto before = read_all(db_);

  // The same file again.
  auto r = add({a}, "again");
  EXPECT_EQ(r.exit_code, 2);
  ASSERT_EQ(r.err_lines().size(), 1u);
  EXPECT_EQ(r.err_lines()[0].rfind("screen3d: " + a + ": ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("s-000001"), std::string::npos);
  EXPECT_EQ(r.out, "");

  // Re-exported: triangles in another order and rotated corners (different bytes, same triangle set).
  Mesh shuffled = m;
  std::mt19937 rng(3);
  std::shuffle(shuffled.triangles.begin(), shuffled.triangles.end(), rng);
  for (Tri& t : shuffled.triangles) std::rotate(t.begin(), t.begin() + rng() % 3, t.end());
  r = add({stl("reexported.stl", shuffled)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("exact hash"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("s-000001"), std::string::npos);

  // Re-posed: mirrored across the plane x = y (exact in float), so only the pose hash sees it.
  Mesh posed = m;
  for (Vec3f& v : posed.vertices) v = {v[1], v[0], v[2]};
  r = add({stl("posed.stl", posed)});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("pose hash"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("s-000001"), std::string::npos);

  EXPECT_EQ(read_all(db_), before);  // refused adds do not touch the database
}

// `sig add-hashes`: files known by their SHA-256 alone, from lists as sha256sum (plain and --tag)
// writes them or bare hashes. Junk lines, the empty file's hash and over-long lines are named by
// line and skipped (exit 2); a hash listed twice, or imported again, is left as it is. A listed file
// of any type -- a CAD source the scan cannot read, an STL -- is restricted by its hash (method
// "sha256"); the same bytes unlisted are not.
TEST_F(CliSig, AddHashesListsFilesOfAnyTypeByTheirSha256) {
  auto write = [&](const std::string& name, const std::string& text) {
    const std::string p = (dir_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  };
  auto hex_of = [](const std::string& path) { return sha256_hex(read_all(path)); };
  const std::string step = write("bolt-carrier.step", "ISO-10303-21;\nHEADER;\nENDSEC;\nEND-ISO-10303-21;\n");
  const std::string other = write("notes.step", "ISO-10303-21;\nanother\n");
  const std::string part = stl("part.stl", torus(20.3, 6.1));
  const std::string bare = write("bare.bin", "listed without a name\n");
  const std::string empty = write("empty.txt", "");
  const std::string list = write("known.sha256",
                                 "# hashes of known files\n\n" + hex_of(step) + "  bolt-carrier.step\n" +
                                     hex_of(part) + " *part.stl\n" + "SHA256 (" + other + ") = " + hex_of(other) +
                                     "\n" + hex_of(bare) + "\r\n" + "not a hash line\n" + hex_of(empty) +
                                     "  empty.txt\n" + hex_of(step) + "  again.step\n" + std::string(70000, 'f') + "\n");
  const auto r = run_cli({"sig", "add-hashes", "--db", db_, "--category", "frame", "--severity", "8", list});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_EQ(r.out_lines(), (std::vector<std::string>{"s-000001\t" + hex_of(step), "s-000002\t" + hex_of(part),
                                                       "s-000003\t" + hex_of(other), "s-000004\t" + hex_of(bare)}));
  EXPECT_NE(r.err.find("screen3d: " + list + ":7: not a SHA-256, SHA-1 or MD5 (64, 40 or 32 hexadecimal digits)\n"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("screen3d: " + list + ":8: the digest of an empty file"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("screen3d: " + list + ":10: line longer than 65536 bytes: not added"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("1 listed file(s) already in the database"), std::string::npos) << r.err;

  const auto entries = list_json();
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0]["label"], "bolt-carrier.step");
  EXPECT_EQ(entries[1]["label"], "part.stl");
  EXPECT_EQ(entries[2]["label"], other);
  EXPECT_EQ(entries[3]["label"], "sha256:" + hex_of(bare).substr(0, 16));
  for (const auto& e : entries) {
    EXPECT_EQ(e["kind"], "sha256");
    EXPECT_EQ(e["points"], 0);
    EXPECT_EQ(e["category"], "frame");
    EXPECT_EQ(e["severity"], 8);
  }
  EXPECT_EQ(reinterpret_cast<const DbHeader*>(read_all(db_).data())->version, 3u);

  // Imported again: nothing to add, nothing wrong.
  const std::string again = write("again.sha256", hex_of(step) + "  bolt-carrier.step\n");
  const auto r2 = run_cli({"sig", "add-hashes", "--db", db_, "--category", "frame", "--label", "carrier", again});
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_EQ(r2.out, "");
  EXPECT_NE(r2.err.find("1 listed file(s) already in the database"), std::string::npos) << r2.err;

  // md5sum and sha1sum lists (and their BSD forms): those files are matched by MD5 or SHA-1, and
  // every input is then hashed so too (the "md5" and "sha1" fields of a result line).
  const std::string by_md5 = write("by-md5.step", "ISO-10303-21;\nlisted by MD5\n");
  const std::string by_sha1 = write("by-sha1.step", "ISO-10303-21;\nlisted by SHA-1\n");
  auto digest = [&](const char* tool, const std::string& path) {
    const std::string out = (dir_ / "digest.txt").string();
    EXPECT_EQ(std::system((std::string(tool) + " '" + path + "' > '" + out + "'").c_str()), 0);
    std::ifstream in(out);
    std::string line;
    std::getline(in, line);
    return line;
  };
  const std::string md5_line = digest("md5sum", by_md5), sha1_line = digest("sha1sum --tag", by_sha1);
  ASSERT_EQ(md5_line.size(), 32 + 2 + by_md5.size()) << md5_line;
  const std::string other_lists = write("other.lst", md5_line + "\n" + sha1_line + "\n");
  const auto r3 = run_cli({"sig", "add-hashes", "--db", db_, "--category", "other", other_lists});
  EXPECT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_EQ(r3.out_lines(), (std::vector<std::string>{"s-000005\t" + md5_line.substr(0, 32),
                                                       "s-000006\t" + sha1_line.substr(sha1_line.size() - 40)}));
  const auto e2 = list_json();
  ASSERT_EQ(e2.size(), 6u);
  EXPECT_EQ(e2[4]["kind"], "md5");
  EXPECT_TRUE(e2[4]["sha256"].is_null());
  EXPECT_EQ(e2[4]["md5"], md5_line.substr(0, 32));
  EXPECT_EQ(e2[5]["kind"], "sha1");
  const auto by_other = run_cli({"scan", "--db", db_, "--json", "--no-isolate", by_md5, by_sha1});
  EXPECT_EQ(by_other.exit_code, 1) << by_other.err;
  ASSERT_EQ(by_other.out_lines().size(), 2u);
  const auto m0 = nlohmann::json::parse(by_other.out_lines()[0]), m1 = nlohmann::json::parse(by_other.out_lines()[1]);
  EXPECT_EQ(m0["verdict"], "restricted");
  EXPECT_EQ(m0["matches"][0]["method"], "md5");
  EXPECT_EQ(m0["md5"], md5_line.substr(0, 32));
  // (The listed files start like STEP files but are not: the STEP reader refuses them.)
  const std::string unread = "not screened by shape (STEP file has no closing END-ISO-10303-21; (cut short?)): ";
  EXPECT_EQ(m0["notes"][0], unread + "matched as a listed file by its MD5");
  EXPECT_EQ(m1["verdict"], "restricted");
  EXPECT_EQ(m1["matches"][0]["method"], "sha1");
  EXPECT_EQ(m1["sha1"], sha1_line.substr(sha1_line.size() - 40));

  const std::string unlisted = write("unlisted.step", "ISO-10303-21;\nnot listed\n");
  const auto scan = run_cli({"scan", "--db", db_, "--json", "--no-isolate", step, part, unlisted});
  EXPECT_EQ(scan.exit_code, 1) << scan.err;
  const auto lines = scan.out_lines();
  ASSERT_EQ(lines.size(), 3u) << scan.out;
  const auto s0 = nlohmann::json::parse(lines[0]), s1 = nlohmann::json::parse(lines[1]), s2 = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(s0["verdict"], "restricted");
  EXPECT_EQ(s0["format"], "step");
  EXPECT_TRUE(s0["error"].is_null());
  ASSERT_EQ(s0["matches"].size(), 1u);
  EXPECT_EQ(s0["matches"][0]["signature"], "s-000001");
  EXPECT_EQ(s0["matches"][0]["method"], "sha256");
  EXPECT_EQ(s0["matches"][0]["category"], "frame");
  EXPECT_EQ(s0["notes"][0], "not screened by shape (STEP file could not be parsed (OpenCASCADE's reader failed)): "
                            "matched as a listed file by its SHA-256");
  EXPECT_EQ(s1["verdict"], "restricted");
  EXPECT_EQ(s1["format"], "stl-binary");
  EXPECT_EQ(s1["matches"][0]["signature"], "s-000002");
  EXPECT_EQ(s1["matches"][0]["method"], "sha256");
  EXPECT_EQ(s2["verdict"], "error");  // a STEP file that cannot be read, and not listed
  EXPECT_TRUE(s2["matches"].empty());
}

TEST_F(CliSig, RemoveNeverReusesIds) {
  ASSERT_EQ(add({stl("a.stl", torus(20.3, 6.1)), stl("b.stl", torus(15.1, 4.4))}).exit_code, 0);
  auto r = run_cli({"sig", "remove", "--db", db_, "s-000002"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "s-000002\n");
  r = run_cli({"sig", "remove", "--db", db_, "s-000002"});
  EXPECT_EQ(r.exit_code, 2);
  ASSERT_EQ(r.err_lines().size(), 1u);
  EXPECT_EQ(r.err_lines()[0], "screen3d: " + db_ + ": unknown signature id s-000002");

  r = add({stl("c.stl", torus(11.7, 2.9))});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("s-000003\t", 0), 0u);
  const auto entries = list_json();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["id"], "s-000001");
  EXPECT_EQ(entries[1]["id"], "s-000003");
}

TEST_F(CliSig, DatabaseDefaultsToEnvironment) {
  ASSERT_EQ(add({stl("a.stl", torus(20.3, 6.1))}).exit_code, 0);
  ::setenv("SCREEN3D_DB", db_.c_str(), 1);
  const auto r = run_cli({"sig", "list", "--json"});
  ::unsetenv("SCREEN3D_DB");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out_lines().size(), 1u);

  const auto none = run_cli({"sig", "list"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_EQ(none.err_lines().size(), 1u);
  EXPECT_NE(none.err.find("SCREEN3D_DB"), std::string::npos);
}

TEST_F(CliSig, BadInputsExitTwoWithOneLineEach) {
  const std::string a = stl("a.stl", torus(20.3, 6.1));
  auto r = add({a}, "x", "weapon");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err_lines().size(), 1u);
  EXPECT_NE(r.err.find("unknown category 'weapon'"), std::string::npos);
  EXPECT_FALSE(fs::exists(db_));

  r = run_cli({"sig", "add", "--db", db_, "--label", "x", "--category", "frame", "--severity", "11", a});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_FALSE(fs::exists(db_));

  // One good file among bad ones: the good one is added, each bad one named, exit 2.
  const std::string junk = (dir_ / "junk.bin").string();
  std::ofstream(junk) << "this is not a mesh";
  r = run_cli({"sig", "add", "--db", db_, "--label", "part", "--category", "receiver", "--no-checks", junk, a,
               (dir_ / "missing.stl").string()});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.out, "s-000001\t" + a + "\n");
  ASSERT_EQ(r.err_lines().size(), 2u) << r.err;
  EXPECT_EQ(r.err_lines()[0].rfind("screen3d: " + junk + ": ", 0), 0u);
  EXPECT_EQ(list_json().size(), 1u);

  // A file that is not a database is reported and never overwritten.
  const std::string not_db = (dir_ / "notes.txt").string();
  std::ofstream(not_db) << "my notes";
  r = run_cli({"sig", "add", "--db", not_db, "--label", "x", "--category", "other", a});
  EXPECT_EQ(r.exit_code, 2);
  ASSERT_EQ(r.err_lines().size(), 1u);
  EXPECT_EQ(r.err_lines()[0], "screen3d: " + not_db + ": not a screen3d signature database");
  const auto kept = read_all(not_db);
  EXPECT_EQ(std::string(kept.begin(), kept.end()), "my notes");
  r = run_cli({"sig", "list", "--db", not_db});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"sig", "remove", "--db", (dir_ / "absent.s3db").string(), "s-000001"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err_lines().size(), 1u);
}

TEST_F(CliSig, ListNeverPrintsControlCharactersFromLabels) {
  ASSERT_EQ(add({stl("a.stl", torus(20.3, 6.1))}, "evil\x1b[31mlabel").exit_code, 0);
  const auto r = run_cli({"sig", "list", "--db", db_});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos);
  EXPECT_NE(r.out.find("evil?[31mlabel"), std::string::npos);
  const auto entries = list_json();  // JSON escapes it instead
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0]["label"], "evil\x1b[31mlabel");
}

}  // namespace
}  // namespace s3d

namespace s3d {
namespace {

// A rod: a plain cylinder of its own size matches it, so sig add warns, names the solid, and adds
// it all the same; --no-checks is silent. A remeshed copy of an entry is named as resembling it.
TEST_F(CliSig, AddWarnsAboutPlainAndResemblingReferences) {
  // A 5 x 60 mm rod of n facets.
  auto make_rod = [](uint32_t n) {
    Mesh rod;
    for (int k = 0; k < 2; ++k)
      for (uint32_t i = 0; i < n; ++i)
        rod.vertices.push_back({static_cast<float>(2.5 * std::cos(2 * kPi * i / n)), static_cast<float>(2.5 * std::sin(2 * kPi * i / n)),
                                static_cast<float>(60.0 * k)});
    rod.vertices.push_back({0, 0, 0});
    rod.vertices.push_back({0, 0, 60});
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t j = (i + 1) % n;
      rod.triangles.push_back({i, j, n + j});
      rod.triangles.push_back({i, n + j, n + i});
      rod.triangles.push_back({2 * n, j, i});
      rod.triangles.push_back({2 * n + 1, n + i, n + j});
    }
    return rod;
  };
  const Mesh rod = make_rod(40);
  const std::string r = stl("rod.stl", rod);
  const auto a = add({r});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(a.out_lines(), (std::vector<std::string>{"s-000001\t" + r}));
  EXPECT_NE(a.err.find(r + ": warning: not distinctive: a plain cylinder"), std::string::npos) << a.err;
  EXPECT_EQ(std::count(a.err.begin(), a.err.end(), '\n'), 1) << a.err;

  const std::string t1 = stl("t1.stl", torus(20.3, 6.1)), t2 = stl("t2.stl", torus(20.3, 6.1, 60, 30));
  const auto quiet = run_cli({"sig", "add", "--db", db_, "--label", "ring", "--category", "other", "--no-checks", t1});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err, "");
  const auto again = add({t2});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find(t2 + ": warning: resembles s-000002 'ring'"), std::string::npos) << again.err;
  const auto entries = list_json();
  ASSERT_EQ(entries.size(), 3u);
  // The checks' plain-look-alike score is stored with the entry; --no-checks leaves it unmeasured.
  EXPECT_GE(entries[0]["plain_match"].get<double>(), 0.8);
  EXPECT_TRUE(entries[1]["plain_match"].is_null());
  EXPECT_GE(entries[2]["plain_match"].get<double>(), 0.0);

  // The rod with 48 facets, turned: the same part but no hash match. It is review, not restricted,
  // because a plain rod of its size scores as high as any copy.
  Mesh turned = make_rod(48);
  for (auto& v : turned.vertices) v = {v[2] * 0.6f + v[0] * 0.8f, v[1], -v[2] * 0.8f + v[0] * 0.6f};
  const std::string tr = stl("turned_rod.stl", turned);
  const auto scan = run_cli({"scan", "--db", db_, "--json", tr});
  ASSERT_EQ(scan.exit_code, 1) << scan.err;
  const auto j = nlohmann::json::parse(scan.out_lines().at(0));
  EXPECT_EQ(j["verdict"], "review") << scan.out;
  ASSERT_FALSE(j["matches"].empty());
  EXPECT_EQ(j["matches"][0]["signature"], "s-000001");
  EXPECT_EQ(j["matches"][0]["method"], "shape");
  EXPECT_EQ(j["matches"][0]["not_distinctive"], true);
  EXPECT_GE(j["matches"][0]["plain_match"].get<double>(), 0.8);
}

}  // namespace
}  // namespace s3d
