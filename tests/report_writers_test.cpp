// screen3d-report (plugins/report), run as a program: CSV and HTML from real `screen3d scan --json`
// output, hostile file names (formula cells, quotes, line breaks, markup), a screen3d-image
// examination report, and bad input lines.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

namespace s3d {
namespace {

namespace fs = std::filesystem;
using test::run_cli;
using test::run_program;

std::string report_exe() { return S3D_REPORT_CLI_PATH; }

std::string write_text(const std::string& name, const std::string& text) {
  const std::string path = test::temp_path(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// A scan line as `scan --json` writes it, with a finding when `label` is given.
nlohmann::ordered_json line(const std::string& path, const std::string& verdict, double score, const std::string& label = {}) {
  nlohmann::ordered_json j = {{"path", path}, {"sha256", "ab"}, {"format", "stl-binary"}, {"verdict", verdict}, {"score", score},
                              {"bodies", 1},  {"matches", nlohmann::ordered_json::array()},           {"error", nullptr}};
  if (!label.empty())
    j["matches"].push_back({{"signature", "s-000001"}, {"label", label}, {"category", "receiver"}, {"score", score},
                            {"coverage", score}, {"scale", 1.0}, {"mirrored", false}, {"bodies", {0}}});
  return j;
}

TEST(ReportWriters, CsvAndHtmlOfARealScan) {
  const auto scan = run_cli({"scan", "--json", "--db", S3D_DEMO_DB, std::string(S3D_EXAMPLES_DIR) + "/bracket_reposed.stl",
                             std::string(S3D_EXAMPLES_DIR) + "/pipe.stl", std::string(S3D_EXAMPLES_DIR) + "/truncated.stl"});
  ASSERT_EQ(scan.exit_code, 1) << scan.err;
  const std::string in = write_text("scan.jsonl", scan.out);

  const auto csv = run_program(report_exe(), {in});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto rows = test::split_lines(csv.out);
  ASSERT_EQ(rows.size(), 4u) << csv.out;
  EXPECT_EQ(rows[0].rfind("path,verdict,score,label,category,signature,coverage,scale,mirrored,format,sha256,error", 0), 0u);
  EXPECT_NE(rows[1].find("bracket_reposed.stl,restricted,0.99"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find(",demo-bracket,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[0].find(",queue_to,method,md5,sha1,carved_partial"), std::string::npos) << rows[0];  // columns added at the end
  EXPECT_NE(rows[1].find(",shape,,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[2].find("pipe.stl,clean,"), std::string::npos) << rows[2];
  EXPECT_NE(rows[3].find("truncated.stl,error,"), std::string::npos) << rows[3];
  EXPECT_NE(rows[3].find("binary STL header declares"), std::string::npos) << rows[3];

  const std::string out = test::temp_path("report.html");
  const auto html = run_program(report_exe(), {"--format", "html", "--out", out, in});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_TRUE(html.out.empty());
  const auto b = test::read_bytes(out);
  const std::string page(b.begin(), b.end());
  EXPECT_NE(page.find("<h3 class=\"restricted\">restricted: "), std::string::npos);
  EXPECT_NE(page.find("demo-bracket"), std::string::npos);
  EXPECT_NE(page.find("binary STL header declares"), std::string::npos);  // the errors table
  EXPECT_EQ(page.find("pipe.stl"), std::string::npos);                   // clean files only with --all
  const auto all = run_program(report_exe(), {"--format", "html", "--all", in});
  EXPECT_NE(all.out.find("pipe.stl"), std::string::npos);
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

TEST(ReportWriters, HostileFileNamesStayData) {
  const std::string formula = "=HYPERLINK(\"http://x\",\"a,b\")\nsecond line.stl";
  const std::string markup = "<script>alert(1)</script>.stl";
  std::string text = line(formula, "restricted", 0.91, "part-a").dump() + "\n" + line(markup, "review", 0.7, "<b>label</b>").dump() + "\n" +
                     line("-cmd.stl", "clean", 0.1).dump() + "\n";
  const std::string in = write_text("hostile.jsonl", text);

  const auto csv = run_program(report_exe(), {in});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  // The formula cell is quoted (it holds a quote, a comma and a line break), its quotes doubled, and
  // it starts with an apostrophe so a spreadsheet shows it as text.
  EXPECT_NE(csv.out.find("\"'=HYPERLINK(\"\"http://x\"\",\"\"a,b\"\")\nsecond line.stl\",restricted,"), std::string::npos) << csv.out;
  EXPECT_NE(csv.out.find("\r\n'-cmd.stl,clean,"), std::string::npos) << csv.out;

  const auto html = run_program(report_exe(), {"--format", "html", "--all", in});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  EXPECT_EQ(html.out.find("<script>"), std::string::npos);
  EXPECT_EQ(html.out.find("<b>label"), std::string::npos);
  EXPECT_NE(html.out.find("&lt;script&gt;alert(1)&lt;/script&gt;.stl"), std::string::npos);
  EXPECT_NE(html.out.find("&lt;b&gt;label&lt;/b&gt;"), std::string::npos);
  // Findings: restricted before review.
  EXPECT_LT(html.out.find("restricted: =HYPERLINK"), html.out.find("review: &lt;script"));
}

TEST(ReportWriters, AnExaminationReportKeepsItsHeaderAndCounts) {
  nlohmann::ordered_json doc = {
      {"tool", "screen3d-image"},
      {"version", "screen3d 9.9"},
      {"started", "2026-11-30T10:00:00Z"},
      {"finished", "2026-11-30T10:05:00Z"},
      {"database", {{"path", "/cases/db.s3db"}, {"sha256", "d0d0"}, {"signatures", 7}}},
      {"settings", {{"restricted_threshold", 0.8}}},
      {"images", {{{"path", "seized.E01"}, {"size", 1000}, {"sha256", "feedbeef"}, {"error", nullptr}, {"screened", 12}, {"restricted", 1}}}},
      {"flagged", {line("seized.E01!/jobs/a.stl", "restricted", 0.95, "part-a")}},
      {"errors", {{{"path", "seized.E01!/jobs/b.stl"}, {"error", "truncated file"}, {"image_file", {{"inode", 42}}}}}},
      {"errors_not_listed", 3}};
  doc["flagged"][0]["image_file"] = {{"partition", "p2"}, {"file_system", "fat32"}, {"inode", 17}, {"deleted", true}, {"carved", false}};
  const std::string in = write_text("exam.json", doc.dump(2) + "\n");

  const auto html = run_program(report_exe(), {"--format", "html", in});
  ASSERT_EQ(html.exit_code, 0) << html.err;
  for (const char* s : {"screen3d 9.9", "/cases/db.s3db", "d0d0", "feedbeef", "seized.E01!/jobs/a.stl", "inode 17, deleted",
                        "truncated file", "3 more errors were counted but not listed"})
    EXPECT_NE(html.out.find(s), std::string::npos) << s;

  const auto csv = run_program(report_exe(), {in});
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  const auto rows = test::split_lines(csv.out);
  ASSERT_EQ(rows.size(), 3u) << csv.out;
  EXPECT_NE(rows[1].find("seized.E01!/jobs/a.stl,restricted,0.95,part-a,receiver,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[1].find(",p2,fat32,17,true,false,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[2].find("seized.E01!/jobs/b.stl,error,"), std::string::npos) << rows[2];  // no verdict in the entry: an error
}

TEST(ReportWriters, BadLinesAreNamedAndTheRestIsReported) {
  const std::string in = write_text("bad.jsonl", line("good.stl", "restricted", 0.9, "p").dump() + "\nnot json\n{\"no\": \"path\"}\n" +
                                                     line("also-good.stl", "clean", 0.1).dump() + "\n");
  const auto r = run_program(report_exe(), {in, test::temp_path("missing.jsonl")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(in + ":2: not a scan result line"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(in + ":3: not a scan result line"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("missing.jsonl: cannot be read"), std::string::npos) << r.err;
  EXPECT_EQ(test::split_lines(r.out).size(), 3u) << r.out;  // the header and the two good lines

  const auto same = run_program(report_exe(), {"--out", in, in});
  EXPECT_EQ(same.exit_code, 2);
  EXPECT_NE(same.err.find("is also the --out file"), std::string::npos) << same.err;
  EXPECT_EQ(run_program(report_exe(), {"--format", "pdf", in}).exit_code, 2);
}

}  // namespace
}  // namespace s3d
