#include "engine/report_json.h"

#include <cmath>
#include <cstdio>

namespace s3d {

namespace {
// Divides by the inverse so that e.g. 0.9942 prints as 0.9942, not 0.9942000000000001.
double round_to(double v, double q) { return std::round(v / q) / std::round(1.0 / q); }
}  // namespace

nlohmann::ordered_json scan_result_json(const ScanResult& r) {
  using J = nlohmann::ordered_json;
  J j;
  j["path"] = r.path;
  j["sha256"] = r.sha256.empty() ? J(nullptr) : J(r.sha256);
  j["format"] = std::string(format_name(r.format));
  j["verdict"] = verdict_name(r.verdict);
  j["score"] = round_to(r.score, 1e-4);
  j["bodies"] = r.bodies;
  J matches = J::array();
  for (const MatchEvidence& m : r.matches) {
    J e;
    e["signature"] = m.signature_id;
    e["label"] = m.label;
    e["category"] = category_name(m.category);
    e["score"] = round_to(m.score, 1e-4);
    e["coverage"] = round_to(m.coverage, 1e-4);
    e["scale"] = round_to(m.scale, 1e-4);
    e["mirrored"] = m.mirrored;
    e["bodies"] = m.bodies;
    e["extraneous"] = round_to(m.extraneous, 1e-4);
    e["method"] = m.method;
    e["plain_match"] = m.plain_match >= 0 ? J(round_to(m.plain_match, 1e-3)) : J(nullptr);
    e["not_distinctive"] = m.not_distinctive;
    J t = J::array();
    for (double v : m.transform) t.push_back(round_to(v, 1e-6));
    e["transform"] = t;
    matches.push_back(std::move(e));
  }
  j["matches"] = std::move(matches);
  j["error"] = r.error.empty() ? J(nullptr) : J(r.error);
  if (!r.notes.empty()) j["notes"] = r.notes;  // only when there are any: the contract's lines stay as they were
  if (!r.md5.empty()) j["md5"] = r.md5;        // only when a database lists files by MD5 or SHA-1
  if (!r.sha1.empty()) j["sha1"] = r.sha1;
  j["elapsed_ms"] = round_to(r.elapsed_ms, 0.1);
  return j;
}

std::string scan_result_text(const ScanResult& r) {
  char buf[256];
  std::string s = r.path + ": " + verdict_name(r.verdict);
  if (r.verdict == Verdict::kError || r.verdict == Verdict::kSkipped) return s + " (" + r.error + ")\n";
  std::snprintf(buf, sizeof buf, " (score %.2f, %s, %u bodies)\n", r.score, std::string(format_name(r.format)).c_str(), r.bodies);
  s += buf;
  for (const std::string& n : r.notes) s += "  note: " + n + "\n";
  for (const MatchEvidence& m : r.matches) {
    std::snprintf(buf, sizeof buf, "  %s %s [%s] score %.2f coverage %.2f scale %.3f%s via %s\n", m.signature_id.c_str(),
                  m.label.c_str(), category_name(m.category), m.score, m.coverage, m.scale, m.mirrored ? " mirrored" : "",
                  m.method.c_str());
    s += buf;
    if (m.not_distinctive) {
      std::snprintf(buf, sizeof buf, "    review only: a plain solid of the reference's size scores %.2f against it\n",
                    m.plain_match);
      s += buf;
    }
  }
  return s;
}

}  // namespace s3d
