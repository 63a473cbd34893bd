#include "bench/eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <ostream>
#include <tuple>

namespace s3d::eval {
namespace {

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string pad(const std::string& s, size_t w, bool left = false) {
  if (s.size() >= w) return s;
  return left ? s + std::string(w - s.size(), ' ') : std::string(w - s.size(), ' ') + s;
}

// Deterministic order: by group, then subject, then path.
bool record_less(const ScanRecord& a, const ScanRecord& b) {
  return std::tie(a.group, a.subject, a.path) < std::tie(b.group, b.subject, b.path);
}

void count(GroupRow& row, Verdict v) {
  ++row.files;
  switch (v) {
    case Verdict::kRestricted: ++row.restricted; break;
    case Verdict::kReview: ++row.review; break;
    case Verdict::kClean: ++row.clean; break;
    default: ++row.error; break;  // error, skipped: not screened
  }
}

nlohmann::json record_json(const ScanRecord& r) {
  nlohmann::json j;
  j["group"] = r.group;
  j["subject"] = r.subject;
  j["verdict"] = verdict_name(r.verdict);
  j["score"] = r.score;
  j["best_signature"] = r.best_signature.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.best_signature);
  j["best_label"] = r.best_label.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.best_label);
  j["coverage"] = r.coverage;
  j["scale"] = r.scale;
  j["mirrored"] = r.mirrored;
  j["below_review"] = r.below_review;
  if (r.copy_fit >= 0) j["two_sided_fit"] = r.copy_fit;
  j["error"] = r.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.error);
  return j;
}

void print_records(std::ostream& out, const char* title, const std::vector<ScanRecord>& recs) {
  out << "\n" << title << " (" << recs.size() << ")\n";
  for (const ScanRecord& r : recs) {
    out << "  " << pad(verdict_name(r.verdict), 10, true) << " " << pad(r.group, 14, true) << " score "
        << fmt("%.3f", r.score) << "  cov " << fmt("%.3f", r.coverage);
    if (!r.best_signature.empty())
      out << "  best " << r.best_signature << " (" << r.best_label << ")" << (r.mirrored ? " mirrored" : "")
          << " scale " << fmt("%.3f", r.scale) << (r.below_review ? " [below review]" : "");
    out << "  " << r.subject;
    if (r.copy_fit >= 0) out << "  two-sided fit " << fmt("%.3f", r.copy_fit);
    if (!r.error.empty()) out << "  error: " << r.error;
    out << "\n";
  }
}

}  // namespace

size_t Report::total_scanned() const {
  size_t n = 0;
  for (const ClassRow& c : classes)
    if (c.run) n += c.scanned;
  return n;
}

size_t Report::total_restricted() const {
  size_t n = 0;
  for (const ClassRow& c : classes)
    if (c.run) n += c.restricted;
  return n;
}

double Report::overall_rate() const {
  const size_t n = total_scanned();
  return n ? static_cast<double>(total_restricted()) / static_cast<double>(n) : 0.0;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * static_cast<double>(values.size()));
  const size_t idx = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(idx, values.size() - 1)];
}

namespace {
// Two-sided fits of the edit variants that were found (and measured), sorted.
std::vector<double> found_edit_fits(const std::vector<ScanRecord>& records) {
  std::vector<double> fits;
  for (const ScanRecord& rec : records)
    if (rec.group == "edit" && rec.copy_fit >= 0) fits.push_back(rec.copy_fit);
  std::sort(fits.begin(), fits.end());
  return fits;
}
}  // namespace

double mark_near_copies(std::vector<ScanRecord>& records) {
  const std::vector<double> edit_fits = found_edit_fits(records);
  double cut = -1;
  if (!edit_fits.empty()) {
    cut = std::min(kCopyFit, percentile(edit_fits, kNearCopyEditPercentile));
    for (ScanRecord& rec : records)
      if (rec.group == "benign" && rec.copy_fit >= cut) rec.group = "near-copy";
  }
  std::map<std::string, std::string> found;
  for (const ScanRecord& rec : records)
    if (rec.group == "copy" || rec.group == "near-copy") found[rec.subject] = rec.group;
  for (ScanRecord& rec : records) {
    if (rec.group != "benign-gcode") continue;
    const auto it = found.find(rec.subject.substr(0, rec.subject.rfind(" gcode")));
    if (it != found.end()) rec.group = it->second;
  }
  return cut;
}

