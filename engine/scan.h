#pragma once
// The scan API: compile a signature set once into an immutable Engine shared by all threads, then
// screen files, buffers or meshes. A verdict is not an error: ScanResult carries both separately.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/limits.h"
#include "geometry/mesh.h"
#include "signatures/signature.h"

namespace s3d {

enum class Verdict : uint8_t { kClean, kReview, kRestricted, kError, kSkipped };
const char* verdict_name(Verdict v);  // "clean", "review", "restricted", "error", "skipped"

// Matching settings; defaults are chosen from the evaluation (bench/eval).
struct MatchSettings {
  double restricted_threshold = 0.80;  // score >= this -> restricted
  double review_threshold = 0.65;      // score in [review, restricted) -> review
  double min_scale = 0.85;             // accepted scale range of the file relative to the reference;
  double max_scale = 1.18;             //   a strong match outside it is downgraded to review,
                                       //   a weaker one is clean
  // A shape match to a reference with a measured plain-look-alike score (Signature::plain_match) is
  // restricted only at that score plus this margin, about the spread of a genuine copy's score
  // between remeshings and poses; below it, review.
  double plain_margin = 0.04;
  uint32_t query_points = 24000;       // surface sample size per file
  uint32_t candidates_per_unit = 5;    // signatures verified per query unit after retrieval
  uint64_t seed = 0x5eed;
  bool use_hashes = true;              // exact copies by file and geometry hashes before shape matching
};

struct ScanSettings {
  MatchSettings match;
  Limits limits;
};

struct MatchEvidence {
  uint32_t signature_index = 0;   // index into the engine's signature list
  std::string signature_id;
  std::string label;
  Category category = Category::kOther;
  double score = 0;               // [0, 1]
  double coverage = 0;            // weighted fraction of the reference surface found in the file
  double extraneous = 0;          // fraction of file material inside the reference footprint where the reference has none
  double scale = 1;               // file size / reference size
  bool mirrored = false;
  std::array<double, 12> transform{};  // row-major 3x4: reference canonical frame -> file coordinates
  std::vector<uint32_t> bodies;   // file bodies that carry the match
  std::string method = "shape";   // "sha256", "geometry-hash", "pose-hash" (exact copies, found at once) or "shape"
  // The signature's Signature::plain_match (the best score of a plain box, rod or pipe of the
  // reference's size, measured by `sig add`); < 0 when not measured.
  double plain_match = -1;
  // True when this match reached the restricted threshold but not a clear margin over plain_match,
  // so it counts as review: a plain solid of that size would score about as high.
  bool not_distinctive = false;
};

struct ScanResult {
  std::string path;
  std::string sha256;
  std::string md5, sha1;  // only when the database lists files by MD5 or SHA-1 (empty otherwise)
  Format format = Format::kUnknown;
  Verdict verdict = Verdict::kClean;
  double score = 0;
  uint32_t bodies = 0;
  std::vector<MatchEvidence> matches;  // best first
  std::string error;                   // empty when none
  // What the reader tolerated in a file it could read (Mesh::notes): screened all the same, but an
  // examiner should know (a binary STL whose header count disagrees with its size, ...).
  std::vector<std::string> notes;
  double elapsed_ms = 0;
};

// A result that carries no screening: `v` is kError (could not be screened) or kSkipped (not a
// 3D file), with the one-line reason.
ScanResult unscreened_result(const std::string& path, Verdict v, const std::string& why, Format f = Format::kUnknown);

class Matcher;  // engine/matcher.h
namespace gcode {
struct Print;        // geometry/gcode/print_from_gcode.h
struct PrintSample;  // geometry/gcode/reconstruct.h
}  // namespace gcode

class Engine {
 public:
  Engine(std::vector<Signature> signatures, ScanSettings settings = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Opens a signature database file (throws std::runtime_error with a clear message).
  static std::unique_ptr<Engine> from_database(const std::string& db_path, ScanSettings settings = {});

  // All thread-safe. They never throw for bad input: errors come back in ScanResult::error.
  // `cancel` (optional): another thread sets it to stop the scan, which then ends within about one
  // step with an error result "not screened: cancelled"; Limits::max_seconds stops it the same way.
  ScanResult scan_file(const std::string& path, const std::atomic<bool>* cancel = nullptr) const;
  // `known_sha256`: the hex SHA-256 of data when the caller already has it (the streaming scan).
  ScanResult scan_bytes(std::span<const uint8_t> data, const std::string& name, const std::string& known_sha256 = {},
                        const std::atomic<bool>* cancel = nullptr) const;
  ScanResult scan_mesh(const Mesh& mesh, const std::string& name) const;  // no hashing, format unknown
  // G-code reconstructed by the caller (the streaming scan, engine/stream.h), screened as scan_file
  // screens G-code; `error` non-empty gives an error result.
  ScanResult scan_prints(std::vector<gcode::Print> prints, const std::string& name, Format format,
                         const std::string& sha256, const std::string& error = {}) const;
  // The verdict for a print seen so far (the streaming scan's early verdict); *score receives the best score.
  Verdict check_partial(const gcode::PrintSample& sample, double* score = nullptr) const;

  // A result for an archive whose own bytes are a listed file (a file-hash signature): restricted,
  // method "sha256". Nothing when the database lists no files (no hashing then) or this one is not
  // listed. (Every other input is checked against the listed files by the scans above.)
  std::optional<ScanResult> scan_listed_container(std::span<const uint8_t> data, const std::string& name,
                                                  Format format) const;

  const ScanSettings& settings() const { return settings_; }
  size_t signature_count() const;
  size_t listed_file_count() const;  // of them, files listed by a digest (sig add-hashes)

 private:
  ScanSettings settings_;
  std::unique_ptr<Matcher> matcher_;
};

}  // namespace s3d
