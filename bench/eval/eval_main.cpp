// screen3d-eval: end-to-end detection evaluation. Picks references from a benign corpus, builds
// their signatures, generates variants of each (rigid, scale, mirror, remesh, ...), screens every
// variant and every other corpus file through Engine::scan_file, and reports detection per class,
// false positives, latency, and every miss. Exit status: 0 the run completed (and met any
// --min-detection / --max-false-positives bar), 1 a bar was not met, 2 the run could not be done.
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/eval/corpus.h"
#include "bench/eval/report.h"
#include "bench/eval/rng.h"
#include "bench/eval/synthetic_corpus.h"
#include "bench/eval/variant_cache.h"
#include "engine/reference_checks.h"
#include "engine/scan.h"
#include "geometry/file_bytes.h"
#include "geometry/load.h"
#include "geometry/point_index.h"
#include "geometry/sample_surface.h"
#include "geometry/variants.h"
#include "geometry/write_mesh.h"
#include "signatures/build_signature.h"

#ifndef S3D_EVAL_CACHE_ROOT
#define S3D_EVAL_CACHE_ROOT "bench/cache"
#endif

namespace {

using namespace s3d;
using namespace s3d::eval;
using Clock = std::chrono::steady_clock;

constexpr size_t kDefaultRefs = 20;
constexpr size_t kQuickRefs = 5;
constexpr size_t kQuickBenign = 40;
constexpr size_t kPlateCompanions = 3;
constexpr const char* kQuickClasses = "rigid,mirror,plate";

struct Options {
  std::string corpus;
  size_t refs = kDefaultRefs;
  uint64_t seed = 1;
  std::string classes;
  std::string out;
  bool quick = false;
  std::string cache;
  int threads = 0;
  double min_detection = -1;
  long max_false_positives = -1;
  std::string synthetic;
  bool generate_only = false;
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

// The record's best-match fields from a match's evidence.
void set_best(ScanRecord& rec, const MatchEvidence& m) {
  rec.best_signature = m.signature_id;
  rec.best_label = m.label;
  rec.coverage = m.coverage;
  rec.scale = m.scale;
  rec.mirrored = m.mirrored;
}

ScanRecord to_record(const ScanResult& r, std::string group, std::string subject, double latency_ms) {
  ScanRecord rec;
  rec.group = std::move(group);
  rec.subject = std::move(subject);
  rec.path = r.path;
  rec.verdict = r.verdict;
  rec.score = r.score;
  rec.error = r.error;
  rec.latency_ms = latency_ms;
  if (!r.matches.empty()) set_best(rec, r.matches.front());
  return rec;
}

// Whether a flagged benign file is in fact a copy of the reference (the same part, perhaps mirrored,
// filed under another family in the manifest). Independent of the matcher's score: dense samples of
// the reference, placed by the match transform, and of the file must each lie within 1 % of the
// reference's diagonal of the other, both ways. Returns the two fractions.
std::pair<double, double> two_sided_fit(const Mesh& ref, const Mesh& file, const MatchEvidence& m) {
  constexpr size_t kPoints = 20000;
  const PrincipalFrame f = canonical_frame(ref);
  const SurfaceSample rs = sample_surface(ref, kPoints, 0x7e57);
  const SurfaceSample fs = sample_surface(file, kPoints, 0x7e58);
  if (rs.points.empty() || fs.points.empty()) return {0, 0};
  std::vector<Vec3f> placed;
  placed.reserve(rs.points.size());
  double lo[3] = {1e30, 1e30, 1e30}, hi[3] = {-1e30, -1e30, -1e30};
  for (const Vec3f& p : rs.points) {
    double c[3];
    for (int k = 0; k < 3; ++k)
      c[k] = f.axes[k][0] * (p[0] - f.centroid[0]) + f.axes[k][1] * (p[1] - f.centroid[1]) + f.axes[k][2] * (p[2] - f.centroid[2]);
    Vec3f y;
    for (int i = 0; i < 3; ++i)
      y[i] = static_cast<float>(m.transform[i * 4] * c[0] + m.transform[i * 4 + 1] * c[1] + m.transform[i * 4 + 2] * c[2] +
                                m.transform[i * 4 + 3]);
    placed.push_back(y);
    for (int k = 0; k < 3; ++k) lo[k] = std::min(lo[k], double(p[k])), hi[k] = std::max(hi[k], double(p[k]));
  }
  const double diag = std::sqrt((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) + (hi[2] - lo[2]) * (hi[2] - lo[2]));
  const float tol2 = static_cast<float>(std::pow(0.01 * diag * m.scale, 2));
  auto fraction_near = [&](const std::vector<Vec3f>& from, const std::vector<Vec3f>& to) {
    const PointIndex index(to);
    size_t near = 0;
    for (const Vec3f& p : from) {
      float d2 = 0;
      near += index.nearest_within(p, tol2, &d2) != UINT32_MAX;
    }
    return double(near) / double(from.size());
  };
  return {fraction_near(placed, fs.points), fraction_near(fs.points, placed)};
}

// Benign corpus files sliced to G-code for the false-positive check of the G-code classes: 55, so
// that at least 50 remain when a few turn out to be copies of a reference (reported apart).
constexpr size_t kBenignGcodeFiles = 55;
constexpr size_t kMaxBenignGcodeTriangles = 300000;

int run(const Options& opt) {
  const Clock::time_point t_start = Clock::now();
  Report report;
  report.seed = opt.seed;
  report.quick = opt.quick;

  // Classes to run.
  std::vector<const VariantClassInfo*> selected;
  {
    const std::string list = !opt.classes.empty() ? opt.classes : (opt.quick ? kQuickClasses : "");
    if (list.empty()) {
      for (const VariantClassInfo& c : variant_classes()) selected.push_back(&c);
    } else {
      for (const std::string& name : split_commas(list)) {
        const VariantClassInfo* c = find_variant_class(name);
        if (!c) {
          std::cerr << "screen3d-eval: unknown class '" << name << "' (known:";
          for (const VariantClassInfo& k : variant_classes()) std::cerr << " " << k.name;
          std::cerr << ")\n";
          return 2;
        }
        bool dup = false;
        for (const VariantClassInfo* s : selected) dup |= s == c;
        if (!dup) selected.push_back(c);
      }
    }
  }

  // Corpus.
  Corpus corpus = read_corpus(opt.corpus);
  report.corpus_dir = opt.corpus;
  report.corpus_entries = corpus.entries.size();
  report.corpus_problems = corpus.problems;
  std::cerr << "screen3d-eval: loading " << corpus.entries.size() << " corpus files\n";
  const Clock::time_point t_load = Clock::now();
  load_corpus_meshes(corpus);
  report.run.load_s = seconds_since(t_load);
  for (const CorpusEntry& e : corpus.entries)
    if (!e.loaded) report.corpus_problems.push_back(e.file + ": not loaded: " + e.load_error);

  const CorpusSplit split = split_corpus(corpus, opt.refs, opt.seed, opt.quick ? kQuickBenign : 0);
  report.reference_candidates = split.candidates;
  if (split.references.empty()) {
    std::cerr << "screen3d-eval: no reference candidates in the corpus (need bbox diagonal " << kMinRefDiagMm << "-"
              << kMaxRefDiagMm << " mm and >= " << kMinRefTriangles << " triangles)\n";
    return 2;
  }
  if (split.references.size() < opt.refs)
    report.corpus_problems.push_back("only " + std::to_string(split.references.size()) + " references from distinct families (asked for " +
                                     std::to_string(opt.refs) + ")");

  // Signatures.
  static const Category kCycle[] = {Category::kReceiver, Category::kFrame, Category::kFireControl, Category::kOther};
  std::vector<Signature> sigs(split.references.size());
  std::vector<std::string> sig_errors(split.references.size());
  std::vector<std::string> plain_shapes(split.references.size());
  // Plain look-alikes of each reference (by corpus entry): scored for the signature here and
  // written as the `plain` set below.
  std::vector<std::vector<PlainSolid>> plain_solids(corpus.entries.size());
  tbb::parallel_for(size_t{0}, split.references.size(), [&](size_t i) {
    const CorpusEntry& e = corpus.entries[split.references[i]];
    try {
      sigs[i] = build_signature(e.mesh);
      // As `screen3d sig add` does: the best plain look-alike's score goes with the signature.
      plain_solids[split.references[i]] = plain_solids_like(e.mesh);
      const std::vector<StandInScore> plain = plain_stand_ins(sigs[i], plain_solids[split.references[i]], MatchSettings{});
      sigs[i].plain_match = plain_match_from(plain);
      if (!plain.empty()) plain_shapes[i] = plain[0].shape;
    } catch (const std::exception& err) {
      sig_errors[i] = err.what();
    }
  });
  std::vector<size_t> refs;  // entry indices of references with a signature
  std::vector<Signature> db;
  for (size_t i = 0; i < split.references.size(); ++i) {
    const CorpusEntry& e = corpus.entries[split.references[i]];
    if (!sig_errors[i].empty()) {
      report.corpus_problems.push_back(e.file + ": build_signature failed: " + sig_errors[i]);
      continue;
    }
    Signature s = std::move(sigs[i]);
    char id[16];
    std::snprintf(id, sizeof id, "s-%06zu", db.size() + 1);
    s.meta.id = id;
    s.meta.label = e.file;
    s.meta.category = kCycle[db.size() % 4];
    report.references.push_back({e.file, e.family, e.diag_mm, e.triangles, s.meta.id, category_name(s.meta.category),
                                 s.plain_match, plain_shapes[i]});
    refs.push_back(split.references[i]);
    db.push_back(std::move(s));
  }
  if (db.empty()) {
    std::cerr << "screen3d-eval: no reference signature could be built\n";
    return 2;
  }
  // The diagnostic engine reports every verified candidate (review threshold 0), so a miss whose
  // best score fell below the review threshold can still name its best signature and coverage.
  ScanSettings diag_settings;
  diag_settings.match.review_threshold = 0.0;
  const Engine diag_engine(db, diag_settings);
  const Engine engine(std::move(db));

  // Variants.
  std::string cache_dir = opt.cache.empty() ? std::string(S3D_EVAL_CACHE_ROOT) : opt.cache;
  cache_dir = (std::filesystem::path(cache_dir) / std::to_string(opt.seed)).string();
  const VariantCache cache(cache_dir);
  report.run.cache_dir = cache_dir;
  {
    char fp[40];
    std::snprintf(fp, sizeof fp, "%s-%016llx", kVariantCacheVersion,
                  static_cast<unsigned long long>(generator_fingerprint()));
    report.generator = fp;
  }

  // Plate companions come from the benign set: loaded and of printable size.
  std::vector<size_t> companion_pool;
  for (size_t i : split.benign) {
    const CorpusEntry& e = corpus.entries[i];
    if (e.loaded && e.diag_mm >= kMinRefDiagMm && e.diag_mm <= kMaxRefDiagMm) companion_pool.push_back(i);
  }

  struct Job {
    VariantRequest req;
    std::string group;
    std::string subject;
  };
  std::vector<Job> jobs;
  for (const VariantClassInfo* c : selected) {
    ClassRow row;
    row.name = c->name;
    row.run = c->not_run == nullptr;
    if (!row.run) {
      row.note = c->not_run;
      report.classes.push_back(row);
      continue;
    }
    row.planned = refs.size() * static_cast<size_t>(c->count);
    report.classes.push_back(row);
    for (size_t r : refs) {
      const CorpusEntry& e = corpus.entries[r];
      for (int k = 0; k < c->count; ++k) {
        Job job;
        job.req.cls = c->cls;
        job.req.k = k;
        job.req.run_seed = opt.seed;
        job.req.reference_name = e.file;
        job.req.reference = &e.mesh;
        if (c->cls == VariantClass::kPlate) {
          std::vector<size_t> pool = companion_pool;
          Rng rng(derive_seed(variant_seed(opt.seed, e.file, c->cls, k), fnv1a("companions")));
          rng.shuffle(pool);
          for (size_t p = 0; p < pool.size() && p < kPlateCompanions; ++p) {
            job.req.companions.push_back(&corpus.entries[pool[p]].mesh);
            job.req.companion_names.push_back(corpus.entries[pool[p]].file);
          }
        }
        job.group = c->name;
        job.subject = e.file + " " + variant_name(c->cls, k);
        jobs.push_back(std::move(job));
      }
    }
  }

  // Benign files sliced to G-code (when a G-code class runs): the false-positive check for G-code.
  bool gcode_classes = false;
  for (const VariantClassInfo* c : selected)
    gcode_classes |= (c->cls == VariantClass::kGcode || c->cls == VariantClass::kGcodeStripped ||
                      c->cls == VariantClass::kGcodeEvasive || c->cls == VariantClass::kGcodeFirmware) &&
                     c->not_run == nullptr;
  if (gcode_classes) {
    std::vector<size_t> pool;
    for (size_t i : companion_pool)
      if (corpus.entries[i].triangles <= kMaxBenignGcodeTriangles) pool.push_back(i);
    Rng rng(derive_seed(opt.seed, fnv1a("benign-gcode")));
    rng.shuffle(pool);
    if (pool.size() > kBenignGcodeFiles) pool.resize(kBenignGcodeFiles);
    for (size_t i : pool) {
      Job job;
      job.req.cls = VariantClass::kGcode;
      job.req.k = 0;
      job.req.run_seed = opt.seed;
      job.req.reference_name = corpus.entries[i].file;
      job.req.reference = &corpus.entries[i].mesh;
      job.group = "benign-gcode";
      job.subject = corpus.entries[i].file + " gcode";
      jobs.push_back(std::move(job));
    }
  }

  const Clock::time_point t_gen = Clock::now();
  std::cerr << "screen3d-eval: " << refs.size() << " references, " << jobs.size() << " variants (generator " << report.generator << ", cache " << cache_dir << ")\n";
  std::vector<VariantOutcome> outcomes(jobs.size());
  tbb::parallel_for(size_t{0}, jobs.size(), [&](size_t i) { outcomes[i] = cache.get(jobs[i].req); });
  report.run.generate_s = seconds_since(t_gen);
  if (opt.generate_only) {
    size_t ok = 0;
    for (size_t i = 0; i < jobs.size(); ++i) {
      ok += outcomes[i].ok;
      if (!outcomes[i].ok) std::cerr << "  not generated: " << jobs[i].subject << ": " << outcomes[i].reason << "\n";
    }
    std::cerr << "screen3d-eval: " << ok << "/" << jobs.size() << " variants in " << cache_dir << " ("
              << report.run.generate_s << " s)\n";
    return 0;
  }

  std::vector<GenerationFailure> failures, notes;
  struct ScanJob {
    std::string path, group, subject;
    long corpus_entry = -1;  // benign files: the corpus entry (checked for being a copy of a reference)
    const Mesh* reference = nullptr;  // variants: the reference they were made from
  };
  std::vector<ScanJob> scans;
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (outcomes[i].cache_hit)
      ++report.run.cache_hits;
    else
      ++report.run.cache_misses;
    if (!outcomes[i].ok)
      failures.push_back({jobs[i].group, jobs[i].subject, outcomes[i].reason});
    else
      scans.push_back({outcomes[i].path, jobs[i].group, jobs[i].subject, -1, jobs[i].req.reference});
    if (outcomes[i].ok && !outcomes[i].note.empty()) notes.push_back({jobs[i].group, jobs[i].subject, outcomes[i].note});
  }
  for (size_t i : split.benign)
    scans.push_back({corpus.path_of(corpus.entries[i]), "benign", corpus.entries[i].file, static_cast<long>(i)});
  // Plain look-alikes: a box, rods and pipes the size of each reference (engine/reference_checks.h),
  // each in a random pose, written beside the variants. Benign by construction.
  {
    const std::filesystem::path dir = std::filesystem::path(cache_dir) / "plain";
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    std::vector<std::vector<ScanJob>> per_ref(refs.size());
    tbb::parallel_for(size_t{0}, refs.size(), [&](size_t r) {
      const CorpusEntry& e = corpus.entries[refs[r]];
      const std::vector<PlainSolid>& solids = plain_solids[refs[r]];
      for (size_t k = 0; k < solids.size(); ++k) {
        const std::string path = (dir / (e.file + ".plain." + std::to_string(k) + ".stl")).string();
        try {
          write_stl_binary(variants::random_rigid(solids[k].mesh, derive_seed(derive_seed(opt.seed, fnv1a(e.file)), k)), path);
          per_ref[r].push_back({path, "plain", e.file + " plain/" + solids[k].shape});
        } catch (const std::exception& err) {
          per_ref[r].push_back({path, "plain", e.file + " plain/" + solids[k].shape + " (not written: " + err.what() + ")"});
        }
      }
    });
    for (const auto& v : per_ref) scans.insert(scans.end(), v.begin(), v.end());
  }
  for (size_t i : split.siblings) scans.push_back({corpus.path_of(corpus.entries[i]), "sibling", corpus.entries[i].file});

