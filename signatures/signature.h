#pragma once
// One signature: what the database keeps about one reference part. By design it is NOT a blueprint:
// no connectivity, at most kMaxSamplePoints surface points quantized to kQuantumMm, plus descriptors.
// A test (tests/signature_db_test.cpp) enforces these caps on every entry written.
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "geometry/shape_descriptor.h"

namespace s3d {

enum class Category : uint8_t { kReceiver = 0, kFrame = 1, kFireControl = 2, kOther = 3 };
const char* category_name(Category c);          // "receiver", "frame", "fire-control", "other"
bool parse_category(const std::string& s, Category* out);

constexpr uint32_t kMaxSamplePoints = 4096;

// A signature that lists a file by a digest of its bytes instead of describing a shape (screen3d sig
// add-hashes, from hash lists such as sha256sum, md5sum and sha1sum write).
enum class ListedHash : uint8_t { kNone = 0, kSha256 = 1, kMd5 = 2, kSha1 = 3 };
// Bytes of each digest (0 for kNone), and its name in evidence and listings ("sha256", "md5", "sha1").
size_t listed_hash_bytes(ListedHash h);
const char* listed_hash_name(ListedHash h);
constexpr float kQuantumMm = 0.25f;

struct SignatureMeta {
  std::string id;            // "s-000007", assigned by the database
  std::string label;
  Category category = Category::kOther;
  uint8_t severity = 5;      // 1 (low) .. 10 (high)
  std::array<uint8_t, 32> sha256{};      // of the reference file's bytes
  uint64_t exact_hash = 0;   // canonical hash of the triangle set (survives re-export)
  uint64_t pose_hash = 0;    // hash invariant to rotation, translation and mirroring (survives re-posing)
  std::string added_by;
  int64_t added_at = 0;      // unix seconds
  std::string tool_version;
  // Not kNone: a listed file, not a shape. Only its digest is known, in `sha256`'s first
  // listed_hash_bytes() bytes (the rest zero): all 32 for SHA-256, 16 for MD5, 20 for SHA-1. It
  // matches byte-identical files of any type -- a STEP or a zip as well as an STL -- and nothing
  // else; the signature has no points, sizes or descriptor.
  ListedHash listed = ListedHash::kNone;
};

// A sample point in the reference's canonical frame (centroid at origin, principal axes), quantized:
// coordinate = q * kQuantumMm. The normal is quantized to int8 per component (n = q / 127).
struct QuantizedPoint {
  std::array<int32_t, 3> q;
  std::array<int8_t, 3> n;
  uint8_t weight;            // distinctiveness 0..255 (edges, holes, curvature weigh more than planes)
};

struct Signature {
  SignatureMeta meta;
  ShapeDescriptor descriptor;            // global, pose- and scale-invariant
  float diag_mm = 0;                     // absolute size: bounding-box diagonal in the canonical frame
  std::array<float, 3> extents_mm{};     // canonical-frame box extents, descending
  float area_mm2 = 0;
  float volume_mm3 = 0;
  std::vector<QuantizedPoint> points;    // <= kMaxSamplePoints
  // The best score a plain solid of the reference's size (box, rod, pipe: plain_solids_like in
  // engine/reference_checks.h) reaches against this signature, measured when the reference is
  // added; < 0 when not measured. A reference its own plain look-alikes match is not distinctive,
  // and a shape match to it needs a clear margin over this score to be restricted (the matcher).
  // Stored in steps of 1/254.
  float plain_match = -1;
};

}  // namespace s3d
