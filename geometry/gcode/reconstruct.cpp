// Reconstruction of the printed solid from extrusion moves (see reconstruct.h).
//
// Hand-written raster instead of Boost.Geometry buffer + union (the textbook way) because it is about
// 100x faster for a whole layer's work: bench/gcode_reconstruct_bench, one synthetic layer (80 x 80 mm
// plate, 9 holes, 3 perimeters, 15% infill, ~2,700 moves), one thread: Boost buffer(width/2) of the
// layer's chains + area 126-130 ms vs this file's complete on_layer (paint, gap filling, skins, walls,
// sampling) 1.26-1.27 ms, measured 98.7x and 103.3x in two runs; and Boost's union would still need
// the gap filling and the surface sample. It also bounds memory by cells, not by polygon complexity.
//
// Per layer:
//  1. Moves are split into chains of consecutive moves (end of one == start of the next) and each chain
//     into closed loops (the path returns to within 0.6 extrusion widths of the loop's start after at
//     least 3 moves and encloses at least width^2). Moves in no loop are "open" (infill, gap fill).
//  2. Every move is painted as a capsule of its width (at least 1.5 cells, so lines never break up on a
//     coarsened raster) into a raster of signed distances (int8, one cell of range each side, painted
//     out to half a cell beyond the capsule): f = max over moves of (radius - distance to the move),
//     the exact distance to the union of capsules outside it. Cells with f > 0 are filled; open moves
//     also flag the cells they cover. The window is the layer's bounding box plus a margin, on a global
//     lattice; when it would exceed max_cells_per_layer the cell size doubles until it fits. Painting
//     is SSE2, eight cells at a time, linear in path length x width / cell^2.
//  3. Empty cells are labelled into 4-connected components (run-length union-find). Components that
//     touch the window border are outside. Each enclosed component is decided by the rule:
//       - tiny (under 4 cells or 0.2 mm^2) or thin (mean width 2 area / boundary length under
//         min(widest extrusion, 0.5 mm)): filled (pinholes and slivers between lines that just touch);
//       - bordered by closed-loop extrusion (at most 2% of its border by open paths): kept EMPTY (a
//         hole: a bore is lined by its own perimeter loops; so is the space inside a skirt, which must
//         not become material; a sliced plate of 6 gears showed 8 open edges of 18,484 round it);
//       - bordered partly by open paths: FILLED (sparse infill gaps are bounded by infill lines),
//         unless open paths make under 25% of its border AND it lies inside a closed loop whose area
//         is at most its own plus the loop's length times (width / 2 + 2 cells): a hole that a stray
//         open path (gap fill, an infill anchor) touches.
//     The lead's first design ("fill unless tightly enclosed by its own loop") fills the space inside a
//     first-layer skirt (its loop is far larger than the space left inside it), which turns the whole
//     skirt into a solid disc and merges every object into one body, so the open-border rule decides
//     first and the tight-loop test only rescues holes. Comments (;TYPE) are never used.
//  4. Surface candidates: side walls by marching squares on f (sub-cell boundary, normal perpendicular
//     to the boundary pointing to air, z uniform in the layer's height band), top skins (filled here,
//     clearly empty in the next stacked layer) and bottom skins (filled here, clearly empty in the
//     previous stacked layer; a layer not stacked on its predecessor is all bottom). "Clearly empty" is
//     f < -cell/4 so a boundary that wanders by a fraction of a cell between layers makes no skin.
//     Each candidate has an area weight and a hash key u from (seed, layer, cell). The reservoir keeps
//     per 8 mm XY tile those with u / weight under the tile's threshold (a Poisson sample); when it
//     overflows, the fullest tiles are cut to a common level, so a small part next to big ones keeps
//     enough candidates for its equal share. Only the sequence of layers matters, never chunking.
//  Steps 1-3 need only the layer itself and run ahead on TBB workers (parallel_layers); step 4 and the
//  footprint run on the calling thread in layer order, so threads never change the output.
//  5. At the end, bodies come from object labels when the file has them, else from 8-connected
//     components of a coarse footprint (union of all layers' filled cells, 0.5 mm, coarsened beyond
//     16 M cells). The final sample takes, per body, half of the budget by area and half shared equally
//     among the 64 largest bodies (as engine/matcher.cpp does for meshes), by systematic sampling over
//     the Horvitz-Thompson weights in emission order (stratified over z).
#include "geometry/gcode/reconstruct.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <deque>
#include <unordered_map>

#include <tbb/task_group.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace s3d::gcode {

namespace {

constexpr float kDefaultWidth = 0.45f;    // mm, for moves whose width is unknown
constexpr float kMaxWidth = 5.0f;         // mm, wider claims are clamped (hostile E values)
constexpr float kPlausibleWidth[2] = {0.2f, 1.6f};  // mm, a layer's median width outside is rescaled
constexpr double kMaxCoord = 1e6;         // mm, moves beyond are skipped
constexpr int8_t kEmptyQ = -127;          // f quantised: q = round(127 * clamp(f / cell, -1, 1))
constexpr int8_t kFullQ = 127;
constexpr uint8_t kOpenFlag = 1;
constexpr uint16_t kNoObj = 0xFFFF;
constexpr uint32_t kMaxObjects = 0xFFFE;
constexpr double kMaxStackGap = 1.2;      // mm: a layer further above its predecessor is not stacked on it
constexpr double kMaxLayerHeight = 1.0;   // mm
constexpr double kFallbackHeight = 0.2;   // mm, height of an unstacked layer before any stacked one
constexpr uint64_t kMinLayerCells = 64;
constexpr uint64_t kMinLayerBudget = 1u << 16;  // cells any layer may use (within the cap)
constexpr uint64_t kCellsPerMove = 1u << 14;    // cells a layer may use per move beyond that
constexpr double kFootprintCell = 0.5;    // mm
constexpr uint64_t kMaxFootprintCells = 16ull << 20;
constexpr size_t kEqualShareBodies = 64;  // as engine/matcher.cpp prepare_query

inline uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// Hash of one candidate: its layer's hash, its global lattice cell and a sub-index.
inline uint64_t cell_hash(uint64_t lh, int64_t gi, int64_t gj, uint32_t sub) {
  return mix64(lh ^ (static_cast<uint64_t>(gi) * 0x9E3779B97F4A7C15ull) ^ (static_cast<uint64_t>(gj) * 0xC2B2AE3D27D4EB4Full) ^
               (static_cast<uint64_t>(sub) << 61));
}
inline double unit01(uint64_t h) { return static_cast<double>((h >> 11) + 1) * 0x1.0p-53; }  // (0, 1]

// ---- SWAR helpers on 8 raster bytes: a byte is "filled" when its signed value is > 0. ------------
constexpr uint64_t k7f = 0x7f7f7f7f7f7f7f7full;
constexpr uint64_t k80 = 0x8080808080808080ull;
constexpr bool kLittle = std::endian::native == std::endian::little;
inline uint64_t load8(const int8_t* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return w;
}
inline uint64_t filled_mask(uint64_t w) { return ((w & k7f) + k7f) & ~w & k80; }

// Number of bytes with bit 7 set in a mask that has no other bits (no popcnt instruction needed).
inline uint64_t count_bytes(uint64_t mask) { return ((mask >> 7) * 0x0101010101010101ull) >> 56; }

// First index >= i (and <= n) whose filled state differs from `filled`.
inline uint32_t next_change(const int8_t* row, uint32_t i, uint32_t n, bool filled) {
  if constexpr (kLittle) {
    const uint64_t want = filled ? k80 : 0;
    while (i + 8 <= n) {
      const uint64_t diff = filled_mask(load8(row + i)) ^ want;
      if (diff) return i + static_cast<uint32_t>(std::countr_zero(diff)) / 8;
      i += 8;
    }
  }
  while (i < n && (row[i] > 0) == filled) ++i;
  return i;
}

// ---- One layer's raster ---------------------------------------------------------------------------
struct Grid {
  double cell = 0;
  int64_t ox = 0, oy = 0;  // lattice index of cell (0, 0): its centre is at ((ox + 0.5) cell, (oy + 0.5) cell)
  uint32_t nx = 0, ny = 0;
  int level = 0;           // cell = base cell * 2^level
  std::vector<int8_t> f;
  std::vector<uint8_t> flags;
  std::vector<uint16_t> obj;  // empty unless the file has object labels
  double z = 0, height = 0;
  uint32_t seq = 0;           // layer number in arrival order
  bool valid = false;