  // Scan.
  const Clock::time_point t_scan = Clock::now();
  std::cerr << "screen3d-eval: scanning " << scans.size() << " files\n";
  std::vector<ScanRecord> records(scans.size());
  std::atomic<size_t> done{0};
  const size_t progress_step = std::max<size_t>(1, scans.size() / 10);
  tbb::parallel_for(size_t{0}, scans.size(), [&](size_t i) {
    const Clock::time_point t0 = Clock::now();
    const ScanResult r = engine.scan_file(scans[i].path);
    const double ms = seconds_since(t0) * 1000.0;
    records[i] = to_record(r, scans[i].group, scans[i].subject, ms);
    if (scans[i].corpus_entry >= 0 && !r.matches.empty() &&
        (r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview)) {
      const MatchEvidence& m = r.matches.front();
      if (m.signature_index < refs.size()) {
        // A hash match (SHA-256, geometry or pose hash) is a copy by construction: the file's
        // triangles are the reference's up to a rigid motion or a mirror. Its evidence carries no
        // alignment transform, so the sample check below would read 0 for it.
        if (m.method != "shape") {
          records[i].copy_fit = 1.0;
        } else {
          const auto [fwd, back] =
              two_sided_fit(corpus.entries[refs[m.signature_index]].mesh, corpus.entries[scans[i].corpus_entry].mesh, m);
          records[i].copy_fit = std::min(fwd, back);
        }
        if (records[i].copy_fit >= kCopyFit) records[i].group = "copy";
      }
    }
    // Detected edit variants: how far the edit takes the part from its reference, on the same
    // two-sided measure as the copy check. This is the yardstick for benign near-copies below.
    if (scans[i].group == "edit" && scans[i].reference && !r.matches.empty() &&
        (r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview)) {
      const MatchEvidence& m = r.matches.front();
      if (m.signature_index < refs.size() && &corpus.entries[refs[m.signature_index]].mesh == scans[i].reference) {
        try {
          ReadOptions ro;
          FileBytes bytes(scans[i].path, ro.limits);
          const LoadedModel lm = load_model(bytes.bytes(), ro);
          const auto [fwd, back] = two_sided_fit(*scans[i].reference, lm.mesh, m);
          records[i].copy_fit = std::min(fwd, back);
        } catch (const std::exception&) {
          // not measured; the record keeps copy_fit = -1
        }
      }
    }
    const size_t n = done.fetch_add(1) + 1;
    if (n % progress_step == 0 || n == scans.size())
      std::fprintf(stderr, "screen3d-eval: scanned %zu/%zu (%.0f s)\n", n, scans.size(), seconds_since(t_scan));
  });
  report.near_copy_fit = mark_near_copies(records);
  // Missed variants and clean siblings carry no evidence: rescan them with the diagnostic engine for
  // their best candidate. The verdict stays the one the real engine gave.
  static const std::set<std::string> kNoDiagnosticRescan = {"benign", "benign-gcode", "copy", "near-copy", "plain"};
  std::vector<size_t> rescans;
  for (size_t i = 0; i < records.size(); ++i)
    if (!kNoDiagnosticRescan.count(records[i].group) && records[i].verdict == Verdict::kClean &&
        records[i].best_signature.empty())
      rescans.push_back(i);
  tbb::parallel_for(size_t{0}, rescans.size(), [&](size_t j) {
    ScanRecord& rec = records[rescans[j]];
    const ScanResult r = diag_engine.scan_file(scans[rescans[j]].path);
    if (r.matches.empty()) return;
    set_best(rec, r.matches.front());
    rec.below_review = true;
  });
  report.run.scan_s = seconds_since(t_scan);