bool raises_bar(const ReferenceInfo& ref) {
  const MatchSettings ms;  // the evaluation screens with the default settings
  return ref.plain_match >= 0 && ref.plain_match + ms.plain_margin > ms.restricted_threshold;
}

void summarise(Report& report, const std::vector<ScanRecord>& records, const std::vector<GenerationFailure>& failures,
               const std::vector<GenerationFailure>& notes) {
  std::set<std::string> not_distinctive;  // reference files
  for (const ReferenceInfo& ref : report.references)
    if (raises_bar(ref)) not_distinctive.insert(ref.file);
  std::map<std::string, ClassRow*> rows;
  for (ClassRow& c : report.classes) rows[c.name] = &c;
  std::map<std::string, std::vector<double>> lat;

  for (const GenerationFailure& f : failures) {
    const auto it = rows.find(f.group);
    if (it != rows.end()) ++it->second->not_generated;
    report.generation_failures.push_back(f);
  }
  for (const ScanRecord& r : records) {
    if (r.group == "benign") {
      count(report.benign, r.verdict);
      if (r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview) report.benign_flags.push_back(r);
      if (r.verdict == Verdict::kError || r.verdict == Verdict::kSkipped) report.benign_errors.push_back(r);
      lat["benign"].push_back(r.latency_ms);
      continue;
    }
    if (r.group == "benign-gcode") {
      count(report.benign_gcode, r.verdict);
      if (r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview) report.benign_flags.push_back(r);
      if (r.verdict == Verdict::kError || r.verdict == Verdict::kSkipped) report.benign_errors.push_back(r);
      lat["benign-gcode"].push_back(r.latency_ms);
      continue;
    }
    if (r.group == "copy") {
      count(report.copies, r.verdict);
      report.copy_results.push_back(r);
      lat["benign"].push_back(r.latency_ms);
      continue;
    }
    if (r.group == "plain") {
      count(report.plain, r.verdict);
      if (r.verdict != Verdict::kClean) report.plain_flags.push_back(r);
      lat["plain"].push_back(r.latency_ms);
      continue;
    }
    if (r.group == "near-copy") {
      count(report.near_copies, r.verdict);
      report.near_copy_results.push_back(r);
      lat["benign"].push_back(r.latency_ms);
      continue;
    }
    if (r.group == "sibling") {
      count(report.siblings, r.verdict);
      report.sibling_results.push_back(r);
      lat["siblings"].push_back(r.latency_ms);
      continue;
    }
    const auto it = rows.find(r.group);
    if (it == rows.end()) continue;
    ClassRow& c = *it->second;
    ++c.scanned;
    if (not_distinctive.count(r.subject.substr(0, r.subject.find(' ')))) {
      ++c.nd_scanned;
      c.nd_restricted += r.verdict == Verdict::kRestricted;
    }
    switch (r.verdict) {
      case Verdict::kRestricted: ++c.restricted; break;
      case Verdict::kReview: ++c.review; break;
      case Verdict::kClean: ++c.clean; break;
      default: ++c.error; break;
    }
    if (r.verdict != Verdict::kRestricted) report.variant_misses.push_back(r);
    lat[r.group].push_back(r.latency_ms);
  }

  report.latency.clear();
  for (const ClassRow& c : report.classes) {
    if (!c.run) continue;
    const std::vector<double>& v = lat[c.name];
    report.latency.push_back({c.name, v.size(), percentile(v, 50), percentile(v, 95), percentile(v, 100)});
  }
  for (const char* g : {"benign", "benign-gcode", "siblings", "plain"}) {
    const std::vector<double>& v = lat[g];
    report.latency.push_back({g, v.size(), percentile(v, 50), percentile(v, 95), percentile(v, 100)});
  }

  report.edit_fits = found_edit_fits(records);
  std::sort(report.variant_misses.begin(), report.variant_misses.end(), record_less);
  std::sort(report.benign_flags.begin(), report.benign_flags.end(), record_less);
  std::sort(report.plain_flags.begin(), report.plain_flags.end(), record_less);
  std::sort(report.benign_errors.begin(), report.benign_errors.end(), record_less);
  std::sort(report.sibling_results.begin(), report.sibling_results.end(), record_less);
  std::sort(report.copy_results.begin(), report.copy_results.end(), record_less);
  std::sort(report.near_copy_results.begin(), report.near_copy_results.end(), record_less);
  report.generation_notes = notes;
  const auto by_subject = [](const GenerationFailure& a, const GenerationFailure& b) {
    return std::tie(a.group, a.subject) < std::tie(b.group, b.subject);
  };
  std::sort(report.generation_failures.begin(), report.generation_failures.end(), by_subject);
  std::sort(report.generation_notes.begin(), report.generation_notes.end(), by_subject);
}

