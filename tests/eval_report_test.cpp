// The evaluation's near-copy rule (bench/eval/report.cpp, mark_near_copies): a flagged benign file
// is regrouped only when it is as close to its reference as the edits the run found.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bench/eval/report.h"

namespace {

using s3d::Verdict;
using s3d::eval::ScanRecord;

ScanRecord rec(std::string group, std::string subject, double fit, Verdict v = Verdict::kRestricted) {
  ScanRecord r;
  r.group = std::move(group);
  r.subject = std::move(subject);
  r.copy_fit = fit;
  r.verdict = v;
  return r;
}

TEST(EvalNearCopies, CutOffIsTheTenthPercentileOfFoundEdits) {
  std::vector<ScanRecord> records;
  // Twenty found edits with fits 0.80, 0.81, ..., 0.99: the 10th percentile is the 2nd, 0.81.
  for (int i = 0; i < 20; ++i) records.push_back(rec("edit", "ref" + std::to_string(i) + " edit/boss-3mm", 0.80 + 0.01 * i));
  records.push_back(rec("edit", "missed edit", -1, Verdict::kClean));  // no fit: not counted
  records.push_back(rec("benign", "close.stl", 0.815));                // >= p10 (0.81): near-copy
  records.push_back(rec("benign", "far.stl", 0.805));                  // below: stays a false positive
  records.push_back(rec("benign", "unflagged.stl", -1, Verdict::kClean));
  records.push_back(rec("benign-gcode", "close.stl gcode", -1));
  records.push_back(rec("benign-gcode", "far.stl gcode", -1));
  records.push_back(rec("copy", "twin.stl", 1.0));
  records.push_back(rec("benign-gcode", "twin.stl gcode", -1));

  const double cut = s3d::eval::mark_near_copies(records);
  EXPECT_NEAR(cut, 0.81, 1e-12);
  auto group_of = [&](const std::string& subject) {
    for (const ScanRecord& r : records)
      if (r.subject == subject) return r.group;
    return std::string("?");
  };
  EXPECT_EQ(group_of("close.stl"), "near-copy");
  EXPECT_EQ(group_of("far.stl"), "benign");
  EXPECT_EQ(group_of("unflagged.stl"), "benign");
  EXPECT_EQ(group_of("close.stl gcode"), "near-copy");
  EXPECT_EQ(group_of("far.stl gcode"), "benign-gcode");
  EXPECT_EQ(group_of("twin.stl gcode"), "copy");
  EXPECT_EQ(group_of("ref0 edit/boss-3mm"), "edit");
}

TEST(EvalNearCopies, CappedAtTheCopyFitAndNoneWithoutEdits) {
  std::vector<ScanRecord> records = {rec("edit", "a edit/through-hole", 0.99), rec("edit", "b edit/through-hole", 0.995),
                                     rec("benign", "x.stl", 0.96)};
  EXPECT_DOUBLE_EQ(s3d::eval::mark_near_copies(records), s3d::eval::kCopyFit);
  EXPECT_EQ(records[2].group, "near-copy");

  std::vector<ScanRecord> no_edits = {rec("benign", "x.stl", 0.99), rec("rigid", "r rigid", 1.0)};
  EXPECT_LT(s3d::eval::mark_near_copies(no_edits), 0);
  EXPECT_EQ(no_edits[0].group, "benign");
}

}  // namespace

// References whose plain look-alike raises the restricted bar (raises_bar): their variants are
// counted apart, and the rate over the other references' variants is reported beside the rate.
namespace {

TEST(EvalNotDistinctive, VariantsOfSuchReferencesAreCountedApart) {
  using s3d::eval::ReferenceInfo;
  s3d::eval::Report report;
  ReferenceInfo rod, bracket, unmeasured, mild;
  rod.file = "rod.stl";
  rod.plain_match = 0.985;  // + margin 0.04 > restricted 0.80
  bracket.file = "bracket.stl";
  bracket.plain_match = 0.31;
  unmeasured.file = "other.stl";
  mild.file = "strip.stl";
  mild.plain_match = 0.727;  // review level, but 0.767 does not raise the bar
  report.references = {rod, bracket, unmeasured, mild};
  EXPECT_TRUE(s3d::eval::raises_bar(rod));
  EXPECT_FALSE(s3d::eval::raises_bar(bracket));
  EXPECT_FALSE(s3d::eval::raises_bar(unmeasured));
  EXPECT_FALSE(s3d::eval::raises_bar(mild));

  s3d::eval::ClassRow remesh;
  remesh.name = "remesh";
  report.classes = {remesh};
  std::vector<ScanRecord> records = {rec("remesh", "rod.stl remesh/a", -1, Verdict::kReview),
                                     rec("remesh", "rod.stl remesh/b", -1, Verdict::kRestricted),
                                     rec("remesh", "bracket.stl remesh/a", -1, Verdict::kRestricted),
                                     rec("remesh", "bracket.stl remesh/b", -1, Verdict::kClean),
                                     rec("remesh", "strip.stl remesh/a", -1, Verdict::kRestricted)};
  s3d::eval::summarise(report, records, {}, {});
  const s3d::eval::ClassRow& c = report.classes[0];
  EXPECT_EQ(c.scanned, 5u);
  EXPECT_EQ(c.restricted, 3u);
  EXPECT_EQ(c.nd_scanned, 2u);
  EXPECT_EQ(c.nd_restricted, 1u);
  EXPECT_DOUBLE_EQ(c.rate(), 0.6);
  EXPECT_DOUBLE_EQ(c.distinctive_rate(), 2.0 / 3.0);
  const nlohmann::json j = s3d::eval::report_to_json(report);
  EXPECT_EQ(j["classes"][0]["not_distinctive_scanned"], 2);
  EXPECT_EQ(j["references"][0]["plain_match"], 0.985);
  EXPECT_TRUE(j["references"][2]["plain_match"].is_null());
}

}  // namespace
