#pragma once
// Turns a reference mesh into a Signature: descriptors, absolute size, canonical hashes and a sparse,
// coarsened, weighted surface sample (never the mesh). Used by `screen3d sig add` and the evaluation;
// firmware that only matches does not need it.
#include <cstdint>

#include "geometry/mesh.h"
#include "geometry/principal_frame.h"
#include "signatures/signature.h"

namespace s3d {

struct BuildOptions {
  uint32_t sample_points = kMaxSamplePoints;  // capped at kMaxSamplePoints
  uint64_t seed = 0x5eed;
};

// Fills everything except meta.id/label/category/severity/sha256/added_*/tool_version, which the caller
// sets. Throws std::invalid_argument for meshes with no area.
Signature build_signature(const Mesh& mesh, const BuildOptions& opt = {});

// The reference's canonical frame, as build_signature computes it: stored sample points are
// axes * (p - centroid). MatchEvidence::transform maps this frame into the scanned file.
PrincipalFrame canonical_frame(const Mesh& mesh, const BuildOptions& opt = {});

}  // namespace s3d
