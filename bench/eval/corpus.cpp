#include "bench/eval/corpus.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <stdexcept>
#include <unordered_map>

#include "bench/eval/rng.h"
#include "geometry/file_bytes.h"
#include "geometry/load.h"
#include "geometry/load_error.h"

namespace s3d::eval {
namespace {

constexpr size_t kMaxManifestBytes = 64u << 20;  // a manifest is a few kB; refuse absurd ones
constexpr size_t kMaxManifestRows = 1'000'000;

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const size_t tab = line.find('\t', start);
    out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
    if (tab == std::string::npos) break;
    start = tab + 1;
  }
  return out;
}

bool parse_u64(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// A manifest names files inside the corpus folder only: no separators, no "..", no control bytes.
bool safe_file_name(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.size() > 255) return false;
  for (unsigned char c : name)
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7f) return false;
  return true;
}

}  // namespace

std::string Corpus::path_of(const CorpusEntry& e) const { return (std::filesystem::path(dir) / e.file).string(); }

Corpus read_corpus(const std::string& dir) {
  Corpus c;
  c.dir = dir;
  const std::filesystem::path manifest = std::filesystem::path(dir) / "MANIFEST.tsv";
  std::error_code ec;
  if (!std::filesystem::is_regular_file(manifest, ec))
    throw std::runtime_error(manifest.string() + ": no MANIFEST.tsv (not a corpus folder)");
  const auto size = std::filesystem::file_size(manifest, ec);
  if (ec) throw std::runtime_error(manifest.string() + ": cannot stat: " + ec.message());
  if (size > kMaxManifestBytes) throw std::runtime_error(manifest.string() + ": manifest larger than 64 MiB");
  std::ifstream in(manifest, std::ios::binary);
  if (!in) throw std::runtime_error(manifest.string() + ": cannot open");

  std::string line;
  if (!std::getline(in, line)) throw std::runtime_error(manifest.string() + ": empty manifest");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  const std::vector<std::string> header = split_tabs(line);
  auto column = [&](const char* name) -> size_t {
    const auto it = std::find(header.begin(), header.end(), name);
    if (it == header.end()) throw std::runtime_error(manifest.string() + ": header lacks column '" + name + "'");
    return static_cast<size_t>(it - header.begin());
  };
  const size_t col_file = column("file"), col_source = column("source"), col_license = column("license"),
               col_tris = column("triangles"), col_bytes = column("bytes"), col_family = column("family");

  std::set<std::string> seen;
  size_t row = 1;
  while (std::getline(in, line)) {
    ++row;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    if (c.entries.size() >= kMaxManifestRows) {
      c.problems.push_back("manifest: more than " + std::to_string(kMaxManifestRows) + " rows, rest ignored");
      break;
    }
    const std::vector<std::string> f = split_tabs(line);
    if (f.size() != header.size()) {
      c.problems.push_back("manifest row " + std::to_string(row) + ": " + std::to_string(f.size()) + " columns, expected " +
                           std::to_string(header.size()));
      continue;
    }
    CorpusEntry e;
    e.file = f[col_file];
    e.source = f[col_source];
    e.license = f[col_license];
    e.family = f[col_family];
    if (!safe_file_name(e.file)) {
      c.problems.push_back("manifest row " + std::to_string(row) + ": unsafe or empty file name, skipped");
      continue;
    }
    if (!seen.insert(e.file).second) {
      c.problems.push_back("manifest row " + std::to_string(row) + ": duplicate file " + e.file + ", skipped");
      continue;
    }
    if (!parse_u64(f[col_tris], &e.manifest_triangles) || !parse_u64(f[col_bytes], &e.manifest_bytes))
      c.problems.push_back("manifest row " + std::to_string(row) + ": bad triangles/bytes value for " + e.file);
    if (e.family.empty()) e.family = "file:" + e.file;  // its own family
    c.entries.push_back(std::move(e));
  }
  return c;
}

double bbox_diagonal(const Mesh& mesh) {
  double lo[3] = {std::numeric_limits<double>::infinity(), std::numeric_limits<double>::infinity(),
                  std::numeric_limits<double>::infinity()};
  double hi[3] = {-lo[0], -lo[1], -lo[2]};
  bool any = false;
  for (const Tri& t : mesh.triangles)
    for (uint32_t vi : t) {
      if (vi >= mesh.vertices.size()) continue;
      const Vec3f& v = mesh.vertices[vi];
      for (int a = 0; a < 3; ++a) {
        lo[a] = std::min(lo[a], static_cast<double>(v[a]));
        hi[a] = std::max(hi[a], static_cast<double>(v[a]));
      }
      any = true;
    }
  if (!any) return 0;
  const double dx = hi[0] - lo[0], dy = hi[1] - lo[1], dz = hi[2] - lo[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

void load_corpus_meshes(Corpus& corpus) {
  tbb::parallel_for(size_t{0}, corpus.entries.size(), [&](size_t i) {
    CorpusEntry& e = corpus.entries[i];
    try {
      const std::string path = corpus.path_of(e);
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) throw std::runtime_error("missing file");
      ReadOptions opt;
      FileBytes bytes(path, opt.limits);
      LoadedModel m = load_model(bytes.bytes(), opt);
      e.mesh = std::move(m.mesh);
      e.triangles = e.mesh.triangle_count();
      e.diag_mm = bbox_diagonal(e.mesh);
      e.loaded = true;
    } catch (const LoadError& err) {
      e.load_error = std::string(error_code_name(err.code())) + ": " + err.what();
    } catch (const std::exception& err) {
      e.load_error = err.what();
    }
  });
}

bool is_reference_candidate(const CorpusEntry& e) {
  return e.loaded && std::isfinite(e.diag_mm) && e.diag_mm >= kMinRefDiagMm && e.diag_mm <= kMaxRefDiagMm &&
         e.triangles >= kMinRefTriangles;
}

CorpusSplit split_corpus(const Corpus& corpus, size_t k, uint64_t seed, size_t benign_limit) {
  CorpusSplit s;
  std::vector<size_t> candidates;
  for (size_t i = 0; i < corpus.entries.size(); ++i)
    if (is_reference_candidate(corpus.entries[i])) candidates.push_back(i);
  s.candidates = candidates.size();
  Rng rng(derive_seed(seed, fnv1a("references")));
  rng.shuffle(candidates);
  std::set<std::string> ref_families;
  for (size_t i : candidates) {
    if (s.references.size() >= k) break;
    if (ref_families.insert(corpus.entries[i].family).second) s.references.push_back(i);
  }
  const std::set<size_t> refs(s.references.begin(), s.references.end());
  for (size_t i = 0; i < corpus.entries.size(); ++i) {
    if (refs.count(i)) continue;
    if (ref_families.count(corpus.entries[i].family))
      s.siblings.push_back(i);
    else
      s.benign.push_back(i);
  }
  if (benign_limit > 0 && s.benign.size() > benign_limit) {
    Rng brng(derive_seed(seed, fnv1a("benign-subset")));
    brng.shuffle(s.benign);
    s.benign.resize(benign_limit);
    std::sort(s.benign.begin(), s.benign.end());
  }
  return s;
}

}  // namespace s3d::eval
