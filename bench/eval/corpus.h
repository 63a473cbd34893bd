#pragma once
// The evaluation corpus: a folder with MANIFEST.tsv (columns file, source, license, triangles, bytes,
// family) and the model files. Reads the manifest defensively (a bad row or a missing file is
// recorded, never fatal), loads the meshes, and splits the corpus into references, their family
// siblings and the benign set.
//
// Why only printable-size references: signatures quantise points to kQuantumMm (0.25 mm), so a
// reference a few millimetres across keeps almost no distinguishing detail, and a graphics test mesh
// in arbitrary units (a 1-unit bunny, a 2000-unit statue) is not a plausible printed part. Such files
// stay in the benign set, where they still test false positives. A reference therefore needs a
// bounding-box diagonal in [kMinRefDiagMm, kMaxRefDiagMm] and at least kMinRefTriangles triangles.
#include <cstdint>
#include <string>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::eval {

inline constexpr double kMinRefDiagMm = 15.0;
inline constexpr double kMaxRefDiagMm = 400.0;
inline constexpr uint64_t kMinRefTriangles = 200;

struct CorpusEntry {
  std::string file;      // name inside the corpus folder (no directory part)
  std::string source;
  std::string license;
  std::string family;
  uint64_t manifest_triangles = 0;
  uint64_t manifest_bytes = 0;
  // Filled by load_corpus_meshes():
  bool loaded = false;
  std::string load_error;  // why it could not be loaded (missing file, reader error)
  uint64_t triangles = 0;
  double diag_mm = 0;      // axis-aligned bounding-box diagonal of the referenced vertices
  Mesh mesh;
};

struct Corpus {
  std::string dir;
  std::vector<CorpusEntry> entries;      // manifest order
  std::vector<std::string> problems;     // bad manifest rows, unsafe names, duplicates
  std::string path_of(const CorpusEntry& e) const;
};

// Reads DIR/MANIFEST.tsv. Throws std::runtime_error when the manifest is missing, unreadable or
// lacks a required column; bad rows are skipped and listed in Corpus::problems.
Corpus read_corpus(const std::string& dir);

// Loads every entry's mesh in parallel (tbb). Failures are recorded per entry.
void load_corpus_meshes(Corpus& corpus);

// Axis-aligned bounding-box diagonal over the vertices that triangles reference (0 for no triangles).
double bbox_diagonal(const Mesh& mesh);

// Whether a loaded entry may serve as a reference (see the header comment).
bool is_reference_candidate(const CorpusEntry& e);

struct CorpusSplit {
  std::vector<size_t> references;   // entry indices, in pick order
  std::vector<size_t> siblings;     // non-reference entries in a reference's family
  std::vector<size_t> benign;       // everything else (including unloadable files: they are scanned too)
  size_t candidates = 0;            // how many entries qualified as reference candidates
};

// Picks up to `k` references from distinct families, deterministically from `seed` (seeded
// Fisher-Yates over the candidates, then first-come per family). When `benign_limit` > 0 the
// benign set is reduced to that many files, again chosen from the seed.
CorpusSplit split_corpus(const Corpus& corpus, size_t k, uint64_t seed, size_t benign_limit);

}  // namespace s3d::eval
