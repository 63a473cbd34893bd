#pragma once
// Checks an operator wants before a reference joins a database (`screen3d sig add`):
//  - plain_stand_ins: is the signature distinctive? Plain solids of the reference's own size (a
//    box of its oriented bounding box; a rod and a pipe along each box axis; the same at the core
//    size, which a small lug does not stretch) are screened against the new signature alone. A
//    reference that is mostly a primitive (a block with a small lug, a round rod) is matched by
//    the plain primitive, so every plain part of that size would be flagged.
//  - resembling_entries: does the new reference match entries already in the database (a design
//    variant or remeshed copy of an existing reference, filed again)?
// Both only inform: the caller decides whether to warn or refuse.
#include <string>
#include <vector>

#include "engine/scan.h"
#include "geometry/mesh.h"
#include "signatures/signature.h"

namespace s3d {

struct StandInScore {
  std::string shape;  // PlainSolid::shape
  double score = 0;   // the new signature's score on it (the matcher's, without hashes)
};

// Plain solids of the reference's size: a box of its oriented bounding box, and a cylinder and a
// tube (bore 70 % of the diameter) along each box axis, as wide as the wider other extent; the
// same again at the core size when a lug stretches the box. Deduplicated by name.
struct PlainSolid {
  std::string shape;  // "box 30.0 x 20.0 x 10.0 mm", "tube d 20.0 / 14.0 x 30.0 mm"
  Mesh mesh;
};
std::vector<PlainSolid> plain_solids_like(const Mesh& reference);

// Scores of plain_solids_like(reference) against `sig` (built from `reference`), best first.
std::vector<StandInScore> plain_stand_ins(const Signature& sig, const Mesh& reference, const MatchSettings& settings);
// The same for solids already made, so a caller that also needs the solids makes them once.
std::vector<StandInScore> plain_stand_ins(const Signature& sig, const std::vector<PlainSolid>& solids,
                                          const MatchSettings& settings);
// Signature::plain_match from plain_stand_ins' scores (best first): the best, 0 when there were none.
float plain_match_from(const std::vector<StandInScore>& stand_ins);

// Entries of `existing` that `reference` matches at or above the review threshold, best first.
std::vector<MatchEvidence> resembling_entries(const std::vector<Signature>& existing, const Mesh& reference,
                                              const MatchSettings& settings);

}  // namespace s3d