  size_t at(uint32_t i, uint32_t j) const { return static_cast<size_t>(j) * nx + i; }
  double cx(double i) const { return (static_cast<double>(ox) + 0.5 + i) * cell; }
  double cy(double j) const { return (static_cast<double>(oy) + 0.5 + j) * cell; }
  // Quantised value at a world point (kEmptyQ outside the window).
  int8_t value_at(double x, double y) const {
    const double fi = std::floor(x / cell) - static_cast<double>(ox), fj = std::floor(y / cell) - static_cast<double>(oy);
    if (!(fi >= 0 && fj >= 0 && fi < nx && fj < ny)) return kEmptyQ;
    return f[at(static_cast<uint32_t>(fi), static_cast<uint32_t>(fj))];
  }
  uint16_t obj_at(size_t k) const { return obj.empty() ? kNoObj : obj[k]; }
};

struct LoopInfo {
  uint32_t first, last;  // move range
  double area, perimeter, width;
  float bx0, by0, bx1, by1;
};

struct Run {
  uint32_t y, x0, x1;  // cells [x0, x1) of row y
};

struct DisjointSets {
  std::vector<uint32_t> p;
  void reset(size_t n) {
    p.resize(n);
    std::iota(p.begin(), p.end(), 0u);
  }
  uint32_t find(uint32_t x) {
    while (p[x] != x) x = p[x] = p[p[x]];
    return x;
  }
  void unite(uint32_t a, uint32_t b) {  // the smaller index becomes the root (first run in scan order)
    a = find(a);
    b = find(b);
    if (a == b) return;
    if (a < b)
      p[b] = a;
    else
      p[a] = b;
  }
};

// Unites runs of adjacent rows that touch (4- or 8-connectivity). Runs are sorted by row, then x.
void link_runs(const std::vector<Run>& runs, const std::vector<uint32_t>& row_begin, uint32_t ny, bool conn8,
               DisjointSets& ds) {
  const uint32_t ext = conn8 ? 1 : 0;
  for (uint32_t y = 1; y < ny; ++y) {
    uint32_t ia = row_begin[y - 1], ib = row_begin[y];
    const uint32_t ea = row_begin[y], eb = row_begin[y + 1];
    while (ia < ea && ib < eb) {
      const Run& a = runs[ia];
      const Run& b = runs[ib];
      if (a.x0 < b.x1 + ext && b.x0 < a.x1 + ext) ds.unite(ia, ib);
      if (a.x1 < b.x1)
        ++ia;
      else
        ++ib;
    }
  }
}

// ---- Candidate reservoir ----------------------------------------------------------------------------
// Candidates are bucketed by XY tile (8 mm, doubled when there would be more than kMaxTiles), each
// tile a Poisson sample with its own threshold (keep key < theta, key = u / w). When the reservoir
// overflows, the fullest tiles are cut down to a common level (water filling), so a small part beside
// big ones keeps its candidates and the final pick can give it its equal share. Everything depends only
// on the sequence of candidates.
struct Cand {
  float x, y, z, nx, ny, nz;
  float w;    // area weight (mm^2)
  float key;  // u / w, u in (0, 1] from the candidate's hash
  uint32_t obj;
  uint64_t seq;  // emission order
};

constexpr double kTileMm = 8.0;
constexpr size_t kMaxTiles = 1u << 16;

struct Tile {
  float theta = std::numeric_limits<float>::infinity();
  std::vector<Cand> pts;
};

struct Reservoir {
  std::vector<Tile> tiles;
  std::unordered_map<uint64_t, uint32_t> index;
  double tile_mm = kTileMm;
  uint64_t last_key = ~0ull;
  uint32_t last_tile = 0;
  size_t cap = 0, total = 0;
  size_t tile_limit = std::numeric_limits<size_t>::max();  // a tile above it is halved (set by water filling)
  uint64_t seq = 0;
  std::vector<double> obj_area;  // exact area per dense object id (labelled files); last slot: unlabelled
  double total_area = 0;

  static uint64_t tile_key(double x, double y, double size) {
    const auto tx = static_cast<int32_t>(std::floor(x / size)), ty = static_cast<int32_t>(std::floor(y / size));
    return (static_cast<uint64_t>(static_cast<uint32_t>(tx)) << 32) | static_cast<uint32_t>(ty);
  }
  Tile& tile_of(float x, float y) {
    const uint64_t k = tile_key(x, y, tile_mm);
    if (k == last_key) return tiles[last_tile];
    auto it = index.find(k);
    if (it == index.end()) {
      if (tiles.size() >= kMaxTiles) {
        coarsen_tiles();
        return tile_of(x, y);
      }
      it = index.emplace(k, static_cast<uint32_t>(tiles.size())).first;
      tiles.emplace_back();
    }
    last_key = k;
    last_tile = it->second;
    return tiles[it->second];
  }
  // First half of an offer: counts the area; returns the tile to push into when the candidate is kept
  // (the caller then computes its exact position, which only kept candidates need, and calls push).
  Tile* admit(uint64_t h, float x, float y, double w, uint16_t obj, float& key) {
    if (!(w > 0)) return nullptr;
    total_area += w;
    const size_t slot = obj == kNoObj ? obj_area.size() - 1 : obj;
    if (slot < obj_area.size()) obj_area[slot] += w;
    key = static_cast<float>(unit01(h) / w);
    ++seq;
    Tile& t = tile_of(x, y);
    return key < t.theta ? &t : nullptr;
  }
  void push(Tile& t, float x, float y, float z, float nx, float ny, float nz, double w, float key, uint16_t obj) {
    t.pts.push_back({x, y, z, nx, ny, nz, static_cast<float>(w), key, obj, seq - 1});
    ++total;
    if (t.pts.size() > tile_limit) cut(t, t.pts.size() / 2);
    if (total > cap) water_fill();
  }
  // Keeps the `keep` smallest keys of a tile (its threshold becomes the next key).
  std::vector<float> keys_;
  void cut(Tile& t, size_t keep) {
    if (t.pts.size() <= keep) return;
    keys_.resize(t.pts.size());
    for (size_t i = 0; i < t.pts.size(); ++i) keys_[i] = t.pts[i].key;
    std::nth_element(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(keep), keys_.end());
    t.theta = std::min(t.theta, keys_[keep]);
    const float th = t.theta;
    const size_t before = t.pts.size();
    std::erase_if(t.pts, [th](const Cand& c) { return !(c.key < th); });
    total -= before - t.pts.size();
  }
  // Finds the common level that brings the total to at most 3/4 of the cap, cuts every tile above it,
  // and makes it the tile limit from now on.
  void water_fill() {
    const size_t target = cap - cap / 4;
    size_t lo = 0, hi = 0;
    for (const Tile& t : tiles) hi = std::max(hi, t.pts.size());
    auto kept_at = [&](size_t level) {
      size_t n = 0;
      for (const Tile& t : tiles) n += std::min(t.pts.size(), level);
      return n;
    };
    while (lo < hi) {  // the largest level whose total fits
      const size_t mid = lo + (hi - lo + 1) / 2;
      if (kept_at(mid) <= target)
        lo = mid;
      else
        hi = mid - 1;
    }
    for (Tile& t : tiles) cut(t, lo);
    tile_limit = std::max<size_t>(lo, 2);
  }
  // Doubles the tile size: merged tiles take the smallest threshold of their parts.
  void coarsen_tiles() {
    std::vector<Tile> old;
    old.swap(tiles);
    index.clear();
    last_key = ~0ull;
    tile_mm *= 2;
    total = 0;
    for (Tile& t : old) {
      if (t.pts.empty()) continue;  // a tile is re-created on its next candidate
      const uint64_t k = tile_key(t.pts[0].x, t.pts[0].y, tile_mm);
      auto it = index.find(k);
      if (it == index.end()) {
        it = index.emplace(k, static_cast<uint32_t>(tiles.size())).first;
        tiles.emplace_back();
      }
      Tile& m = tiles[it->second];
      m.theta = std::min(m.theta, t.theta);
      for (const Cand& c : t.pts) m.pts.push_back(c);
    }
    for (Tile& m : tiles) {
      const float th = m.theta;
      std::erase_if(m.pts, [th](const Cand& c) { return !(c.key < th); });
      total += m.pts.size();
    }
  }
  // Kept candidates in emission order, each with its Horvitz-Thompson weight (the area it stands for).
  std::vector<std::pair<const Cand*, double>> flatten() const {
    std::vector<std::pair<const Cand*, double>> out;
    out.reserve(total);
    for (const Tile& t : tiles)
      for (const Cand& c : t.pts) out.push_back({&c, std::isfinite(t.theta) ? std::max<double>(c.w, 1.0 / t.theta) : c.w});
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first->seq < b.first->seq; });
    return out;
  }
};

