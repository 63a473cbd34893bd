#include "geometry/gcode/print_from_gcode.h"

#include <memory>

#include "geometry/gcode/gcode_source.h"
#include "geometry/load_error.h"

namespace s3d::gcode {

std::vector<Print> read_prints(std::span<const uint8_t> data, Format f, const Limits& limits, const PrintOptions& opt) {
  std::vector<Print> prints;
  std::unique_ptr<Reconstructor> rec;
  std::unique_ptr<Reader> reader;
  std::string part;
  auto close = [&] {
    if (!reader) return;
    reader->finish();
    Print p;
    p.part = part;
    p.stats = reader->stats();
    p.sample = rec->finish();
    reader.reset();
    rec.reset();
    if (p.sample.layers > 0) prints.push_back(std::move(p));
  };
  auto open = [&](std::string_view name) {
    close();
    part = std::string(name);
    rec = std::make_unique<Reconstructor>(opt.reconstruct);
    reader = std::make_unique<Reader>(*rec, opt.reader);
  };
  stream_gcode_text(
      data, f, limits,
      [&](std::string_view chunk) {
        check_stop(limits);  // a time limit or a cancel request, between chunks
        if (!reader) open("");
        reader->feed(chunk);
      },
      [&](std::string_view name) { open(name); });
  close();
  if (prints.empty()) throw LoadError(ErrorCode::kEmpty, "the G-code extrudes nothing (no layer with extrusion)");
  return prints;
}

}  // namespace s3d::gcode
