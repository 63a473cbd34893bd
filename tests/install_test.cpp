// `cmake --install` (cmake/install.cmake): the installed tree, moved away from where it was installed,
// works on its own -- programs, the demo database, the OpenCASCADE reader process found from the
// program and from libscreen3d.so (never the build tree's: that one is used only by programs
// running from the build tree), and the C API built against the installed header and library
// with pkg-config, as a printer vendor's host program would be.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/cad_parts.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

TEST(Install, TheInstalledTreeWorksOnItsOwnWhereverItIsMoved) {
  namespace fs = std::filesystem;
  const std::string work = test::temp_path("install");
  fs::remove_all(work);
  fs::create_directories(work);
  const auto inst = test::run_program(S3D_CMAKE_COMMAND, {"--install", S3D_BUILD_DIR, "--prefix", work + "/first"},
                                      std::chrono::seconds(300));
  ASSERT_EQ(inst.exit_code, 0) << inst.out << inst.err;
  const std::string p = work + "/moved";
  fs::rename(work + "/first", p);  // relocatable: nothing may point back to the prefix it was installed in
  for (const char* f : {"bin/screen3d", "bin/screen3d-image", "bin/screen3d-queue", "bin/screen3d-report",
                        "bin/screen3d-print-filter", "lib/libscreen3d.so", "include/screen3d/s3d.h",
                        "lib/pkgconfig/screen3d.pc", "libexec/screen3d/screen3d-cad-reader", "share/screen3d/demo.s3db",
                        "share/doc/screen3d/README.md"})
    EXPECT_TRUE(fs::exists(p + "/" + f)) << f;

  const std::string db = p + "/share/screen3d/demo.s3db";
  const std::string step = test::write_bracket_step("installed.step");
  const std::string stl = std::string(S3D_EXAMPLES_DIR) + "/bracket_reposed.stl";
  const auto scan = test::run_program(p + "/bin/screen3d", {"scan", "--json", "--no-isolate", "--db", db, stl, step});
  EXPECT_EQ(scan.exit_code, 1) << scan.err;
  ASSERT_EQ(scan.out_lines().size(), 2u) << scan.err;
  EXPECT_EQ(nlohmann::json::parse(scan.out_lines()[0])["verdict"], "restricted");
  const auto j = nlohmann::json::parse(scan.out_lines()[1]);
  EXPECT_EQ(j["format"], "step") << scan.out_lines()[1];
  EXPECT_NE(j["verdict"], "error") << scan.out_lines()[1];
  // screen3d-print-filter finds libscreen3d through its run path ($ORIGIN/../lib).
  const auto filter = test::run_program(p + "/bin/screen3d-print-filter", {"--help"});
  EXPECT_EQ(filter.err.find("error while loading shared libraries"), std::string::npos) << filter.err;

  // A C program built against the installed tree with pkg-config, screening the STEP file: the
  // reader process is found relative to libscreen3d.so.
  const std::string src = work + "/host.c", exe = work + "/host";
  std::ofstream(src) << R"(#include <stdio.h>
#include <s3d.h>
int main(int argc, char** argv) {
  s3d_engine* e = NULL;
  s3d_result* r = NULL;
  if (argc != 3 || s3d_engine_open(argv[1], &e, NULL) != S3D_OK) return 10;
  if (s3d_scan_file(e, argv[2], &r) != S3D_OK) return 11;
  const char* why = s3d_result_error(r);
  printf("%d %s\n", (int)s3d_result_verdict(r), why ? why : "");
  s3d_result_free(r);
  s3d_engine_free(e);
  return 0;
}
)";
  std::string cmd = "PKG_CONFIG_PATH='" + p + "/lib/pkgconfig' && export PKG_CONFIG_PATH && '" S3D_C_COMPILER "' ";
  if (S3D_SANITIZED) cmd += "-fsanitize=address,undefined ";
  cmd += "-Wall -Werror -o '" + exe + "' '" + src + "' $(pkg-config --cflags --libs screen3d) -Wl,-rpath,'" + p + "/lib'";
  const auto cc = test::run_program("/bin/sh", {"-c", cmd});
  ASSERT_EQ(cc.exit_code, 0) << cmd << "\n" << cc.out << cc.err;
  const auto host = test::run_program(exe, {db, step});
  ASSERT_EQ(host.exit_code, 0) << host.err;
  EXPECT_NE(host.out.substr(0, 1), "3") << "S3D_VERDICT_ERROR: " << host.out;

  // Without --db and SCREEN3D_DB an installed screen3d takes its own tree's demo database (the
  // contract's default), not the build's: a damaged copy there is what it reports.
  std::ofstream(db, std::ios::trunc) << "not a database";
  ::unsetenv("SCREEN3D_DB");
  const auto nodb = test::run_program(p + "/bin/screen3d", {"scan", stl});
  EXPECT_EQ(nodb.exit_code, 2) << nodb.err;
  EXPECT_NE(nodb.err.find(p + "/bin/../share/screen3d/demo.s3db"), std::string::npos) << nodb.err;
  fs::remove_all(work);
}

}  // namespace
}  // namespace s3d