// ---- Footprint of the whole print (for separating bodies without labels) ---------------------------
struct Footprint {
  double cell = kFootprintCell;
  int64_t ox = 0, oy = 0;
  uint32_t nx = 0, ny = 0;
  std::vector<uint8_t> bits;

  bool covers(double x0, double y0, double x1, double y1) const {
    return nx > 0 && x0 >= static_cast<double>(ox) * cell && y0 >= static_cast<double>(oy) * cell &&
           x1 < static_cast<double>(ox + nx) * cell && y1 < static_cast<double>(oy + ny) * cell;
  }
  void ensure(double x0, double y0, double x1, double y1) {
    if (covers(x0, y0, x1, y1)) return;
    if (nx > 0) {
      x0 = std::min(x0, static_cast<double>(ox) * cell);
      y0 = std::min(y0, static_cast<double>(oy) * cell);
      x1 = std::max(x1, static_cast<double>(ox + nx) * cell);
      y1 = std::max(y1, static_cast<double>(oy + ny) * cell);
    }
    const double pad = std::max(5.0, 0.1 * std::max(x1 - x0, y1 - y0));
    x0 -= pad, y0 -= pad, x1 += pad, y1 += pad;
    double c = cell;
    int64_t nox, noy, nnx, nny;
    for (;;) {
      nox = static_cast<int64_t>(std::floor(x0 / c));
      noy = static_cast<int64_t>(std::floor(y0 / c));
      nnx = static_cast<int64_t>(std::floor(x1 / c)) - nox + 1;
      nny = static_cast<int64_t>(std::floor(y1 / c)) - noy + 1;
      if (static_cast<double>(nnx) * static_cast<double>(nny) <= static_cast<double>(kMaxFootprintCells)) break;
      c *= 2;
    }
    std::vector<uint8_t> nb(static_cast<size_t>(nnx) * static_cast<size_t>(nny), 0);
    for (uint32_t j = 0; j < ny; ++j)
      for (uint32_t i = 0; i < nx; ++i) {
        if (!bits[static_cast<size_t>(j) * nx + i]) continue;
        const double wx = (static_cast<double>(ox + i) + 0.5) * cell, wy = (static_cast<double>(oy + j) + 0.5) * cell;
        const int64_t ni = static_cast<int64_t>(std::floor(wx / c)) - nox, nj = static_cast<int64_t>(std::floor(wy / c)) - noy;
        if (ni >= 0 && nj >= 0 && ni < nnx && nj < nny) nb[static_cast<size_t>(nj) * static_cast<size_t>(nnx) + static_cast<size_t>(ni)] = 1;
      }
    bits.swap(nb);
    cell = c;
    ox = nox, oy = noy;
    nx = static_cast<uint32_t>(nnx), ny = static_cast<uint32_t>(nny);
  }
  // Marks the footprint cells a filled fine run covers (fine cells [a, b) of row j of grid g).
  void mark(const Grid& g, uint32_t j, uint32_t a, uint32_t b) {
    double y0, y1, x0, x1;
    if (g.cell <= cell) {  // by fine cell centres: no dilation
      y0 = y1 = g.cy(j);
      x0 = g.cx(a);
      x1 = g.cx(b - 1);
    } else {  // coarser raster than the footprint: cover the whole fine cells
      y0 = (static_cast<double>(g.oy + j)) * g.cell;
      y1 = y0 + g.cell * 0.999;
      x0 = (static_cast<double>(g.ox + a)) * g.cell;
      x1 = (static_cast<double>(g.ox + b)) * g.cell - g.cell * 0.001;
    }
    const int64_t j0 = static_cast<int64_t>(std::floor(y0 / cell)) - oy, j1 = static_cast<int64_t>(std::floor(y1 / cell)) - oy;
    const int64_t i0 = static_cast<int64_t>(std::floor(x0 / cell)) - ox, i1 = static_cast<int64_t>(std::floor(x1 / cell)) - ox;
    for (int64_t jj = std::max<int64_t>(0, j0); jj <= std::min<int64_t>(ny - 1, j1); ++jj) {
      const int64_t lo = std::max<int64_t>(0, i0), hi = std::min<int64_t>(nx - 1, i1);
      if (lo <= hi) std::memset(&bits[static_cast<size_t>(jj) * nx + static_cast<size_t>(lo)], 1, static_cast<size_t>(hi - lo + 1));
    }
  }
};

// Components of a finished footprint, for point lookup.
struct FootprintBodies {
  std::vector<Run> runs;
  std::vector<uint32_t> row_begin;
  std::vector<uint32_t> comp;  // per run: root run index
  const Footprint* fp = nullptr;

  void build(const Footprint& f) {
    fp = &f;
    runs.clear();
    row_begin.assign(f.ny + 1, 0);
    for (uint32_t j = 0; j < f.ny; ++j) {
      row_begin[j] = static_cast<uint32_t>(runs.size());
      const uint8_t* r = &f.bits[static_cast<size_t>(j) * f.nx];
      uint32_t i = 0;
      while (i < f.nx) {
        while (i < f.nx && !r[i]) ++i;
        if (i >= f.nx) break;
        const uint32_t s = i;
        while (i < f.nx && r[i]) ++i;
        runs.push_back({j, s, i});
      }
    }
    row_begin[f.ny] = static_cast<uint32_t>(runs.size());
    DisjointSets ds;
    ds.reset(runs.size());
    link_runs(runs, row_begin, f.ny, true, ds);
    comp.resize(runs.size());
    for (uint32_t k = 0; k < runs.size(); ++k) comp[k] = ds.find(k);
  }
  // Root run of the component at or nearest (within `radius` cells) to a world point; UINT32_MAX if none.
  uint32_t lookup(double x, double y, int radius) const {
    if (!fp || fp->nx == 0) return UINT32_MAX;
    const int64_t ci = static_cast<int64_t>(std::floor(x / fp->cell)) - fp->ox;
    const int64_t cj = static_cast<int64_t>(std::floor(y / fp->cell)) - fp->oy;
    for (int r = 0; r <= radius; ++r) {
      for (int64_t j = cj - r; j <= cj + r; ++j) {
        if (j < 0 || j >= fp->ny) continue;
        const int64_t lo = ci - r, hi = ci + r;
        // First run of row j ending after lo.
        auto b = runs.begin() + row_begin[static_cast<size_t>(j)], e = runs.begin() + row_begin[static_cast<size_t>(j) + 1];
        auto it = std::upper_bound(b, e, lo, [](int64_t v, const Run& run) { return v < static_cast<int64_t>(run.x1); });
        if (it != e && static_cast<int64_t>(it->x0) <= hi) return comp[static_cast<size_t>(it - runs.begin())];
      }
    }
    return UINT32_MAX;
  }
};

}  // namespace

namespace {

// ---- One layer in flight ---------------------------------------------------------------------------
// Stage 1 (build: window, loops, painting, gap filling) needs only the layer itself, so layers are
// built ahead on TBB worker threads; stage 2 (commit: skins against the previous layer, walls,
// footprint, reservoir) runs on the calling thread in layer order, so the output does not depend on
// scheduling.
struct LayerJob {
  Layer layer;  // sanitised moves
  std::vector<uint16_t> move_obj;
  bool labelled = false;
  float xmin = 0, ymin = 0, xmax = 0, ymax = 0, wmax = 0;
  uint32_t seq = 0;
  Grid grid;
  // Results besides the grid.
  uint32_t holes_kept = 0, gaps_filled = 0;
  // Scratch.
  std::vector<uint8_t> closed;
  std::vector<LoopInfo> loops;
  std::vector<int8_t> qbuf;
  std::vector<Run> runs;
  std::vector<uint32_t> row_begin;
  struct Stats {
    uint64_t cells = 0, edges = 0, open_edges = 0;
  };
  std::vector<Stats> stats;
  std::vector<uint8_t> fill, outside;
  DisjointSets ds;
  tbb::task_group tasks;

  void build(double base_cell, uint64_t max_cells);
  void find_loops();
  void paint(const ExtrusionMove& mv, bool open, uint16_t obj);
  void fill_enclosed();
};

}  // namespace

