#pragma once
// Reconstruction of the printed solid from a G-code toolpath: a ToolpathSink that turns each layer's
// extrusion moves into a filled cross-section (a 2D distance raster), and from the stack of
// cross-sections draws a surface sample with outward normals (side walls, top and bottom skins) that
// feeds the same matcher as a mesh, plus the cross-section area profile A(z).
// Memory is bounded: a few layers of raster (each capped by max_cells_per_layer, coarsened beyond it),
// a coarse footprint of the whole print (for separating bodies) and a bounded reservoir of candidate
// points. Output depends only on the sequence of layers and the seed (so not on how the G-code was
// chunked). See reconstruct.cpp for the rules (which enclosed gaps are filled, which stay holes).
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "geometry/gcode/toolpath.h"
#include "geometry/sample_surface.h"

namespace s3d::gcode {

struct ReconstructOptions {
  float cell_mm = 0.2f;                           // raster cell size (mm); layers too big for the cap get coarser cells
  uint32_t sample_budget = 24000;                 // about this many points in the final sample
  uint64_t seed = 0x5eed;
  uint64_t max_cells_per_layer = 64ull << 20;     // cells of one layer's raster (about 2 bytes each, 4 with labels);
                                                  //   a layer also gets at most max(65,536, 16,384 x its moves)
  uint32_t reservoir_factor = 16;                 // candidate points kept before the final pick: factor x budget
  uint32_t parallel_layers = 2;                   // layers rasterised ahead on TBB worker threads (0: all on the
                                                  //   calling thread); the output is the same either way, and
                                                  //   memory holds about parallel_layers + 2 layer rasters
};

struct PrintSample {
  SurfaceSample sample;            // points on the printed solid's outer surface, unit outward normals, body label per point
  std::vector<double> body_area;   // estimated surface area (mm^2) per body
  uint32_t bodies = 0;
  bool labelled = false;           // bodies came from the file's object labels
  std::vector<std::array<float, 2>> area_profile;  // per layer: (z, cross-section area mm^2)
  uint32_t layers = 0;
  // Diagnostics.
  double surface_area = 0;         // estimated total surface area (mm^2), the sum of body_area
  uint32_t coarsened_layers = 0;   // layers rasterised with cells coarser than cell_mm (cell cap or budget)
  uint64_t peak_layer_cells = 0;   // largest raster allocated for one layer (cells)
  uint64_t skipped_moves = 0;      // moves ignored: non-finite or absurd coordinates (|x|,|y| > 1e6 mm)
  uint32_t rescaled_layers = 0;    // layers whose median width (0.2-1.6 mm plausible) was rescaled to 0.45 mm
  uint32_t holes_kept = 0;         // enclosed empty regions kept empty (holes), summed over layers
  uint32_t gaps_filled = 0;        // enclosed empty regions filled (sparse infill gaps), summed over layers
};

class Reconstructor final : public ToolpathSink {
 public:
  explicit Reconstructor(ReconstructOptions o = {});
  ~Reconstructor() override;
  Reconstructor(const Reconstructor&) = delete;
  Reconstructor& operator=(const Reconstructor&) = delete;

  void on_object(const ObjectLabel& label) override;
  void on_layer(Layer&& layer) override;

  // The sample of everything received so far (the last layer counts as the top). Does not change
  // the state: more layers may follow.
  PrintSample snapshot() const;
  // The final sample; later on_layer / on_object calls throw std::logic_error.
  PrintSample finish();

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace s3d::gcode
