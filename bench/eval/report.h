#pragma once
// The evaluation's results: one record per scan, summarised into per-class detection rows, the
// benign and sibling rows, latency percentiles and the lists of misses and false positives; printed
// as text tables and written as JSON. Everything except the `latency` and `run` parts is a pure
// function of the inputs and the seed, so two runs with one seed give identical tables.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/scan.h"

namespace s3d::eval {

// One file screened: a variant of a reference, a benign corpus file or a reference's sibling.
struct ScanRecord {
  std::string group;        // variant class name, "benign" or "sibling"
  std::string subject;      // variants: "<reference file> <variant name>"; corpus files: the file name
  std::string path;         // the file scanned
  Verdict verdict = Verdict::kError;
  double score = 0;
  std::string best_signature;  // id of the best match ("" when none)
  std::string best_label;
  double coverage = 0;
  double scale = 0;
  bool mirrored = false;
  std::string error;
  bool below_review = false;  // the best-match fields come from a diagnostic rescan (score below review)
  double latency_ms = 0;    // wall time of Engine::scan_file
  double copy_fit = -1;     // flagged benign files: two-sided fit to the matched reference (-1: not checked)
};

// A flagged benign file whose two-sided fit reaches this is a copy of the reference (group "copy").
constexpr double kCopyFit = 0.95;
// A flagged benign file is a near-copy (group "near-copy": a modified copy, not a false positive)
// when its two-sided fit reaches this percentile of the fits of the edit variants found in the same
// run, i.e. it is at least as close to the reference as 90 % of the edits the evaluation requires
// the matcher to find.
constexpr double kNearCopyEditPercentile = 10;

// A variant that could not be generated (the transform refused the mesh, a writer failed ...).
struct GenerationFailure {
  std::string group;
  std::string subject;
  std::string reason;
};

struct ReferenceInfo {
  std::string file;
  std::string family;
  double diag_mm = 0;
  uint64_t triangles = 0;
  std::string signature_id;
  std::string category;
  // The best plain look-alike of the reference's size and its score against the signature, as
  // `screen3d sig add` measures and stores it (Signature::plain_match); -1 when not measured.
  double plain_match = -1;
  std::string plain_shape;
};

struct ClassRow {
  std::string name;
  bool run = true;           // false: listed but not run (reason in `note`)
  std::string note;
  size_t planned = 0;        // references x variants per reference
  size_t not_generated = 0;
  size_t scanned = 0;        // generated and screened
  size_t restricted = 0;     // detected
  size_t review = 0;
  size_t clean = 0;
  size_t error = 0;
  // Of those scanned, the variants of not-distinctive references (raises_bar below), which a shape
  // match to them can only bring to review, and how many were restricted all the same (by hash,
  // or by another reference that matches in the same file, such as a plate).
  size_t nd_scanned = 0;
  size_t nd_restricted = 0;
  double rate() const { return scanned ? static_cast<double>(restricted) / static_cast<double>(scanned) : 0.0; }
  // The rate over the variants of distinctive references only.
  double distinctive_rate() const {
    const size_t n = scanned - nd_scanned;
    return n ? static_cast<double>(restricted - nd_restricted) / static_cast<double>(n) : 0.0;
  }
};

// A reference whose plain look-alike (ReferenceInfo::plain_match) raises the score a shape match to
// it needs to be restricted above the restricted threshold (MatchSettings::plain_margin): its
// modified copies are review at best, by design.
bool raises_bar(const ReferenceInfo& ref);

struct GroupRow {
  std::string name;
  size_t files = 0;
  size_t restricted = 0;
  size_t review = 0;
  size_t clean = 0;
  size_t error = 0;
};

struct LatencyRow {
  std::string name;
  size_t n = 0;
  double p50_ms = 0, p95_ms = 0, max_ms = 0;
};

struct RunInfo {
  double wall_s = 0;
  double load_s = 0;
  double generate_s = 0;
  double scan_s = 0;
  int threads = 0;
  std::string cache_dir;
  size_t cache_hits = 0;
  size_t cache_misses = 0;
};

struct Report {
  uint64_t seed = 0;
  bool quick = false;
  std::string generator;                     // variant cache version and generator fingerprint
  std::string corpus_dir;
  size_t corpus_entries = 0;
  size_t reference_candidates = 0;
  std::vector<std::string> corpus_problems;  // bad manifest rows, missing/unloadable files
  std::vector<ReferenceInfo> references;
  std::vector<ClassRow> classes;
  GroupRow benign{"benign"};
  GroupRow siblings{"siblings"};
  GroupRow copies{"copies"};
  GroupRow near_copies{"near-copies"};
  GroupRow plain{"plain"};                  // plain boxes, rods and pipes the size of each reference
  GroupRow benign_gcode{"benign-gcode"};    // benign files sliced to G-code (when a G-code class runs)               // benign-listed files that are copies of a reference
  std::vector<LatencyRow> latency;
  std::vector<ScanRecord> variant_misses;   // variants not restricted (review, clean, error)
  std::vector<ScanRecord> benign_flags;     // benign files restricted or review
  std::vector<ScanRecord> plain_flags;      // plain look-alikes restricted or review
  std::vector<ScanRecord> benign_errors;    // benign files that could not be screened
  std::vector<ScanRecord> sibling_results;  // every sibling, with its verdict
  std::vector<ScanRecord> copy_results;     // benign-listed files found to be copies of a reference
  std::vector<double> edit_fits;            // detected edit variants: two-sided fit to their reference
  std::vector<ScanRecord> near_copy_results;  // benign-listed files found to be near-copies (edits) of a reference
  double near_copy_fit = -1;                // the near-copy cut-off of this run (-1: no edit class, none)
  std::vector<GenerationFailure> generation_failures;
  std::vector<GenerationFailure> generation_notes;  // generated by a fallback (reason = the note)
  RunInfo run;

  // Totals over the classes that ran.
  size_t total_scanned() const;
  size_t total_restricted() const;
  double overall_rate() const;
};

// Near-copies: a flagged benign file as close to its reference as the edits this run requires to
// be found is, by the evaluation's own definition of a small edit, a modified copy of the reference,
// not a false positive. The cut-off is the kNearCopyEditPercentile-th percentile of the two-sided
// fits of the found edit variants (records of group "edit" with copy_fit set), capped at kCopyFit;
// missed edits have no fit, which can only raise it. Regroups such "benign" records as "near-copy",
// then the "benign-gcode" records of files found to be copies or near-copies (their sliced forms)
// likewise. Returns the cut-off, or -1 (nothing regrouped as near-copy) when no edit fit is known.
double mark_near_copies(std::vector<ScanRecord>& records);

// Fills classes (counts), benign/siblings rows, latency and the lists from the records. `classes`
// must already hold one row per class with name, run, note and planned set; records and failures
// are matched to rows by group name; `notes` are variants generated by a fallback. Lists are sorted
// for a deterministic order.
void summarise(Report& report, const std::vector<ScanRecord>& records, const std::vector<GenerationFailure>& failures,
               const std::vector<GenerationFailure>& notes);

// Nearest-rank percentile of `values` (p in [0, 100]); 0 for an empty list.
double percentile(std::vector<double> values, double p);

void print_report(std::ostream& out, const Report& report);
nlohmann::json report_to_json(const Report& report);

}  // namespace s3d::eval