struct Reconstructor::State {
  ReconstructOptions opt;
  double base_cell = 0.2;
  uint64_t seed_mix = 0;
  Grid prev;
  Reservoir res;
  Footprint fp;
  std::unordered_map<int32_t, uint16_t> label_ids;
  uint32_t n_labels = 0;
  std::vector<std::array<float, 2>> profile;
  uint32_t layers = 0;     // committed
  uint32_t accepted = 0;   // handed to stage 1
  double last_height = kFallbackHeight;
  double max_cell_used = 0;
  uint32_t coarsened = 0;
  uint64_t peak_cells = 0;
  uint64_t skipped = 0;
  uint32_t rescaled_layers = 0;   // layers whose widths were implausible (accept)
  std::vector<float> width_scratch;
  uint32_t holes_kept = 0, gaps_filled = 0;
  bool finished = false;
  std::deque<std::unique_ptr<LayerJob>> pending;
  std::vector<std::unique_ptr<LayerJob>> spare;

  ~State() {
    for (auto& j : pending) {
      try {
        j->tasks.wait();
      } catch (...) {
      }
    }
  }
  uint16_t dense_label(int32_t index) {
    if (index < 0) return kNoObj;
    auto it = label_ids.find(index);
    if (it != label_ids.end()) return it->second;
    if (n_labels >= kMaxObjects) return kNoObj;
    const uint16_t id = static_cast<uint16_t>(n_labels++);
    label_ids.emplace(index, id);
    res.obj_area.insert(res.obj_area.end() - 1, 0.0);  // the unlabelled slot stays last
    return id;
  }
  uint64_t layer_hash(uint32_t seq, int kind, int level) const {
    return mix64(seed_mix ^ mix64((static_cast<uint64_t>(seq) << 8) + static_cast<uint64_t>(kind) * 16 + static_cast<uint64_t>(level) + 1));
  }

  void accept(Layer& layer);
  void commit_front();
  void drain() {
    while (!pending.empty()) commit_front();
  }
  void commit(LayerJob& job);
  double footprint_and_area(const Grid& g);
};

