// libFuzzer target for BgcodeDecoder. Inputs starting with "GCDE" are decoded (fed in two chunks)
// with small limits: bad input must end in LoadError, and the text handed out is bounded by the
// limit. Other inputs are G-code text for a round trip: encode_bgcode with the compression and
// encoding picked by the first byte, decode, and compare (exactly, for the unencoded form).
// bgcode_extent (carving) must agree with itself whether it sees the input at once or in two steps,
// never end past the input, and find the exact end of our own encoding followed by zeros.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "geometry/gcode/bgcode.h"
#include "geometry/load_error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  if (size >= 4 && data[0] == 'G' && data[1] == 'C' && data[2] == 'D' && data[3] == 'E') {
    s3d::Limits lim;
    lim.max_decompressed_bytes = 1 << 20;
    uint64_t out_bytes = 0;
    try {
      s3d::gcode::BgcodeDecoder dec([&](std::string_view s) { out_bytes += s.size(); }, lim);
      const size_t cut = size / 2;
      dec.feed(in.first(cut));
      dec.feed(in.subspan(cut));
      dec.finish();
    } catch (const s3d::LoadError&) {
    }
    // MeatPack at most doubles the declared G-code bytes.
    if (out_bytes > 2 * lim.max_decompressed_bytes) std::abort();
    uint64_t resume = 0, resume2 = 0;
    bool seen = false, seen2 = false;
    const auto whole = s3d::gcode::bgcode_extent(in, resume, seen);
    s3d::gcode::bgcode_extent(in.first(size / 2), resume2, seen2);
    const auto stepped = s3d::gcode::bgcode_extent(in, resume2, seen2);
    if (whole.state != stepped.state || whole.end != stepped.end || whole.complete != stepped.complete) std::abort();
    if (whole.end > size || whole.complete > size) std::abort();
    return 0;
  }
  if (size == 0) return 0;
  const int compression = data[0] & 3;
  const int encoding = (data[0] >> 2) % 3;
  const bool crc = (data[0] & 0x40) != 0;
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::vector<uint8_t> file = s3d::gcode::encode_bgcode(text, compression, encoding, crc);
  std::string back;
  try {
    s3d::gcode::BgcodeDecoder dec([&](std::string_view s) { back.append(s); });
    dec.feed(file);
    dec.finish();
  } catch (const s3d::LoadError&) {
    std::abort();  // our own encoding must decode
  }
  if (encoding == 0 && back != text) std::abort();
  std::vector<uint8_t> on_disk = file;
  on_disk.resize(file.size() + 64, 0);
  uint64_t resume = 0;
  bool seen = false;
  const auto x = s3d::gcode::bgcode_extent(on_disk, resume, seen);
  if (x.state != s3d::gcode::BgcodeExtent::kEnd || x.end != file.size()) std::abort();
  return 0;
}
