#pragma once
// The streaming scan, for printer firmware and host software that see a print job as a byte stream:
// begin, feed chunks of any size, end. G-code (plain text or Prusa .bgcode) is parsed and
// reconstructed as it arrives, with memory bounded by the reconstruction's per-layer limits, never
// by the file size; an early `restricted` verdict is raised as soon as the layers seen so far match.
// Formats that cannot be read in one pass (meshes, 3MF, .gcode.3mf zips) are buffered up to
// StreamOptions::max_buffer_bytes and screened at the end.
//
// Bad input never throws from feed(): the first error is kept and reported by finish() (verdict
// error), and later bytes are only hashed.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "engine/scan.h"

namespace s3d {

struct StreamOptions {
  uint64_t max_buffer_bytes = 256ull << 20;  // non-streamable formats: larger inputs are an error
  uint32_t check_every_layers = 50;          // early verdict check period in layers (0: no early checks)
  uint64_t max_cells_per_layer = 64ull << 20;  // reconstruction raster cap per layer (memory bound)
};

class ScanStream {
 public:
  ScanStream(const Engine& engine, std::string name, StreamOptions opt = {});
  ~ScanStream();
  ScanStream(const ScanStream&) = delete;
  ScanStream& operator=(const ScanStream&) = delete;

  // Consumes the next bytes. Returns the verdict known so far: kRestricted once an early check
  // matched (it stays), otherwise kClean (nothing is known before finish()).
  Verdict feed(std::span<const uint8_t> bytes);
  // The final result (after it, feed() and finish() throw std::logic_error).
  ScanResult finish();

  uint64_t bytes_fed() const;
  uint32_t layers_seen() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

}  // namespace s3d