namespace {

// Skins of grid `a` against grid `b` (nullptr: no neighbour layer, every filled cell is skin).
void emit_skin(const Grid& a, const Grid* b, double z, float nz, uint64_t lh, Reservoir& res) {
  const double cell_area = a.cell * a.cell;
  const bool same = b && b->cell == a.cell;
  int8_t tau_q = 0;
  if (b) {
    const double tau = 0.25 * std::min(a.cell, b->cell);
    tau_q = static_cast<int8_t>(std::clamp(std::lround(127.0 * tau / b->cell), 1l, 127l));
  }
  for (uint32_t j = 0; j < a.ny; ++j) {
    const int8_t* ra = &a.f[a.at(0, j)];
    const int8_t* rb = nullptr;
    int64_t dx = 0, ilo = 0, ihi = 0;  // b index = i + dx, valid for i in [ilo, ihi)
    if (same) {
      const int64_t jb = static_cast<int64_t>(j) + a.oy - b->oy;
      if (jb >= 0 && jb < b->ny) {
        rb = &b->f[b->at(0, static_cast<uint32_t>(jb))];
        dx = a.ox - b->ox;
        ilo = std::max<int64_t>(0, -dx);
        ihi = std::min<int64_t>(a.nx, static_cast<int64_t>(b->nx) - dx);
      }
    }
    uint32_t i = 0;
    while (i < a.nx) {
      if (kLittle && i + 8 <= a.nx) {
        const uint64_t ma = filled_mask(load8(ra + i));
        if (ma == 0) {
          i += 8;
          continue;
        }
        if (rb && static_cast<int64_t>(i) >= ilo && static_cast<int64_t>(i) + 8 <= ihi &&
            (ma & ~filled_mask(load8(rb + i + dx))) == 0) {
          i += 8;
          continue;
        }
      }
      const uint32_t iend = std::min<uint32_t>(a.nx, i + 8);
      for (; i < iend; ++i) {
        if (ra[i] <= 0) continue;
        if (b) {
          int8_t vb;
          if (same)
            vb = (rb && static_cast<int64_t>(i) >= ilo && static_cast<int64_t>(i) < ihi) ? rb[i + dx] : kEmptyQ;
          else
            vb = b->value_at(a.cx(i), a.cy(j));
          if (vb >= -tau_q) continue;
        }
        const uint64_t h = cell_hash(lh, a.ox + i, a.oy + j, 0);
        const uint16_t obj = a.obj_at(a.at(i, j));
        float key;
        Tile* t = res.admit(h, static_cast<float>(a.cx(i)), static_cast<float>(a.cy(j)), cell_area, obj, key);
        if (!t) continue;
        const uint64_t h2 = mix64(h);
        const double jx = unit01(h2) - 0.5, jy = unit01(mix64(h2)) - 0.5;
        res.push(*t, static_cast<float>(a.cx(i + jx)), static_cast<float>(a.cy(j + jy)), static_cast<float>(z), 0.f, 0.f, nz, cell_area,
                 key, obj);
      }
    }
  }
}

// Side walls of grid g by marching squares on f.
void emit_walls(const Grid& g, double z_top, double height, uint64_t lh, Reservoir& res) {
  if (g.nx < 2 || g.ny < 2) return;
  // Edge e of the square: corners (0: (0,0), 1: (1,0), 2: (1,1), 3: (0,1)).
  static constexpr int kEdgeA[4] = {0, 1, 2, 3}, kEdgeB[4] = {1, 2, 3, 0};
  static constexpr float kCornerX[4] = {0, 1, 1, 0}, kCornerY[4] = {0, 0, 1, 1};
  // Segments per configuration (edge pairs), -1 terminated; saddles 5 and 10 handled separately.
  static constexpr int8_t kSeg[16][4] = {{-1, -1, -1, -1}, {3, 0, -1, -1}, {0, 1, -1, -1}, {3, 1, -1, -1},
                                         {1, 2, -1, -1},   {-1, -1, -1, -1}, {0, 2, -1, -1}, {3, 2, -1, -1},
                                         {2, 3, -1, -1},   {0, 2, -1, -1},  {-1, -1, -1, -1}, {1, 2, -1, -1},
                                         {1, 3, -1, -1},   {0, 1, -1, -1},  {3, 0, -1, -1},   {-1, -1, -1, -1}};
  const double c = g.cell;
  for (uint32_t j = 0; j + 1 < g.ny; ++j) {
    const int8_t* r0 = &g.f[g.at(0, j)];
    const int8_t* r1 = &g.f[g.at(0, j + 1)];
    uint32_t i = 0;
    while (i + 1 < g.nx) {
      if (kLittle && i + 9 <= g.nx) {
        const uint64_t a = filled_mask(load8(r0 + i)), b = filled_mask(load8(r0 + i + 1)), d = filled_mask(load8(r1 + i)),
                       e = filled_mask(load8(r1 + i + 1));
        if (a == b && a == d && a == e && (a == 0 || a == k80)) {
          i += 8;
          continue;
        }
      }
      const uint32_t iend = std::min<uint32_t>(g.nx - 1, i + 8);
      for (; i < iend; ++i) {
        const int q[4] = {r0[i], r0[i + 1], r1[i + 1], r1[i]};
        const int cfg = (q[0] > 0) | ((q[1] > 0) << 1) | ((q[2] > 0) << 2) | ((q[3] > 0) << 3);
        if (cfg == 0 || cfg == 15) continue;
        int8_t segs[4];
        if (cfg == 5 || cfg == 10) {
          const bool centre_in = (q[0] + q[1] + q[2] + q[3]) > 2;  // mean above the 0.5 iso level
          const bool cut_13 = (cfg == 5) == centre_in;            // cut off corners 1 and 3
          if (cut_13) {
            const int8_t s[4] = {0, 1, 2, 3};
            std::memcpy(segs, s, 4);
          } else {
            const int8_t s[4] = {3, 0, 1, 2};
            std::memcpy(segs, s, 4);
          }
        } else {
          std::memcpy(segs, kSeg[cfg], 4);
        }
        // Average gradient of f over the square: points into the material.
        const float gx = 0.5f * static_cast<float>((q[1] - q[0]) + (q[2] - q[3]));
        const float gy = 0.5f * static_cast<float>((q[3] - q[0]) + (q[2] - q[1]));
        uint16_t obj = kNoObj;
        if (!g.obj.empty()) {
          const size_t k[4] = {g.at(i, j), g.at(i + 1, j), g.at(i + 1, j + 1), g.at(i, j + 1)};
          for (int t = 0; t < 4; ++t)
            if (q[t] > 0) {
              obj = g.obj[k[t]];
              break;
            }
        }
        for (int s = 0; s < 4 && segs[s] >= 0; s += 2) {
          float px[2], py[2];
          for (int e = 0; e < 2; ++e) {
            const int edge = segs[s + e];
            const int ca = kEdgeA[edge], cb = kEdgeB[edge];
            const float t = (static_cast<float>(q[ca]) - 0.5f) / static_cast<float>(q[ca] - q[cb]);
            px[e] = kCornerX[ca] + t * (kCornerX[cb] - kCornerX[ca]);
            py[e] = kCornerY[ca] + t * (kCornerY[cb] - kCornerY[ca]);
          }
          const float dx = px[1] - px[0], dy = py[1] - py[0];
          const float len = std::sqrt(dx * dx + dy * dy);
          if (!(len > 1e-6f)) continue;
          float nx = dy / len, ny = -dx / len;
          if (nx * gx + ny * gy > 0) nx = -nx, ny = -ny;
          const uint64_t h = cell_hash(lh, g.ox + i, g.oy + j, static_cast<uint32_t>(s / 2) + 1);
          const double w = static_cast<double>(len) * c * height;
          float key;
          Tile* t = res.admit(h, static_cast<float>(g.cx(i)), static_cast<float>(g.cy(j)), w, obj, key);
          if (!t) continue;
          const uint64_t h2 = mix64(h);
          const double u = unit01(h2), v = unit01(mix64(h2));
          const double lx = static_cast<double>(i) + px[0] + u * dx, ly = static_cast<double>(j) + py[0] + u * dy;
          res.push(*t, static_cast<float>(g.cx(lx)), static_cast<float>(g.cy(ly)), static_cast<float>(z_top - height * v), nx, ny, 0.f,
                   w, key, obj);
        }
      }
    }
  }
}

// Quantised signed distance to one capsule along a row of n cells: cell k is at (px0 + k, py) relative
// to the segment start, the segment is (dx, dy) with 1 / length^2 = inv_l2, radius r (cells). SSE2
// four cells at a time where available; the scalar tail computes the same expressions.
inline int8_t capsule_q(float px, float py, float dx, float dy, float inv_l2, float r) {
  float t = (px * dx + py * dy) * inv_l2;
  t = std::min(std::max(t, 0.0f), 1.0f);
  const float ex = px - t * dx, ey = py - t * dy;
  const float v = std::min(std::max(r - std::sqrt(ex * ex + ey * ey), -1.0f), 1.0f);
  return static_cast<int8_t>(static_cast<int>(v * 127.0f + 127.5f) - 127);
}

// Paints one row: row[k] = max(row[k], q(k)) for k < n and, when flags is given, flags[k] |= kOpenFlag
// where q(k) > 0. With SSE2, eight cells at a time, running past n (never past `limit`, the end of the
// raster row): painting a cell with its true distance to this capsule is always correct, since f is a
// max over capsules, and rows are short (a few cells), so whole blocks beat a scalar tail. Signed byte
// max is the unsigned max of values offset by 0x80. The scalar path computes the same expressions.
void capsule_row(int8_t* row, uint8_t* flags, int n, int limit, float px0, float py, float dx, float dy, float inv_l2, float r) {
  int k = 0;
#if defined(__SSE2__)
  const __m128 vdx = _mm_set1_ps(dx), vdy = _mm_set1_ps(dy), vinv = _mm_set1_ps(inv_l2), vr = _mm_set1_ps(r);
  const __m128 vpy = _mm_set1_ps(py), vpdy = _mm_set1_ps(py * dy), vpx0 = _mm_set1_ps(px0);
  const __m128 zero = _mm_setzero_ps(), one = _mm_set1_ps(1.0f), mone = _mm_set1_ps(-1.0f);
  const __m128 s127 = _mm_set1_ps(127.0f), half = _mm_set1_ps(127.5f);
  const __m128i off = _mm_set1_epi32(127), four = _mm_set1_epi32(4), eight = _mm_set1_epi32(8);
  const __m128i sign = _mm_set1_epi8(static_cast<char>(0x80)), zero8 = _mm_setzero_si128();
  const __m128i open_bit = _mm_set1_epi8(static_cast<char>(kOpenFlag));
  auto quad = [&](__m128i idx) {
    const __m128 px = _mm_add_ps(vpx0, _mm_cvtepi32_ps(idx));
    __m128 t = _mm_mul_ps(_mm_add_ps(_mm_mul_ps(px, vdx), vpdy), vinv);
    t = _mm_min_ps(_mm_max_ps(t, zero), one);
    const __m128 ex = _mm_sub_ps(px, _mm_mul_ps(t, vdx)), ey = _mm_sub_ps(vpy, _mm_mul_ps(t, vdy));
    __m128 v = _mm_sub_ps(vr, _mm_sqrt_ps(_mm_add_ps(_mm_mul_ps(ex, ex), _mm_mul_ps(ey, ey))));
    v = _mm_min_ps(_mm_max_ps(v, mone), one);
    return _mm_sub_epi32(_mm_cvttps_epi32(_mm_add_ps(_mm_mul_ps(v, s127), half)), off);
  };
  __m128i idx = _mm_setr_epi32(0, 1, 2, 3);
  for (; k < n && k + 8 <= limit; k += 8, idx = _mm_add_epi32(idx, eight)) {
    const __m128i q16 = _mm_packs_epi32(quad(idx), quad(_mm_add_epi32(idx, four)));
    const __m128i q = _mm_packs_epi16(q16, q16);  // 8 values in the low half
    __m128i* p = reinterpret_cast<__m128i*>(row + k);
    const __m128i cur = _mm_loadl_epi64(p);
    _mm_storel_epi64(p, _mm_xor_si128(_mm_max_epu8(_mm_xor_si128(cur, sign), _mm_xor_si128(q, sign)), sign));
    if (flags) {
      __m128i* fp = reinterpret_cast<__m128i*>(flags + k);
      _mm_storel_epi64(fp, _mm_or_si128(_mm_loadl_epi64(fp), _mm_and_si128(_mm_cmpgt_epi8(q, zero8), open_bit)));
    }
  }
#else
  (void)limit;
#endif
  for (; k < n; ++k) {
    const int8_t q = capsule_q(px0 + static_cast<float>(k), py, dx, dy, inv_l2, r);
    row[k] = std::max(row[k], q);
    if (flags && q > 0) flags[k] |= kOpenFlag;
  }
}

// The same values into a buffer (for the labelled path, which also records the owner of each cell).
void capsule_values(int8_t* out, int n, float px0, float py, float dx, float dy, float inv_l2, float r) {
  for (int k = 0; k < n; ++k) out[k] = capsule_q(px0 + static_cast<float>(k), py, dx, dy, inv_l2, r);
}

double polygon_area(const std::vector<ExtrusionMove>& m, uint32_t first, uint32_t last) {
  double a = 0;
  const double x0 = m[first].x0, y0 = m[first].y0;
  for (uint32_t k = first; k <= last; ++k) {
    const double ax = m[k].x0 - x0, ay = m[k].y0 - y0;
    const double bx = (k == last ? m[first].x0 : m[k + 1].x0) - x0, by = (k == last ? m[first].y0 : m[k + 1].y0) - y0;
    a += ax * by - bx * ay;
  }
  return 0.5 * a;
}

bool point_in_loop(const std::vector<ExtrusionMove>& m, const LoopInfo& l, double px, double py) {
  bool in = false;
  for (uint32_t k = l.first; k <= l.last; ++k) {
    const double ax = m[k].x0, ay = m[k].y0;
    const double bx = k == l.last ? m[l.first].x0 : m[k + 1].x0, by = k == l.last ? m[l.first].y0 : m[k + 1].y0;
    if ((ay > py) != (by > py) && px < ax + (py - ay) * (bx - ax) / (by - ay)) in = !in;
  }
  return in;
}

}  // namespace