  summarise(report, records, failures, notes);
  report.run.threads = opt.threads;
  report.run.wall_s = seconds_since(t_start);

  print_report(std::cout, report);
  if (!opt.out.empty()) {
    std::ofstream f(opt.out, std::ios::binary | std::ios::trunc);
    f << report_to_json(report).dump(2) << "\n";
    if (!f) {
      std::cerr << "screen3d-eval: cannot write " << opt.out << "\n";
      return 2;
    }
  }

  int status = 0;
  if (opt.min_detection >= 0 && report.overall_rate() < opt.min_detection) {
    std::cerr << "screen3d-eval: detection rate " << report.overall_rate() << " below --min-detection " << opt.min_detection
              << "\n";
    status = 1;
  }
  if (opt.max_false_positives >= 0 && report.benign.restricted > static_cast<size_t>(opt.max_false_positives)) {
    std::cerr << "screen3d-eval: " << report.benign.restricted << " false positives, above --max-false-positives "
              << opt.max_false_positives << "\n";
    status = 1;
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  CLI::App app{"screen3d-eval: detection evaluation of screen3d on a benign corpus and generated variants"};
  app.add_option("--corpus", opt.corpus, "corpus folder holding MANIFEST.tsv and the model files");
  app.add_option("--refs", opt.refs, "number of references, from distinct families (default 20; 5 with --quick)")
      ->check(CLI::Range(1, 10000));
  app.add_option("--seed", opt.seed, "seed of every random choice (default 1)");
  app.add_option("--classes", opt.classes, "comma-separated variant classes (default: all)");
  app.add_option("--out", opt.out, "write the report as JSON to this file");
  app.add_flag("--quick", opt.quick, "5 references, classes rigid,mirror,plate, 40 benign files");
  app.add_option("--cache", opt.cache, "variant cache root (files go to <cache>/<seed>/)");
  app.add_option("--threads", opt.threads, "worker threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--min-detection", opt.min_detection, "exit 1 when the overall detection rate is below this")
      ->check(CLI::Range(0.0, 1.0));
  app.add_option("--max-false-positives", opt.max_false_positives, "exit 1 when more benign files are restricted")
      ->check(CLI::Range(0L, 1000000000L));
  app.add_flag("--generate-only", opt.generate_only, "only make the variants (fill the cache), scan nothing");
  app.add_option("--synthetic-corpus", opt.synthetic, "write a synthetic corpus (generated shapes) to this folder and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  auto* refs_opt = app.get_option("--refs");
  if (opt.quick && refs_opt->count() == 0) opt.refs = kQuickRefs;
  if (opt.threads <= 0) opt.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  tbb::global_control parallelism(tbb::global_control::max_allowed_parallelism, static_cast<size_t>(opt.threads));

  try {
    if (!opt.synthetic.empty()) {
      const size_t n = write_synthetic_corpus(opt.synthetic, opt.seed);
      std::cerr << "screen3d-eval: wrote a synthetic corpus of " << n << " files to " << opt.synthetic << "\n";
      if (opt.corpus.empty()) return 0;
    }
    if (opt.corpus.empty()) {
      std::cerr << "screen3d-eval: --corpus DIR is required (or --synthetic-corpus DIR)\n";
      return 2;
    }
    return run(opt);
  } catch (const std::exception& e) {
    std::cerr << "screen3d-eval: " << e.what() << "\n";
    return 2;
  }
}
