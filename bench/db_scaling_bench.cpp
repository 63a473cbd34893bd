// Scan time against a 20-entry and a 1,000-entry signature set, side by side in one run.
//   db_scaling_bench CORPUS_DIR [QUERIES=100] [ENTRIES=1000]
// Entries: one signature per even-numbered corpus file, then more from the same files rescaled
// by 1.6x, 2.3x, ... (outside the accepted scale range, so different parts to the matcher) until
// ENTRIES is reached; the 20-entry set is the first 20. Queries: the odd-numbered corpus files,
// rotated and moved, scanned single-threaded against both sets in alternation with the hash fast
// path off. Prints the median and p95 of each and the ratio of the medians.
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/eval/corpus.h"
#include "engine/scan.h"
#include "geometry/shapes.h"
#include "signatures/build_signature.h"

namespace {
using namespace s3d;

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5))];
}

Mesh scaled(const Mesh& m, double s) {
  Mesh c = m;
  shapes::transform(c, {s, 0, 0, 0, 0, s, 0, 0, 0, 0, s, 0, 0, 0, 0, 1});
  return c;
}

Mesh posed(const Mesh& m, size_t i) {
  Mesh c = m;
  const double a = 0.3 + 0.17 * double(i % 11), b = 0.9 - 0.11 * double(i % 7);
  const double ca = std::cos(a), sa = std::sin(a), cb = std::cos(b), sb = std::sin(b);
  // Rz(a) * Rx(b), then a shift.
  shapes::transform(c, {ca, -sa * cb, sa * sb, 17, sa, ca * cb, -ca * sb, -9, 0, sb, cb, 31, 0, 0, 0, 1});
  return c;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: db_scaling_bench CORPUS_DIR [QUERIES=100] [ENTRIES=1000]\n");
    return 2;
  }
  const size_t n_queries = argc > 2 ? std::stoul(argv[2]) : 100;
  const size_t n_entries = argc > 3 ? std::stoul(argv[3]) : 1000;
  eval::Corpus corpus = eval::read_corpus(argv[1]);
  eval::load_corpus_meshes(corpus);
  // Entries come from the even-numbered files, queries from the odd-numbered ones, so no query is
  // in either set: both engines do the same kind of work (retrieval, then verification to a "no").
  std::vector<const Mesh*> meshes, queries;
  size_t n_loaded = 0;
  for (const auto& e : corpus.entries)
    if (e.loaded && e.diag_mm > 1.0) (n_loaded++ % 2 == 0 ? meshes : queries).push_back(&e.mesh);
  if (meshes.empty() || queries.empty()) return 2;

  std::vector<Signature> sigs(n_entries);
  tbb::parallel_for(size_t{0}, n_entries, [&](size_t i) {
    const Mesh& m = *meshes[i % meshes.size()];
    const size_t round = i / meshes.size();
    sigs[i] = build_signature(round == 0 ? m : scaled(m, 1.6 + 0.7 * double(round - 1)));
    char id[32];
    std::snprintf(id, sizeof id, "s-%06zu", i + 1);
    sigs[i].meta.id = id;
    sigs[i].meta.label = id;
  });
  std::vector<Signature> small(sigs.begin(), sigs.begin() + std::min<size_t>(20, sigs.size()));
  // Hashes off: the posed queries are exact copies of 1,000-set entries, and the point is to time
  // retrieval and verification.
  ScanSettings settings;
  settings.match.use_hashes = false;
  const Engine e20(std::move(small), settings);
  const Engine e1000(std::move(sigs), settings);

  // Single-threaded scans, so the two sets see the same conditions.
  tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
  std::vector<double> t20, t1000;
  const size_t step = std::max<size_t>(1, queries.size() / n_queries);
  for (size_t i = 0, k = 0; i < queries.size() && k < n_queries; i += step, ++k) {
    const Mesh q = posed(*queries[i], i);
    t20.push_back(e20.scan_mesh(q, "q").elapsed_ms);
    t1000.push_back(e1000.scan_mesh(q, "q").elapsed_ms);
  }
  std::printf("queries %zu, entries %zu vs %zu\n", t20.size(), e20.signature_count(), e1000.signature_count());
  std::printf("20 entries:   median %.1f ms, p95 %.1f ms\n", percentile(t20, 0.5), percentile(t20, 0.95));
  std::printf("%zu entries: median %.1f ms, p95 %.1f ms\n", e1000.signature_count(), percentile(t1000, 0.5),
              percentile(t1000, 0.95));
  std::printf("median ratio %.2fx\n", percentile(t1000, 0.5) / std::max(1e-9, percentile(t20, 0.5)));
  return 0;
}
