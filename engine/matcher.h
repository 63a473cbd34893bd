#pragma once
// The matcher: a signature set compiled once (dequantised samples, k-d trees) and shared read-only by
// all threads. match() screens one mesh in stages:
//   1. query preparation: bodies, a surface sample, units (the whole file, clusters of nearby bodies,
//      single bodies) each with a principal frame and a global descriptor;
//   2. retrieval: per unit, signatures of plausible size ranked by descriptor distance (top K);
//   3. verification: one-sided ICP of the reference sample onto the file from several frames
//      (principal-axis sign flips cover mirroring, extra rotations cover symmetric parts, flush-face
//      offsets cover parts embedded in extra material), then joint per-body refinement for split parts;
//   4. score: distinctiveness-weighted coverage of the reference surface, reduced when the file has
//      material inside the reference's footprint where the reference has none.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/scan.h"
#include "geometry/limits.h"
#include "geometry/mesh.h"
#include "geometry/sample_surface.h"
#include "signatures/signature.h"

namespace s3d {

struct CompiledRef;

struct MatchOutcome {
  std::vector<MatchEvidence> matches;  // best first, only those at or above the review threshold
  double best_score = 0;
  uint32_t bodies = 0;
  Verdict verdict = Verdict::kClean;
};

// A query given as a surface sample rather than a mesh (G-code reconstruction): points with outward
// normals and a body per point, with each body's surface area (for sampling density) and volume.
struct SampledInput {
  SurfaceSample sample;
  std::vector<double> body_area;    // mm^2 per body
  std::vector<double> body_volume;  // mm^3 per body; 0 when unknown
  uint32_t bodies = 0;
};

class Matcher {
 public:
  Matcher(std::vector<Signature> signatures, const MatchSettings& settings);
  ~Matcher();
  // `sha256_hex` (optional) is the file's hash: a reference's own file is recognised at once, as are
  // exact re-exports and re-posed copies (canonical geometry hashes).
  // `stop` (optional): the scan's time limit and cancel flag, checked between steps (throws LoadError).
  MatchOutcome match(const Mesh& mesh, const std::string& sha256_hex = {}, const StopToken* stop = nullptr) const;
  // The same stages for a sample (no geometry hashes: a sample has no exact triangle set).
  MatchOutcome match_sample(const SampledInput& input, const StopToken* stop = nullptr) const;
  // Every signature: shapes and file hashes.
  size_t size() const { return refs_.size() + known_files_.size(); }
  // The evidence for a file whose digest (lower-case hex: SHA-256, MD5 or SHA-1, told apart by
  // length) a listed-file signature holds (SignatureMeta::listed), method "sha256", "md5" or
  // "sha1"; nothing otherwise, or with use_hashes off.
  std::optional<MatchEvidence> known_file(std::string_view digest_hex) const;
  bool has_known_files() const { return !known_files_.empty(); }
  size_t known_file_count() const { return known_files_.size(); }
  // Whether some listed file is known by MD5 or SHA-1 only: inputs must then be hashed so too.
  bool wants_md5_sha1() const { return wants_md5_sha1_; }
  // Unit factors (25.4, 1/25.4, 1000, 1/1000) by which a file whose bounding box has diagonal
  // `diag_mm` would come to the size of some reference (within the accepted scale range): a part
  // exported in inches or metres, which slicers offer to convert on import. Usually empty.
  // (Centimetres, x10, are left out: ordinary parts a tenth of a reference's size are common.)
  std::vector<double> unit_factors_for(double diag_mm) const;

 private:
  MatchSettings settings_;
  std::vector<std::unique_ptr<CompiledRef>> refs_;  // the shape signatures
  std::vector<uint32_t> ref_index_;                  // each one's index in the engine's signature list
  std::unordered_map<std::string, MatchEvidence> known_files_;  // listed-file signatures by digest hex
  bool wants_md5_sha1_ = false;
  void to_signature_indices(MatchOutcome& m) const;
};

}  // namespace s3d
