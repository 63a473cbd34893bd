// libFuzzer target for gcode::Reader: the input is fed in a few chunks (split points taken from the
// first bytes) with small limits. Bad input must end in LoadError; anything else (a crash, a
// sanitizer report, another exception, or output breaking the toolpath contract: non-finite or
// out-of-range values, unordered layers, a move naming an object never announced, more moves or
// layers than the limits allow) is a bug. The input is also read whole with the general parser only
// (ReaderOptions::vector_lines = false): the SIMD fast path must give the same moves, bit for bit,
// and the same error.
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/gcode/gcode_reader.h"
#include "geometry/load_error.h"

namespace {

using namespace s3d::gcode;

struct CheckingSink : ToolpathSink {
  ReaderOptions opt;
  std::set<int32_t> objects;
  uint32_t next_index = 0;
  std::vector<ExtrusionMove> moves;  // every move, in order
  std::vector<float> layer_z;

  void on_object(const ObjectLabel& l) override {
    if (l.index < 0 || !objects.insert(l.index).second) std::abort();  // announced once
    for (const auto& p : l.polygon)
      if (!std::isfinite(p[0]) || !std::isfinite(p[1])) std::abort();
  }
  void on_layer(Layer&& l) override {
    if (l.index != next_index++ || l.moves.empty() || l.moves.size() > opt.max_moves_per_layer) std::abort();
    if (next_index > opt.max_layers || !std::isfinite(l.z) || !std::isfinite(l.height)) std::abort();
    for (const ExtrusionMove& m : l.moves) {
      for (float v : {m.x0, m.y0, m.x1, m.y1, m.z})
        if (!std::isfinite(v) || std::fabs(v) > 1e5f) std::abort();
      if (!(m.e > 0) || !std::isfinite(m.e) || !(m.width >= 0 && m.width <= 50)) std::abort();
      if (m.object >= 0 && objects.count(m.object) == 0) std::abort();
      if (m.object < -1) std::abort();
    }
    moves.insert(moves.end(), l.moves.begin(), l.moves.end());
    layer_z.push_back(l.z);
  }
};

// The outcome of one reading: the error message ("" when none), the moves and layers.
struct Outcome {
  std::string error;
  CheckingSink sink;
};

void read(std::string_view text, size_t cut1, size_t cut2, bool vector_lines, Outcome& out) {
  out.sink.opt.max_moves_per_layer = 20'000;
  out.sink.opt.max_line_bytes = 4096;
  out.sink.opt.max_layers = 500;
  out.sink.opt.max_objects = 200;
  out.sink.opt.max_chords_per_arc = 256;
  out.sink.opt.vector_lines = vector_lines;
  try {
    Reader reader(out.sink, out.sink.opt);
    reader.feed(text.substr(0, cut1));
    reader.feed(text.substr(cut1, cut2 - cut1));
    reader.feed(text.substr(cut2));
    reader.finish();
    const auto& st = reader.stats();
    if (st.bytes != text.size() || st.layers != out.sink.next_index) std::abort();
    if (!vector_lines && st.planned_lines != 0) std::abort();
  } catch (const s3d::LoadError& e) {
    out.error = e.what();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const size_t cut1 = size > 0 ? data[0] % (size + 1) : 0;
  const size_t cut2 = size > 1 ? cut1 + data[1] % (size - cut1 + 1) : cut1;
  Outcome fast, general;
  read(text, cut1, cut2, true, fast);
  read(text, size, size, false, general);
  if (fast.error != general.error || fast.sink.moves.size() != general.sink.moves.size() ||
      fast.sink.layer_z != general.sink.layer_z)
    std::abort();
  const auto bits = [](float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    return b;
  };
  for (size_t i = 0; i < fast.sink.moves.size(); ++i) {
    const ExtrusionMove& a = fast.sink.moves[i];
    const ExtrusionMove& b = general.sink.moves[i];
    for (const auto field : {&ExtrusionMove::x0, &ExtrusionMove::y0, &ExtrusionMove::x1, &ExtrusionMove::y1,
                             &ExtrusionMove::z, &ExtrusionMove::e, &ExtrusionMove::width})
      if (bits(a.*field) != bits(b.*field)) std::abort();
    if (a.tool != b.tool || a.object != b.object) std::abort();
  }
  return 0;
}