void print_report(std::ostream& out, const Report& r) {
  out << "screen3d-eval  seed " << r.seed << (r.quick ? "  (quick)" : "") << "  variants " << r.generator << "\n";
  out << "corpus " << r.corpus_dir << ": " << r.corpus_entries << " manifest entries, " << r.reference_candidates
      << " reference candidates, " << r.references.size() << " references\n";
  for (const std::string& p : r.corpus_problems) out << "  corpus problem: " << p << "\n";

  out << "\nReferences\n";
  for (const ReferenceInfo& ref : r.references) {
    out << "  " << ref.signature_id << "  " << pad(ref.category, 12, true) << " diag " << pad(fmt("%.1f", ref.diag_mm), 6)
        << " mm  " << pad(std::to_string(ref.triangles), 6) << " tris  " << ref.file << "  [" << ref.family << "]\n";
    const MatchSettings ms;  // the evaluation screens with the default settings
    if (raises_bar(ref))
      out << "      not distinctive: a plain " << ref.plain_shape << " scores " << fmt("%.3f", ref.plain_match)
          << " against it, so a shape match needs " << fmt("%.3f", ref.plain_match + ms.plain_margin)
          << " to be restricted\n";
    else if (ref.plain_match >= ms.review_threshold)
      out << "      a plain " << ref.plain_shape << " scores " << fmt("%.3f", ref.plain_match)
          << " against it: plain parts of that size may be flagged for review\n";
  }

  out << "\nDetection by variant class (rate = restricted / scanned; not generated is not a miss)\n";
  out << "  " << pad("class", 15, true) << pad("planned", 8) << pad("not gen", 8) << pad("scanned", 8) << pad("restr", 7)
      << pad("review", 7) << pad("clean", 7) << pad("error", 7) << pad("rate", 8) << "\n";
  for (const ClassRow& c : r.classes) {
    out << "  " << pad(c.name, 15, true);
    if (!c.run) {
      out << "  not run: " << c.note << "\n";
      continue;
    }
    out << pad(std::to_string(c.planned), 8) << pad(std::to_string(c.not_generated), 8) << pad(std::to_string(c.scanned), 8)
        << pad(std::to_string(c.restricted), 7) << pad(std::to_string(c.review), 7) << pad(std::to_string(c.clean), 7)
        << pad(std::to_string(c.error), 7) << pad(fmt("%.3f", c.rate()), 8) << "\n";
  }
  out << "  " << pad("all run", 15, true) << pad("", 24) << pad(std::to_string(r.total_scanned()), 8)
      << pad(std::to_string(r.total_restricted()), 7) << pad("", 21) << pad(fmt("%.3f", r.overall_rate()), 8) << "\n";
  size_t nd = 0, nd_restricted = 0;
  for (const ClassRow& c : r.classes)
    if (c.run) nd += c.nd_scanned, nd_restricted += c.nd_restricted;
  if (nd > 0) {
    out << "  Of these, " << nd << " are variants of not-distinctive references (listed above; " << nd_restricted
        << " restricted all the same: by hash, or by another reference matching in the same file).\n"
        << "  Over the variants of the other references:\n";
    for (const ClassRow& c : r.classes)
      if (c.run && c.nd_scanned > 0)
        out << "    " << pad(c.name, 15, true) << pad(std::to_string(c.scanned - c.nd_scanned), 5) << " scanned, rate "
            << fmt("%.3f", c.distinctive_rate()) << "\n";
  }

  out << "\nOther files\n";
  out << "  " << pad("set", 15, true) << pad("files", 8) << pad("restr", 7) << pad("review", 7) << pad("clean", 7)
      << pad("error", 7) << "\n";
  for (const GroupRow* g : {&r.benign, &r.benign_gcode, &r.plain, &r.siblings, &r.copies, &r.near_copies})
    out << "  " << pad(g->name, 15, true) << pad(std::to_string(g->files), 8) << pad(std::to_string(g->restricted), 7)
        << pad(std::to_string(g->review), 7) << pad(std::to_string(g->clean), 7) << pad(std::to_string(g->error), 7) << "\n";
  out << "  (plain = a box, and a rod and a pipe along each axis, the size of each reference (and of its core\n"
         "   when a lug stretches its box), in a random pose: benign by construction;\n"
         "   benign restricted = false positives; copies = benign-listed files that are the reference part itself,\n"
         "   perhaps mirrored: dense samples agree within 1% of the diagonal both ways, checked apart from the score,\n"
         "   on at least " << fmt("%.0f", kCopyFit * 100) << "% of each surface; near-copies = benign-listed files as close to a reference as\n"
         "   the edits this run requires to be found: two-sided fit >= ";
  if (r.near_copy_fit >= 0)
    out << fmt("%.3f", r.near_copy_fit) << ", the " << fmt("%.0f", kNearCopyEditPercentile)
        << "th percentile of the found edit variants' fits)\n";
  else
    out << "- (no edit class ran: none)\n";

  if (!r.edit_fits.empty()) {
    const std::vector<double>& f = r.edit_fits;
    out << "\nEdit variants found (restricted or review): two-sided fit to their reference, n " << f.size() << ": min "
        << fmt("%.3f", f.front()) << ", p25 " << fmt("%.3f", percentile(f, 25)) << ", median " << fmt("%.3f", percentile(f, 50))
        << ", max " << fmt("%.3f", f.back()) << "\n";
  }

  out << "\nLatency of Engine::scan_file, ms (measured under the run's parallel load)\n";
  out << "  " << pad("set", 15, true) << pad("n", 6) << pad("p50", 10) << pad("p95", 10) << pad("max", 10) << "\n";
  for (const LatencyRow& l : r.latency)
    out << "  " << pad(l.name, 15, true) << pad(std::to_string(l.n), 6) << pad(fmt("%.1f", l.p50_ms), 10)
        << pad(fmt("%.1f", l.p95_ms), 10) << pad(fmt("%.1f", l.max_ms), 10) << "\n";

  print_records(out, "Variants not detected (review, clean or error)", r.variant_misses);
  print_records(out, "Benign files flagged (restricted = false positive, or review)", r.benign_flags);
  print_records(out, "Benign files not screened (error)", r.benign_errors);
  print_records(out, "Plain look-alikes flagged or not screened", r.plain_flags);
  print_records(out, "Siblings of references", r.sibling_results);
  print_records(out, "Benign-listed copies of references (two-sided fit >= 0.95: the same part, not false positives)",
                r.copy_results);
  print_records(out, "Benign-listed near-copies of references (modified copies: as close as the edits that must be found)",
                r.near_copy_results);
  out << "\nVariants not generated (" << r.generation_failures.size() << ")\n";
  for (const GenerationFailure& f : r.generation_failures)
    out << "  " << pad(f.group, 14, true) << " " << f.subject << ": " << f.reason << "\n";
  out << "\nVariants generated by a fallback (" << r.generation_notes.size() << ")\n";
  for (const GenerationFailure& f : r.generation_notes)
    out << "  " << pad(f.group, 14, true) << " " << f.subject << ": " << f.reason << "\n";

  out << "\nRun: " << fmt("%.1f", r.run.wall_s) << " s (load " << fmt("%.1f", r.run.load_s) << " s, generate "
      << fmt("%.1f", r.run.generate_s) << " s, scan "
      << fmt("%.1f", r.run.scan_s) << " s), " << r.run.threads << " threads, cache " << r.run.cache_dir << " ("
      << r.run.cache_hits << " hits, " << r.run.cache_misses << " generated)\n";
}

