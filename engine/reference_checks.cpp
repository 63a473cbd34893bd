#include "engine/reference_checks.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "engine/matcher.h"
#include "geometry/oriented_box.h"
#include "geometry/sample_surface.h"
#include "geometry/shapes.h"

namespace s3d {

std::vector<PlainSolid> plain_solids_like(const Mesh& reference) {
  std::vector<PlainSolid> out;
  const OrientedBox box = oriented_bounding_box(reference.vertices);
  if (!(box.extents[2] > 0)) return out;  // flat or empty: no solid of that size
  // The box's extents, and the core extents: between the 1st and 99th percentiles of an
  // area-weighted surface sample along each box axis, so that a small lug or boss (which sets the
  // box) does not hide that the rest is a plain block.
  std::array<double, 3> core = box.extents;
  {
    const SurfaceSample smp = sample_surface(reference, 20000, 0xc0de);
    if (smp.points.size() >= 100) {
      std::vector<double> proj(smp.points.size());
      for (int k = 0; k < 3; ++k) {
        for (size_t i = 0; i < smp.points.size(); ++i)
          proj[i] = box.axes[k][0] * smp.points[i][0] + box.axes[k][1] * smp.points[i][1] + box.axes[k][2] * smp.points[i][2];
        const size_t lo = proj.size() / 100, hi = proj.size() - 1 - proj.size() / 100;
        std::nth_element(proj.begin(), proj.begin() + static_cast<long>(lo), proj.end());
        const double plo = proj[lo];
        std::nth_element(proj.begin(), proj.begin() + static_cast<long>(hi), proj.end());
        core[k] = std::max(1e-3, proj[hi] - plo);
      }
    }
  }
  std::vector<std::array<double, 3>> sizes{box.extents};
  bool differs = false;
  for (int k = 0; k < 3; ++k) differs |= core[k] < 0.98 * box.extents[k];
  if (differs) sizes.push_back(core);
  char name[96];
  auto add = [&](Mesh m) {
    for (const PlainSolid& o : out)
      if (o.shape == name) return;  // the same solid at the printed precision
    out.push_back({name, std::move(m)});
  };
  for (const auto& e : sizes) {
    std::snprintf(name, sizeof name, "box %.1f x %.1f x %.1f mm", e[0], e[1], e[2]);
    add(shapes::box(e[0], e[1], e[2]));
    // Along each box axis, as wide as the wider of the other two extents: a cylinder (rod, disc)
    // and a tube (pipe, ring) whose bore is 70 % of its diameter.
    for (int k = 0; k < 3; ++k) {
      const double d = std::max(e[(k + 1) % 3], e[(k + 2) % 3]);
      std::snprintf(name, sizeof name, "cylinder d %.1f x %.1f mm", d, e[k]);
      add(shapes::cylinder(0.5 * d, e[k], 64));
      std::snprintf(name, sizeof name, "tube d %.1f / %.1f x %.1f mm", d, 0.7 * d, e[k]);
      add(shapes::tube(0.5 * d, 0.35 * d, e[k], 64));
    }
  }
  return out;
}

std::vector<StandInScore> plain_stand_ins(const Signature& sig, const Mesh& reference, const MatchSettings& settings) {
  return plain_stand_ins(sig, plain_solids_like(reference), settings);
}

std::vector<StandInScore> plain_stand_ins(const Signature& sig, const std::vector<PlainSolid>& solids,
                                          const MatchSettings& settings) {
  std::vector<StandInScore> out;
  MatchSettings s = settings;
  s.use_hashes = false;
  const Matcher matcher({sig}, s);
  for (const PlainSolid& p : solids) out.push_back({p.shape, matcher.match(p.mesh).best_score});
  std::stable_sort(out.begin(), out.end(), [](const StandInScore& a, const StandInScore& b) { return a.score > b.score; });
  return out;
}

float plain_match_from(const std::vector<StandInScore>& stand_ins) {
  return stand_ins.empty() ? 0.0f : static_cast<float>(stand_ins[0].score);
}

std::vector<MatchEvidence> resembling_entries(const std::vector<Signature>& existing, const Mesh& reference,
                                              const MatchSettings& settings) {
  if (existing.empty()) return {};
  MatchSettings s = settings;
  s.use_hashes = false;  // exact duplicates are refused by the database itself (add_signature)
  const Matcher matcher(existing, s);
  return matcher.match(reference).matches;
}

}  // namespace s3d