// Splits the layer's moves into chains and the chains into closed loops; marks moves of loops.
void LayerJob::find_loops() {
  const std::vector<ExtrusionMove>& m = layer.moves;
  const uint32_t n = static_cast<uint32_t>(m.size());
  closed.assign(n, 0);
  loops.clear();
  constexpr float kJoin = 1e-3f;  // mm: end of one move == start of the next
  uint32_t s = 0;
  while (s < n) {
    uint32_t e = s;
    while (e + 1 < n && std::fabs(m[e].x1 - m[e + 1].x0) <= kJoin && std::fabs(m[e].y1 - m[e + 1].y0) <= kJoin) ++e;
    uint32_t ls = s;
    double len = 0, wmax = 0;
    for (uint32_t k = s; k <= e; ++k) {
      len += std::hypot(static_cast<double>(m[k].x1) - m[k].x0, static_cast<double>(m[k].y1) - m[k].y0);
      wmax = std::max<double>(wmax, m[k].width);
      if (k - ls < 2) continue;
      const double tol = std::max(0.6 * wmax, 0.05);
      const double gap = std::hypot(static_cast<double>(m[k].x1) - m[ls].x0, static_cast<double>(m[k].y1) - m[ls].y0);
      if (gap > tol || len <= 4 * tol) continue;
      const double area = std::fabs(polygon_area(m, ls, k));
      if (area < wmax * wmax) continue;
      LoopInfo l{ls, k, area, len, wmax, m[ls].x0, m[ls].y0, m[ls].x0, m[ls].y0};
      for (uint32_t t = ls; t <= k; ++t) {
        closed[t] = 1;
        l.bx0 = std::min(l.bx0, m[t].x0), l.bx1 = std::max(l.bx1, m[t].x0);
        l.by0 = std::min(l.by0, m[t].y0), l.by1 = std::max(l.by1, m[t].y0);
      }
      loops.push_back(l);
      ls = k + 1;
      len = 0;
      wmax = 0;
    }
    s = e + 1;
  }
}

void LayerJob::paint(const ExtrusionMove& mv, bool open, uint16_t obj) {
  Grid& g = grid;
  const double inv = 1.0 / g.cell;
  const float ax = static_cast<float>(mv.x0 * inv - static_cast<double>(g.ox) - 0.5);
  const float ay = static_cast<float>(mv.y0 * inv - static_cast<double>(g.oy) - 0.5);
  const float bx = static_cast<float>(mv.x1 * inv - static_cast<double>(g.ox) - 0.5);
  const float by = static_cast<float>(mv.y1 * inv - static_cast<double>(g.oy) - 0.5);
  const float dx = bx - ax, dy = by - ay;
  const float l2 = dx * dx + dy * dy;
  const float inv_l2 = l2 > 1e-12f ? 1.0f / l2 : 0.0f;
  const float r = static_cast<float>(std::max(0.5 * mv.width, 0.75 * g.cell) * inv);
  // Cells are painted out to half a cell beyond the capsule: enough for the skin test (f < -cell/4);
  // an empty corner of a boundary square further out keeps f = -1 cell, which moves that wall crossing
  // by at most a sixth of a cell (a full cell of margin cost a third more rows).
  const float rm = r + 0.5f;
  const int64_t jlo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(std::min(ay, by) - rm)));
  const int64_t jhi = std::min<int64_t>(static_cast<int64_t>(g.ny) - 1, static_cast<int64_t>(std::floor(std::max(ay, by) + rm)));
  // Per row, the cells within rm of the segment lie within rm of the part of the segment whose y is
  // within rm of the row: at most sqrt(2) times the exact extent, for two divisions per row.
  const bool flat = std::fabs(dy) < 1e-6f;
  const float inv_dy = flat ? 0.0f : 1.0f / dy;
  for (int64_t j = jlo; j <= jhi; ++j) {
    const float yc = static_cast<float>(j), py = yc - ay;
    float xlo, xhi;
    if (flat) {
      xlo = std::min(ax, bx);
      xhi = std::max(ax, bx);
    } else {
      float t0 = (py - rm) * inv_dy, t1 = (py + rm) * inv_dy;
      if (t0 > t1) std::swap(t0, t1);
      t0 = std::min(std::max(t0, 0.0f), 1.0f);
      t1 = std::min(std::max(t1, 0.0f), 1.0f);
      const float xa = ax + t0 * dx, xb = ax + t1 * dx;
      xlo = std::min(xa, xb);
      xhi = std::max(xa, xb);
    }
    xlo -= rm;
    xhi += rm;
    const int64_t ilo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(xlo)));
    const int64_t ihi = std::min<int64_t>(static_cast<int64_t>(g.nx) - 1, static_cast<int64_t>(std::floor(xhi)));
    if (ilo > ihi) continue;
    const size_t base = g.at(0, static_cast<uint32_t>(j)) + static_cast<size_t>(ilo);
    int8_t* row = &g.f[base];
    const int n = static_cast<int>(ihi - ilo + 1);
    const float px0 = static_cast<float>(ilo) - ax;
    if (g.obj.empty()) {
      capsule_row(row, open ? &g.flags[base] : nullptr, n, static_cast<int>(g.nx - ilo), px0, py, dx, dy, inv_l2, r);
    } else {
      if (static_cast<size_t>(n) > qbuf.size()) qbuf.resize(static_cast<size_t>(n));
      capsule_values(qbuf.data(), n, px0, py, dx, dy, inv_l2, r);
      uint8_t* frow = &g.flags[base];
      uint16_t* orow = &g.obj[base];
      for (int k = 0; k < n; ++k) {
        const int8_t q = qbuf[k];
        if (q > 0 && open) frow[k] |= kOpenFlag;
        if (q > row[k]) {
          row[k] = q;
          if (q > 0) orow[k] = obj;
        }
      }
    }
  }
}

// Labels enclosed empty components and fills or keeps each (the rule at the top of this file).
void LayerJob::fill_enclosed() {
  Grid& g = grid;
  const std::vector<ExtrusionMove>& moves = layer.moves;
  runs.clear();
  row_begin.assign(g.ny + 1, 0);
  for (uint32_t j = 0; j < g.ny; ++j) {
    row_begin[j] = static_cast<uint32_t>(runs.size());
    const int8_t* row = &g.f[g.at(0, j)];
    uint32_t i = 0;
    while (i < g.nx) {
      const uint32_t s = i;
      i = next_change(row, i, g.nx, false);  // end of the empty run starting at s
      if (i > s) runs.push_back({j, s, i});
      i = next_change(row, i, g.nx, true);
    }
  }
  row_begin[g.ny] = static_cast<uint32_t>(runs.size());
  const uint32_t nr = static_cast<uint32_t>(runs.size());
  ds.reset(nr);
  link_runs(runs, row_begin, g.ny, false, ds);
  // Outside: components with a run on the window border.
  outside.assign(nr, 0);
  for (uint32_t k = 0; k < nr; ++k) {
    const Run& r = runs[k];
    if (r.y == 0 || r.y + 1 == g.ny || r.x0 == 0 || r.x1 == g.nx) outside[ds.find(k)] = 1;
  }
  stats.assign(nr, Stats{});
  std::vector<Stats>& comp = stats;
  bool any = false;
  auto edge = [&](Stats& s, uint32_t i, uint32_t j) {
    const size_t k = g.at(i, j);
    if (g.f[k] > 0) {
      ++s.edges;
      if (g.flags[k] & kOpenFlag) ++s.open_edges;
    }
  };
  for (uint32_t k = 0; k < nr; ++k) {
    const uint32_t root = ds.find(k);
    if (outside[root]) continue;
    const Run& r = runs[k];
    Stats& s = comp[root];
    any = true;
    s.cells += r.x1 - r.x0;
    edge(s, r.x0 - 1, r.y);  // enclosed runs never touch the border, so the neighbours exist
    edge(s, r.x1, r.y);
    for (const uint32_t y : {r.y - 1, r.y + 1}) {
      const int8_t* frow = &g.f[g.at(0, y)];
      const uint8_t* orow = &g.flags[g.at(0, y)];
      uint32_t i = r.x0;
      if constexpr (kLittle) {
        for (; i + 8 <= r.x1; i += 8) {  // filled cells and open filled cells, eight at a time
          const uint64_t filled = filled_mask(load8(frow + i));
          uint64_t fl;
          std::memcpy(&fl, orow + i, 8);
          s.edges += count_bytes(filled);
          s.open_edges += count_bytes(((fl & 0x0101010101010101ull) << 7) & filled);
        }
      }
      for (; i < r.x1; ++i) edge(s, i, y);
    }
  }
  if (!any) return;
  const double cell_area = g.cell * g.cell;
  // Slivers thinner than an extrusion (between lines that just touch) are never holes.
  const double thin = std::max(std::min<double>(wmax, 0.5), 1.5 * g.cell);
  fill.assign(nr, 0);
  for (uint32_t root = 0; root < nr; ++root) {
    const Stats& s = comp[root];
    if (s.cells == 0) continue;  // not a root, or outside
    const double area = static_cast<double>(s.cells) * cell_area;
    // Mean width of the region (2 area / boundary length; the 4-neighbour boundary overstates the
    // length by up to 4/pi on curves, so this errs towards thin).
    const double mean_width = s.edges ? 2.0 * area / (static_cast<double>(s.edges) * g.cell) : 0.0;
    bool do_fill;
    if (s.cells < 4 || area < 0.2 || mean_width < thin) {
      do_fill = true;
    } else if (static_cast<double>(s.open_edges) <= 0.02 * static_cast<double>(s.edges)) {
      do_fill = false;
    } else if (static_cast<double>(s.open_edges) < 0.25 * static_cast<double>(s.edges)) {
      const Run& r = runs[root];
      const double px = g.cx(r.x0), py = g.cy(r.y);
      bool tight = false;
      for (const LoopInfo& l : loops) {
        if (px < l.bx0 || px > l.bx1 || py < l.by0 || py > l.by1) continue;
        if (l.area > area + l.perimeter * (0.5 * l.width + 2 * g.cell) + 4 * cell_area) continue;
        if (point_in_loop(moves, l, px, py)) {
          tight = true;
          break;
        }
      }
      do_fill = !tight;
    } else {
      do_fill = true;
    }
    fill[root] = do_fill;
    if (do_fill)
      ++gaps_filled;
    else
      ++holes_kept;
  }
  for (uint32_t k = 0; k < nr; ++k) {
    const uint32_t root = ds.find(k);
    if (outside[root]) continue;
    if (!fill[root]) continue;
    const Run& r = runs[k];
    const size_t base = g.at(0, r.y);
    std::memset(&g.f[base + r.x0], kFullQ, r.x1 - r.x0);
    if (!g.obj.empty()) {
      const Run& rr = runs[root];
      const uint16_t o = g.obj[g.at(rr.x0 - 1, rr.y)];
      std::fill(&g.obj[base + r.x0], &g.obj[base + r.x1], o);
    }
  }
}