nlohmann::json report_to_json(const Report& r) {
  nlohmann::json j;
  j["seed"] = r.seed;
  j["quick"] = r.quick;
  j["variant_generator"] = r.generator;
  j["corpus"] = {{"dir", r.corpus_dir},
                 {"entries", r.corpus_entries},
                 {"reference_candidates", r.reference_candidates},
                 {"problems", r.corpus_problems}};
  nlohmann::json refs = nlohmann::json::array();
  for (const ReferenceInfo& ref : r.references)
    refs.push_back({{"file", ref.file},
                    {"family", ref.family},
                    {"diag_mm", ref.diag_mm},
                    {"triangles", ref.triangles},
                    {"signature", ref.signature_id},
                    {"category", ref.category},
                    {"plain_match", ref.plain_match >= 0 ? nlohmann::json(ref.plain_match) : nlohmann::json(nullptr)},
                    {"plain_shape", ref.plain_shape}});
  j["references"] = refs;
  nlohmann::json classes = nlohmann::json::array();
  for (const ClassRow& c : r.classes) {
    nlohmann::json row = {{"class", c.name}, {"run", c.run}};
    if (!c.run) {
      row["note"] = c.note;
    } else {
      row.update({{"planned", c.planned},
                  {"not_generated", c.not_generated},
                  {"scanned", c.scanned},
                  {"restricted", c.restricted},
                  {"review", c.review},
                  {"clean", c.clean},
                  {"error", c.error},
                  {"detection_rate", c.rate()},
                  {"not_distinctive_scanned", c.nd_scanned},
                  {"not_distinctive_restricted", c.nd_restricted},
                  {"distinctive_detection_rate", c.distinctive_rate()}});
    }
    classes.push_back(row);
  }
  j["classes"] = classes;
  j["overall"] = {{"scanned", r.total_scanned()}, {"restricted", r.total_restricted()}, {"detection_rate", r.overall_rate()}};
  for (const GroupRow* g : {&r.benign, &r.benign_gcode, &r.plain, &r.siblings, &r.copies, &r.near_copies})
    j[g->name] = {{"files", g->files}, {"restricted", g->restricted}, {"review", g->review}, {"clean", g->clean}, {"error", g->error}};
  auto list = [](const std::vector<ScanRecord>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const ScanRecord& rec : v) a.push_back(record_json(rec));
    return a;
  };
  j["misses"] = list(r.variant_misses);
  j["benign_flags"] = list(r.benign_flags);
  j["benign_errors"] = list(r.benign_errors);
  j["plain_flags"] = list(r.plain_flags);
  j["sibling_results"] = list(r.sibling_results);
  j["copy_results"] = list(r.copy_results);
  j["edit_two_sided_fits"] = r.edit_fits;
  j["near_copy_results"] = list(r.near_copy_results);
  j["near_copy_fit"] = r.near_copy_fit >= 0 ? nlohmann::json(r.near_copy_fit) : nlohmann::json(nullptr);
  nlohmann::json gf = nlohmann::json::array();
  for (const GenerationFailure& f : r.generation_failures)
    gf.push_back({{"class", f.group}, {"subject", f.subject}, {"reason", f.reason}});
  j["generation_failures"] = gf;
  nlohmann::json gn = nlohmann::json::array();
  for (const GenerationFailure& f : r.generation_notes)
    gn.push_back({{"class", f.group}, {"subject", f.subject}, {"note", f.reason}});
  j["generation_notes"] = gn;
  // Timing-dependent parts live only under "latency" and "run" (the determinism check drops them).
  nlohmann::json lat = nlohmann::json::array();
  for (const LatencyRow& l : r.latency)
    lat.push_back({{"set", l.name}, {"n", l.n}, {"p50_ms", l.p50_ms}, {"p95_ms", l.p95_ms}, {"max_ms", l.max_ms}});
  j["latency"] = lat;
  j["run"] = {{"wall_s", r.run.wall_s},
              {"load_s", r.run.load_s},
              {"generate_s", r.run.generate_s},
              {"scan_s", r.run.scan_s},
              {"threads", r.run.threads},
              {"cache_dir", r.run.cache_dir},
              {"cache_hits", r.run.cache_hits},
              {"cache_misses", r.run.cache_misses}};
  return j;
}

}  // namespace s3d::eval
