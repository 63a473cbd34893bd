#pragma once
// The variant-generation driver: turns (reference mesh, variant class, k, seed) into a file on disk,
// using the transforms of geometry/variants.h and the writers of geometry/write_mesh.h, and caches
// the result so repeated evaluations do not regenerate it. Reusable outside the evaluation (tests,
// benchmarks): nothing here depends on the corpus or the engine.
//
// Determinism: each variant draws its random parameters from its own seed, derived from the run
// seed, the reference name, the class and k, so adding a class or a reference never changes the
// other variants. The same request gives a byte-identical file.
//
// Cache: files live in one folder (by default <build>/bench/cache/<seed>/). The file name carries a
// 64-bit key over kVariantCacheVersion, the generator fingerprint, the seed, the class, k, and the
// content of the reference (and of the plate companions); bump kVariantCacheVersion whenever this
// driver changes what it generates. The fingerprint guards against the transforms changing under
// the cache: it hashes what every transform (and the binary STL writer) makes of a small fixed
// probe part, computed once per process (about a second), so a changed variants.cpp invalidates
// the cache without anyone remembering to bump a version. A transform
// that fails is cached too (a `.fail` file holding the reason), so it is reported, not retried.
// A variant made by a fallback (a boolean that could not be exact) keeps its note in a `.note` file.
// Files are written to a temporary name and renamed, so an interrupted run leaves no partial file.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/mesh.h"

namespace s3d::eval {

inline constexpr const char* kVariantCacheVersion = "v2";

enum class VariantClass : uint8_t {
  kRigid,
  kScale,
  kMirror,
  kRemesh,
  kNoise,
  kFormat,
  kPlate,
  kSplit,
  kEmbedded,
  kEdit,
  kGcode,
  kGcodeStripped,
  kSmooth,  // after the others: class numbers feed variant seeds
  kGcodeEvasive,
  kGcodeFirmware,
};

struct VariantClassInfo {
  VariantClass cls;
  const char* name;        // command-line and report name
  int count;               // variants per reference
  const char* not_run;     // non-null: listed but not run, with this reason
};

// All classes in report order.
std::span<const VariantClassInfo> variant_classes();
// nullptr when unknown.
const VariantClassInfo* find_variant_class(std::string_view name);
// Short name of variant k of a class, e.g. "remesh/decimate-30", "format/obj".
std::string variant_name(VariantClass cls, int k);

struct VariantRequest {
  VariantClass cls = VariantClass::kRigid;
  int k = 0;
  uint64_t run_seed = 0;
  std::string reference_name;          // for the seed, the file name and the report
  const Mesh* reference = nullptr;
  // Plate only: the other models placed beside the reference (the driver uses as many as given).
  std::vector<const Mesh*> companions;
  std::vector<std::string> companion_names;
};

struct VariantOutcome {
  bool ok = false;
  bool cache_hit = false;
  std::string path;     // the variant file (ok)
  std::string reason;   // why it was not generated (!ok)
  std::string note;     // generated, but by a fallback (e.g. overlapping geometry instead of a boolean union)
};

// Seed of one variant: a function of the run seed, the reference name, the class and k only.
uint64_t variant_seed(uint64_t run_seed, std::string_view reference_name, VariantClass cls, int k);

// The generator fingerprint described above (computed on first use, then cached; thread-safe).
uint64_t generator_fingerprint();

class VariantCache {
 public:
  // Creates `dir` if needed (throws std::runtime_error when it cannot).
  explicit VariantCache(std::string dir);
  const std::string& dir() const { return dir_; }

  // Returns the cached file or generates it. Thread-safe for distinct requests; never throws for a
  // failing transform or writer (the outcome says why).
  VariantOutcome get(const VariantRequest& req) const;

 private:
  std::string dir_;
};

}  // namespace s3d::eval