// Cross-section area (filled cells) and footprint marking.
double Reconstructor::State::footprint_and_area(const Grid& g) {
  fp.ensure(g.cx(0) - g.cell, g.cy(0) - g.cell, g.cx(g.nx) + g.cell, g.cy(g.ny) + g.cell);
  uint64_t filled = 0;
  for (uint32_t j = 0; j < g.ny; ++j) {
    const int8_t* row = &g.f[g.at(0, j)];
    uint32_t i = next_change(row, 0, g.nx, false);
    while (i < g.nx) {
      const uint32_t e = next_change(row, i, g.nx, true);
      filled += e - i;
      fp.mark(g, j, i, e);
      i = next_change(row, e, g.nx, false);
    }
  }
  return static_cast<double>(filled) * g.cell * g.cell;
}

// Stage 1: window and cell size (coarsened to fit the cap), loops, painting, gap filling.
void LayerJob::build(double base_cell, uint64_t max_cells) {
  Grid& g = grid;
  // Cells allowed: the cap, and at most kCellsPerMove per move (at least kMinLayerBudget), so the work
  // of a layer stays proportional to its moves even when a few moves span a huge area (hostile input:
  // 200,000 layers of two moves 200 m apart must not each cost a full-cap raster).
  const uint64_t cap = std::max<uint64_t>(
      kMinLayerCells, std::min<uint64_t>(max_cells, std::max<uint64_t>(kMinLayerBudget, kCellsPerMove * layer.moves.size())));
  double c = base_cell;
  int level = 0;
  int64_t ox, oy, nx, ny;
  for (;;) {
    const double margin = std::max(0.5 * wmax, 0.75 * c) + 2 * c;
    ox = static_cast<int64_t>(std::floor((xmin - margin) / c));
    oy = static_cast<int64_t>(std::floor((ymin - margin) / c));
    nx = static_cast<int64_t>(std::ceil((xmax + margin) / c)) - ox + 1;
    ny = static_cast<int64_t>(std::ceil((ymax + margin) / c)) - oy + 1;
    if (static_cast<double>(nx) * static_cast<double>(ny) <= static_cast<double>(cap)) break;
    c *= 2;
    ++level;
  }
  const size_t cells = static_cast<size_t>(nx) * static_cast<size_t>(ny);
  g.cell = c;
  g.level = level;
  g.ox = ox, g.oy = oy;
  g.nx = static_cast<uint32_t>(nx), g.ny = static_cast<uint32_t>(ny);
  g.f.assign(cells, kEmptyQ);
  g.flags.assign(cells, 0);
  if (labelled)
    g.obj.assign(cells, kNoObj);
  else
    g.obj.clear();
  g.z = layer.z;
  g.seq = seq;
  g.valid = true;
  holes_kept = gaps_filled = 0;
  find_loops();
  for (size_t k = 0; k < layer.moves.size(); ++k) paint(layer.moves[k], !closed[k], move_obj[k]);
  fill_enclosed();
}

// Sanitises a layer (drops non-finite or absurd moves, clamps widths), resolves its labels and hands
// it to stage 1.
void Reconstructor::State::accept(Layer& layer) {
  std::unique_ptr<LayerJob> job;
  if (!spare.empty()) {
    job = std::move(spare.back());
    spare.pop_back();
  } else {
    job = std::make_unique<LayerJob>();
  }
  float xmin = std::numeric_limits<float>::max(), ymin = xmin, xmax = -xmin, ymax = -xmin, wmax = 0;
  auto bad = [](float v) { return !std::isfinite(v) || std::fabs(v) > kMaxCoord; };
  size_t kept = 0;
  bool any_obj = false;
  for (size_t k = 0; k < layer.moves.size(); ++k) {
    ExtrusionMove mv = layer.moves[k];
    if (bad(mv.x0) || bad(mv.y0) || bad(mv.x1) || bad(mv.y1)) {
      ++skipped;
      continue;
    }
    if (!(mv.width > 0) || !std::isfinite(mv.width)) mv.width = kDefaultWidth;
    mv.width = std::min(mv.width, kMaxWidth);
    xmin = std::min({xmin, mv.x0, mv.x1});
    xmax = std::max({xmax, mv.x0, mv.x1});
    ymin = std::min({ymin, mv.y0, mv.y1});
    ymax = std::max({ymax, mv.y0, mv.y1});
    wmax = std::max(wmax, mv.width);
    any_obj |= mv.object >= 0;
    layer.moves[kept++] = mv;
  }
  layer.moves.resize(kept);
  if (kept == 0) {
    spare.push_back(std::move(job));
    return;
  }
  // Widths no nozzle prints (E scaled by changed steps/mm or a flow factor the reader cannot see,
  // false ;WIDTH: comments) would paint the layer as hairlines or blobs: when the layer's median
  // width is outside kPlausibleWidth, every width of the layer is scaled so the median is the default.
  width_scratch.resize(kept);
  for (size_t k = 0; k < kept; ++k) width_scratch[k] = layer.moves[k].width;
  std::nth_element(width_scratch.begin(), width_scratch.begin() + static_cast<std::ptrdiff_t>(kept / 2), width_scratch.end());
  const float median = width_scratch[kept / 2];
  if (median < kPlausibleWidth[0] || median > kPlausibleWidth[1]) {
    const float scale = kDefaultWidth / median;
    wmax = 0;
    for (ExtrusionMove& mv : layer.moves) {
      mv.width = std::min(mv.width * scale, kMaxWidth);
      wmax = std::max(wmax, mv.width);
    }
    ++rescaled_layers;
  }
  job->move_obj.resize(kept);
  for (size_t k = 0; k < kept; ++k) job->move_obj[k] = dense_label(layer.moves[k].object);
  job->labelled = n_labels > 0 || any_obj;
  job->xmin = xmin, job->ymin = ymin, job->xmax = xmax, job->ymax = ymax, job->wmax = wmax;
  job->seq = accepted++;
  job->layer = std::move(layer);
  LayerJob* j = job.get();
  const double cell = base_cell;
  const uint64_t max_cells = opt.max_cells_per_layer;
  if (opt.parallel_layers == 0) {
    j->build(cell, max_cells);
  } else {
    j->tasks.run([j, cell, max_cells] { j->build(cell, max_cells); });
  }
  pending.push_back(std::move(job));
  while (pending.size() > opt.parallel_layers) commit_front();
}

void Reconstructor::State::commit_front() {
  std::unique_ptr<LayerJob> job = std::move(pending.front());
  pending.pop_front();
  job->tasks.wait();  // rethrows what the build threw
  commit(*job);
  job->layer.moves.clear();
  spare.push_back(std::move(job));
}

// Stage 2, in layer order.
void Reconstructor::State::commit(LayerJob& job) {
  Grid& g = job.grid;
  if (g.level > 0) ++coarsened;
  max_cell_used = std::max(max_cell_used, g.cell);
  peak_cells = std::max<uint64_t>(peak_cells, static_cast<uint64_t>(g.nx) * g.ny);
  holes_kept += job.holes_kept;
  gaps_filled += job.gaps_filled;

  // Heights: stacked on the previous layer when it lies just below.
  const bool stacked = prev.valid && g.z > prev.z && g.z - prev.z <= kMaxStackGap;
  if (stacked) {
    g.height = g.z - prev.z;
    last_height = g.height;
  } else if (job.layer.height > 0 && job.layer.height <= kMaxLayerHeight) {
    g.height = job.layer.height;
  } else {
    g.height = last_height;
  }

  // Skins: the previous layer's top (now that the next is known), this layer's bottom; then walls.
  if (prev.valid) emit_skin(prev, stacked ? &g : nullptr, prev.z, 1.f, layer_hash(prev.seq, 1, prev.level), res);
  emit_skin(g, stacked ? &prev : nullptr, g.z - g.height, -1.f, layer_hash(g.seq, 0, g.level), res);
  emit_walls(g, g.z, g.height, layer_hash(g.seq, 2, g.level), res);

  const double area = footprint_and_area(g);
  profile.push_back({static_cast<float>(g.z), static_cast<float>(area)});
  ++layers;
  std::swap(prev, g);  // the job keeps the old buffers for reuse
}

// ---- Public --------------------------------------------------------------------------------------
Reconstructor::Reconstructor(ReconstructOptions o) : st_(std::make_unique<State>()) {
  st_->opt = o;
  st_->base_cell = (std::isfinite(o.cell_mm) && o.cell_mm >= 0.01f && o.cell_mm <= 100.f) ? o.cell_mm : 0.2;
  st_->seed_mix = mix64(o.seed ^ 0x6A09E667F3BCC908ull);
  st_->res.obj_area.assign(1, 0.0);
  st_->res.cap = std::max<size_t>(1024, static_cast<size_t>(o.sample_budget) * std::max<uint32_t>(1, o.reservoir_factor));
}

Reconstructor::~Reconstructor() = default;

void Reconstructor::on_object(const ObjectLabel& label) {
  if (st_->finished) throw std::logic_error("Reconstructor: on_object after finish");
  st_->dense_label(label.index);
}

void Reconstructor::on_layer(Layer&& layer) {
  if (st_->finished) throw std::logic_error("Reconstructor: on_layer after finish");
  st_->accept(layer);
}

PrintSample Reconstructor::finish() {
  PrintSample out = snapshot();
  st_->finished = true;
  return out;
}

PrintSample Reconstructor::snapshot() const {
  st_->drain();  // layers still being built are part of the snapshot
  const State& st = *st_;
  PrintSample out;
  out.layers = st.layers;
  out.area_profile = st.profile;
  out.coarsened_layers = st.coarsened;
  out.peak_layer_cells = st.peak_cells;
  out.skipped_moves = st.skipped;
  out.rescaled_layers = st.rescaled_layers;
  out.holes_kept = st.holes_kept;
  out.gaps_filled = st.gaps_filled;
  out.labelled = st.n_labels > 0;
  if (!st.prev.valid) return out;

  // The last layer's top skin goes into a copy of the reservoir.
  Reservoir res = st.res;
  emit_skin(st.prev, nullptr, st.prev.z, 1.f, st.layer_hash(st.prev.seq, 1, st.prev.level), res);
  out.surface_area = res.total_area;

  // Body of each kept candidate.
  const std::vector<std::pair<const Cand*, double>> cands = res.flatten();
  std::vector<uint32_t> body(cands.size(), UINT32_MAX);
  std::vector<double> area;
  uint32_t nb = 0;
  if (out.labelled) {
    // Dense label ids in declaration order; the unlabelled material (skirt, purge lines) last.
    auto slot = [&](const Cand& c) { return c.obj == kNoObj ? st.n_labels : c.obj; };
    std::vector<uint32_t> map(st.n_labels + 1, UINT32_MAX);
    std::vector<uint8_t> used(st.n_labels + 1, 0);
    for (const auto& [c, w] : cands) used[slot(*c)] = 1;
    for (uint32_t k = 0; k <= st.n_labels; ++k)
      if (used[k]) {
        map[k] = nb++;
        area.push_back(k < res.obj_area.size() ? res.obj_area[k] : 0.0);
      }
    for (size_t i = 0; i < cands.size(); ++i) body[i] = map[slot(*cands[i].first)];
  } else {
    // Footprint components, numbered in scan order (by y, then x, of their first cell).
    FootprintBodies fb;
    fb.build(st.fp);
    const int radius = static_cast<int>(std::ceil(st.max_cell_used / st.fp.cell)) + 1;
    std::vector<uint32_t> root(cands.size(), UINT32_MAX), roots;
    for (size_t i = 0; i < cands.size(); ++i) {
      root[i] = fb.lookup(cands[i].first->x, cands[i].first->y, radius);
      if (root[i] != UINT32_MAX) roots.push_back(root[i]);
    }
    std::sort(roots.begin(), roots.end());
    roots.erase(std::unique(roots.begin(), roots.end()), roots.end());
    nb = static_cast<uint32_t>(roots.size());
    area.assign(nb, 0.0);
    for (size_t i = 0; i < cands.size(); ++i) {
      if (root[i] == UINT32_MAX) continue;
      body[i] = static_cast<uint32_t>(std::lower_bound(roots.begin(), roots.end(), root[i]) - roots.begin());
      area[body[i]] += cands[i].second;
    }
  }
  out.bodies = nb;
  out.body_area = area;
  if (nb == 0) return out;

  // Budget per body: half by area, half equally among the largest bodies.
  std::vector<std::vector<uint32_t>> members(nb);
  for (size_t i = 0; i < cands.size(); ++i)
    if (body[i] != UINT32_MAX) members[body[i]].push_back(static_cast<uint32_t>(i));
  double total = 0;
  for (double a : area) total += a;
  std::vector<uint32_t> order(nb);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return area[a] > area[b]; });
  const size_t n_equal = std::min<size_t>(kEqualShareBodies, nb);
  const double n_total = st.opt.sample_budget;
  SurfaceSample& s = out.sample;
  for (size_t k = 0; k < order.size(); ++k) {
    const uint32_t b = order[k];
    if (!(area[b] > 0) || members[b].empty()) continue;
    double share = (nb == 1 ? 1.0 : 0.5) * area[b] / std::max(total, 1e-30);
    if (nb > 1 && k < n_equal) share += 0.5 / static_cast<double>(n_equal);
    const size_t want = static_cast<size_t>(std::llround(n_total * share));
    if (want == 0) continue;
    const std::vector<uint32_t>& mem = members[b];
    std::vector<uint32_t> pick;
    if (want >= mem.size()) {
      pick = mem;
    } else {
      // Systematic sampling over HT weights, in emission order (stratified over z and position).
      double sum = 0;
      for (uint32_t i : mem) sum += cands[i].second;
      const double stride = sum / static_cast<double>(want);
      double next = unit01(mix64(st.seed_mix ^ (0xB0D1ull + b))) * stride, acc = 0;
      uint32_t last = UINT32_MAX;
      for (uint32_t i : mem) {
        acc += cands[i].second;
        while (acc > next && pick.size() < want) {
          if (i != last) pick.push_back(i), last = i;
          next += stride;
        }
      }
    }
    for (uint32_t i : pick) {
      const Cand& c = *cands[i].first;
      s.points.push_back({c.x, c.y, c.z});
      s.normals.push_back({c.nx, c.ny, c.nz});
      s.body.push_back(b);
    }
  }
  return out;
}

}  // namespace s3d::gcode
