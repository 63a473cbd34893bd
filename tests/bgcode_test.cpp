// Containers of G-code: .bgcode (BgcodeDecoder / encode_bgcode) and .gcode.3mf (stream_gcode_text).
#include "geometry/gcode/bgcode.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "geometry/formats/format.h"
#include "geometry/gcode/gcode_reader.h"
#include "geometry/gcode/gcode_source.h"
#include "geometry/load_error.h"
#include "tests/support/test_helpers.h"

namespace s3d::gcode {
namespace {

std::string fixture(const std::string& name) { return test::gcode_fixture(name); }

// A few fixtures back to back, repeated until the text spans several 64 KiB blocks.
std::string sample_gcode() {
  std::string one = fixture("prusa_style.gcode") + fixture("arcs.gcode") + fixture("m486.gcode");
  std::string text;
  while (text.size() < 200'000) text += one;
  return text;
}

std::string decode(const std::vector<uint8_t>& file, size_t chunk = 0, const Limits& lim = {}) {
  std::string out;
  BgcodeDecoder dec([&](std::string_view s) { out.append(s); }, lim);
  if (chunk == 0) {
    dec.feed(file);
  } else {
    for (size_t off = 0; off < file.size(); off += chunk)
      dec.feed(std::span<const uint8_t>(file).subspan(off, std::min(chunk, file.size() - off)));
  }
  dec.finish();
  return out;
}

ErrorCode decode_error(const std::vector<uint8_t>& file, std::string* message = nullptr, const Limits& lim = {}) {
  try {
    decode(file, 0, lim);
  } catch (const LoadError& e) {
    if (message) *message = e.what();
    return e.code();
  }
  ADD_FAILURE() << "no LoadError";
  return ErrorCode::kIo;
}

struct Toolpath : ToolpathSink {
  std::vector<ObjectLabel> objects;
  std::vector<Layer> layers;
  void on_object(const ObjectLabel& l) override { objects.push_back(l); }
  void on_layer(Layer&& l) override { layers.push_back(std::move(l)); }
};

Toolpath read_toolpath(std::string_view text) {
  Toolpath t;
  Reader r(t);
  r.feed(text);
  r.finish();
  return t;
}

// comments_kept: ;WIDTH: hints and comment object labels survive (MeatPack encoding 1 drops them).
void expect_same_toolpath(const Toolpath& a, const Toolpath& b, bool comments_kept) {
  ASSERT_EQ(a.layers.size(), b.layers.size());
  for (size_t i = 0; i < a.layers.size(); ++i) {
    ASSERT_EQ(a.layers[i].moves.size(), b.layers[i].moves.size()) << "layer " << i;
    EXPECT_EQ(a.layers[i].z, b.layers[i].z);
    for (size_t k = 0; k < a.layers[i].moves.size(); ++k) {
      const ExtrusionMove& m = a.layers[i].moves[k];
      const ExtrusionMove& n = b.layers[i].moves[k];
      EXPECT_EQ(m.x0, n.x0);
      EXPECT_EQ(m.y0, n.y0);
      EXPECT_EQ(m.x1, n.x1);
      EXPECT_EQ(m.y1, n.y1);
      EXPECT_EQ(m.e, n.e);
      if (comments_kept) {
        EXPECT_EQ(m.width, n.width);
        EXPECT_EQ(m.object, n.object);
      }
    }
  }
}

uint32_t le32(const std::vector<uint8_t>& v, size_t at) {
  return static_cast<uint32_t>(v[at]) | (static_cast<uint32_t>(v[at + 1]) << 8) |
         (static_cast<uint32_t>(v[at + 2]) << 16) | (static_cast<uint32_t>(v[at + 3]) << 24);
}

// Offsets of every block start, walking the file by the block headers (test-side parser).
std::vector<size_t> block_offsets(const std::vector<uint8_t>& f) {
  std::vector<size_t> out;
  const bool crc = f[8] == 1;
  size_t at = 10;
  while (at < f.size()) {
    out.push_back(at);
    const uint16_t type = static_cast<uint16_t>(f[at] | (f[at + 1] << 8));
    const uint16_t comp = static_cast<uint16_t>(f[at + 2] | (f[at + 3] << 8));
    const uint32_t usize = le32(f, at + 4);
    const uint32_t size = comp ? le32(f, at + 8) : usize;
    at += (comp ? 12 : 8) + (type == 5 ? 6 : 2) + size + (crc ? 4 : 0);
  }
  EXPECT_EQ(at, f.size());
  return out;
}

// ---- round trips ---------------------------------------------------------------------------------

TEST(Bgcode, RoundTripEveryCompressionAndEncoding) {
  const std::string text = sample_gcode();
  const Toolpath reference = read_toolpath(text);
  ASSERT_GT(reference.layers.size(), 10u);
  for (int compression = 0; compression <= 3; ++compression) {
    for (int encoding = 0; encoding <= 2; ++encoding) {
      SCOPED_TRACE("compression " + std::to_string(compression) + " encoding " + std::to_string(encoding));
      const std::vector<uint8_t> file = encode_bgcode(text, compression, encoding);
      ASSERT_EQ(detect_format(file), Format::kBgcode);
      EXPECT_GT(block_offsets(file).size(), 7u);  // 5 metadata/thumbnail blocks + several G-code blocks
      if (compression >= 1 && encoding == 0) {
        EXPECT_LT(file.size(), text.size() * 3 / 4);
      }
      const std::string whole = decode(file);
      EXPECT_EQ(decode(file, 13), whole);
      EXPECT_EQ(decode(file, 4096), whole);
      if (encoding == 0) {
        EXPECT_EQ(whole, text);
      } else {
        EXPECT_LT(whole.size(), text.size());  // spaces (and with encoding 1 comments) are gone
        EXPECT_EQ(whole.find("G1 X"), std::string::npos);
      }
      // The toolpath survives; MeatPack without comments loses the ;WIDTH: hints and comment labels.
      expect_same_toolpath(reference, read_toolpath(whole), encoding != 1);
    }
  }
}

TEST(Bgcode, WithoutChecksumsAndEmptyGcode) {
  const std::string text = fixture("absolute.gcode");
  for (int compression = 0; compression <= 3; ++compression) {
    const std::vector<uint8_t> file = encode_bgcode(text, compression, 0, false);
    EXPECT_EQ(file[8], 0);
    EXPECT_EQ(decode(file), text);
  }
  const std::vector<uint8_t> empty = encode_bgcode("", 1, 2);
  EXPECT_EQ(decode(empty), "");
}

TEST(Bgcode, MeatPackKnownBytes) {
  // Hand-assembled from the format description, not from our encoder: "G1 X10\n" in no-spaces mode
  // is "G1X10\n": pairs (G,1) (X,1) (0,\n) -> 0x1D 0x1E 0xC0; then "M83 \n" (not a G line, so the
  // space stays, as a full byte): (M,8) -> 0x8F 'M'; (3,' ') -> 0xF3 ' '; (\n,\n) -> 0xCC.
  std::vector<uint8_t> data{0xFF, 0xFF, 251, 0xFF, 0xFF, 247, 0x1D, 0x1E, 0xC0, 0x8F, 'M', 0xF3, ' ', 0xCC,
                            0xFF, 0xFF, 250, ';', 'x', '\n'};  // packing off: raw bytes
  std::vector<uint8_t> file{'G', 'C', 'D', 'E', 1, 0, 0, 0, 0, 0};
  const uint32_t n = static_cast<uint32_t>(data.size());
  const uint8_t header[] = {1, 0, 0, 0, static_cast<uint8_t>(n), 0, 0, 0, 1, 0};  // G-code, none, size, encoding 1
  file.insert(file.end(), std::begin(header), std::end(header));
  file.insert(file.end(), data.begin(), data.end());
  EXPECT_EQ(decode(file), "G1X10\nM83 \n;x\n");
}

TEST(Bgcode, HeatshrinkKnownBits) {
  // Literal 'a', literal 'b', back reference offset 2 count 4 (window 11, lookahead 4): "ababab".
  // Bits: 1 01100001 | 1 01100010 | 0 00000000001 0011, then zero padding.
  const std::string bits = std::string("101100001") + "101100010" + "0" + "00000000001" + "0011";
  std::vector<uint8_t> packed;
  for (size_t i = 0; i < bits.size(); i += 8) {
    uint8_t b = 0;
    for (size_t k = 0; k < 8; ++k) b = static_cast<uint8_t>((b << 1) | (i + k < bits.size() && bits[i + k] == '1'));
    packed.push_back(b);
  }
  std::vector<uint8_t> file{'G', 'C', 'D', 'E', 1, 0, 0, 0, 0, 0};
  const uint8_t header[] = {1, 0, 2, 0, 6, 0, 0, 0, static_cast<uint8_t>(packed.size()), 0, 0, 0, 0, 0};
  file.insert(file.end(), std::begin(header), std::end(header));
  file.insert(file.end(), packed.begin(), packed.end());
  EXPECT_EQ(decode(file), "ababab");
}

// ---- bad input -------------------------------------------------------------------------------------

TEST(Bgcode, CrcMismatchIsAnError) {
  const std::vector<uint8_t> good = encode_bgcode(fixture("prusa_style.gcode"), 3, 2);
  const std::vector<size_t> blocks = block_offsets(good);
  // Flip one bit in the last block's data, then in a metadata block, then in a stored CRC.
  for (size_t at : {good.size() - 5, blocks[1] + 9, good.size() - 1}) {
    std::vector<uint8_t> bad = good;
    bad[at] ^= 0x10;
    std::string message;
    EXPECT_EQ(decode_error(bad, &message), ErrorCode::kMalformed) << at;
    EXPECT_NE(message.find("CRC32"), std::string::npos) << message;
  }
}

TEST(Bgcode, TruncationIsReportedAtFinish) {
  const std::vector<uint8_t> good = encode_bgcode(fixture("prusa_style.gcode"), 1, 0);
  const std::vector<size_t> blocks = block_offsets(good);
  for (size_t cut : {size_t{0}, size_t{4}, size_t{12}, blocks[2] + 3, blocks[5] + 10, good.size() - 1}) {
    const std::vector<uint8_t> part(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut));
    std::string message;
    EXPECT_EQ(decode_error(part, &message), ErrorCode::kTruncated) << cut;
    EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  }
  // Cut exactly between blocks: a shorter but well-formed file.
  const std::vector<uint8_t> part(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(blocks[5]));
  EXPECT_EQ(decode(part), "");
}

TEST(Bgcode, MalformedHeadersAndLimits) {
  const std::vector<uint8_t> good = encode_bgcode(fixture("absolute.gcode"), 2, 1);
  std::vector<uint8_t> bad = good;
  bad[0] = 'X';
  EXPECT_EQ(decode_error(bad), ErrorCode::kMalformed);
  bad = good;
  bad[4] = 2;  // version 2
  EXPECT_EQ(decode_error(bad), ErrorCode::kUnsupported);
  bad = good;
  bad[8] = 7;  // checksum type
  EXPECT_EQ(decode_error(bad), ErrorCode::kMalformed);
  const std::vector<size_t> blocks = block_offsets(good);
  bad = good;
  bad[blocks[0]] = 9;  // block type
  EXPECT_EQ(decode_error(bad), ErrorCode::kMalformed);
  bad = good;
  bad[blocks.back() + 2] = 4;  // compression
  EXPECT_EQ(decode_error(bad), ErrorCode::kMalformed);
  bad = good;
  bad[blocks.back() + 7] = 0x7F;  // uncompressed size ~2 GiB
  EXPECT_EQ(decode_error(bad), ErrorCode::kLimitExceeded);

  // A G-code block whose decompressed size is more than the data can hold, with a fixed CRC:
  // refused before allocating; a wrong-but-possible size fails in the codec.
  const std::vector<uint8_t> deflated = encode_bgcode(fixture("absolute.gcode"), 1, 0, false);
  const size_t last = block_offsets(deflated).back();
  bad = deflated;
  bad[last + 6] = 0x40;  // uncompressed size + 4 MiB
  EXPECT_EQ(decode_error(bad), ErrorCode::kMalformed);
  bad = deflated;
  bad[last + 4] ^= 1;
  EXPECT_EQ(decode_error(bad), ErrorCode::kMalformed);

  Limits lim;
  lim.max_decompressed_bytes = 100;
  std::string message;
  EXPECT_EQ(decode_error(good, &message, lim), ErrorCode::kLimitExceeded);
  EXPECT_NE(message.find("max_decompressed_bytes"), std::string::npos) << message;

  EXPECT_THROW(encode_bgcode("G1 X1\n", 4, 0), std::invalid_argument);
  EXPECT_THROW(encode_bgcode("G1 X1\n", 0, 3), std::invalid_argument);
}

// bgcode_extent finds where a file ends whatever follows it (zeros, random bytes, another file),
// the same whether it sees the bytes at once or growing 4 KiB at a time; with fewer bytes it says
// how much is whole blocks; without checksums a zeroed tail still ends it.
TEST(Bgcode, ExtentFindsTheEndWhateverFollows) {
  const std::string text = sample_gcode();
  for (const bool crc : {true, false}) {
    const std::vector<uint8_t> file = encode_bgcode(text, 1, 0, crc);
    std::vector<uint8_t> junk(9000);
    std::mt19937 rng(5);
    for (uint8_t& b : junk) b = static_cast<uint8_t>(rng());
    for (const std::vector<uint8_t>& tail : {std::vector<uint8_t>(9000, 0), junk, encode_bgcode("G1 X1\n", 0, 0, crc)}) {
      std::vector<uint8_t> disk = file;
      disk.insert(disk.end(), tail.begin(), tail.end());
      uint64_t resume = 0;
      bool seen = false;
      BgcodeExtent x = bgcode_extent(disk, resume, seen);
      ASSERT_EQ(x.state, BgcodeExtent::kEnd) << crc;
      EXPECT_EQ(x.end, file.size()) << crc;
      resume = 0;
      seen = false;
      for (size_t n = 4096;; n += 4096) {
        x = bgcode_extent(std::span<const uint8_t>(disk).first(std::min(n, disk.size())), resume, seen);
        if (x.state != BgcodeExtent::kNeedMore) break;
        EXPECT_LE(x.complete, n);
        ASSERT_LT(n, disk.size());
      }
      EXPECT_EQ(x.state, BgcodeExtent::kEnd);
      EXPECT_EQ(x.end, file.size());
    }
    // Cut inside the last block: not ended, and the whole blocks before it hold G-code.
    uint64_t resume = 0;
    bool seen = false;
    const BgcodeExtent cut = bgcode_extent(std::span<const uint8_t>(file).first(file.size() - 10), resume, seen);
    EXPECT_EQ(cut.state, BgcodeExtent::kNeedMore);
    EXPECT_TRUE(cut.gcode_seen);
    EXPECT_LT(cut.complete, file.size() - 10);
    EXPECT_GT(cut.complete, 10u);
  }
  const std::vector<uint8_t> not_bgcode(64, 'G');
  uint64_t resume = 0;
  bool seen = false;
  EXPECT_EQ(bgcode_extent(not_bgcode, resume, seen).state, BgcodeExtent::kNotBgcode);
}

TEST(Bgcode, FeedAfterFinishIsAProgrammingError) {
  BgcodeDecoder dec([](std::string_view) {});
  const std::vector<uint8_t> file = encode_bgcode("G1 X1\n", 0, 0);
  dec.feed(file);
  dec.finish();
  EXPECT_THROW(dec.feed(file), std::logic_error);
  EXPECT_EQ(dec.stats().gcode_blocks, 1u);
  EXPECT_EQ(dec.stats().blocks, 6u);
}

// ---- stream_gcode_text ---------------------------------------------------------------------------------

std::vector<uint8_t> make_zip(const std::vector<std::pair<std::string, std::string>>& members, const std::string& path) {
  std::vector<std::pair<std::string, std::vector<uint8_t>>> bytes;
  for (const auto& [name, data] : members) bytes.push_back({name, std::vector<uint8_t>(data.begin(), data.end())});
  s3d::test::write_zip(path, bytes);
  std::vector<uint8_t> out = s3d::test::read_bytes(path);
  std::filesystem::remove(path);
  return out;
}

struct Streamed {
  std::vector<std::string> parts;
  std::vector<std::string> texts;
};

Streamed stream(const std::vector<uint8_t>& data, Format f, const Limits& lim = {}) {
  Streamed s;
  stream_gcode_text(
      data, f, lim,
      [&](std::string_view chunk) {
        EXPECT_LE(chunk.size(), size_t{1} << 20);
        s.texts.back().append(chunk);
      },
      [&](std::string_view part) {
        s.parts.emplace_back(part);
        s.texts.emplace_back();
      });
  return s;
}

TEST(GcodeSource, Gcode3mfPlatesInOrder) {
  std::string big;  // more than one 1 MiB chunk
  while (big.size() < (3u << 20)) big += fixture("prusa_style.gcode");
  const std::string plate1 = fixture("absolute.gcode");
  const std::vector<uint8_t> zip = make_zip(
      {{"3D/3dmodel.model", "<model/>"},
       {"Metadata/plate_10.gcode", fixture("arcs.gcode")},
       {"Metadata/plate_2.gcode", big},
       {"Metadata/plate_1.gcode", plate1},
       {"Metadata/plate_1.gcode.md5", "0123"},
       {"extra/other.GCODE", "G1 X1\n"}},
      s3d::test::temp_path("plates.gcode.3mf"));
  ASSERT_EQ(detect_format(zip), Format::kGcode3mf);
  const Streamed s = stream(zip, Format::kGcode3mf);
  const std::vector<std::string> expected{"Metadata/plate_1.gcode", "Metadata/plate_2.gcode", "Metadata/plate_10.gcode",
                                          "extra/other.GCODE"};
  EXPECT_EQ(s.parts, expected);
  ASSERT_EQ(s.texts.size(), 4u);
  EXPECT_EQ(s.texts[0], plate1);
  EXPECT_EQ(s.texts[1], big);
  EXPECT_EQ(s.texts[2], fixture("arcs.gcode"));

  Limits lim;
  lim.max_decompressed_bytes = 1u << 20;
  try {
    stream(zip, Format::kGcode3mf, lim);
    ADD_FAILURE() << "no error";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kLimitExceeded);
    EXPECT_NE(std::string(e.what()).find("max_decompressed_bytes"), std::string::npos);
  }
  lim = {};
  lim.max_archive_entries = 3;
  EXPECT_THROW(stream(zip, Format::kGcode3mf, lim), LoadError);

  const std::vector<uint8_t> no_gcode =
      make_zip({{"3D/3dmodel.model", "<model/>"}}, s3d::test::temp_path("nogcode.zip"));
  try {
    stream(no_gcode, Format::kGcode3mf);
    ADD_FAILURE() << "no error";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kMalformed);
  }
  const std::vector<uint8_t> not_zip{'P', 'K', 3, 4, 0, 0};
  EXPECT_THROW(stream(not_zip, Format::kGcode3mf), LoadError);
}

TEST(GcodeSource, PlainAndBgcodeAndOthers) {
  const std::string text = sample_gcode();
  const std::vector<uint8_t> plain(text.begin(), text.end());
  Streamed s = stream(plain, Format::kGcode);
  ASSERT_EQ(s.parts.size(), 1u);
  EXPECT_EQ(s.parts[0], "");
  EXPECT_EQ(s.texts[0], text);
  s = stream(encode_bgcode(text, 3, 0), Format::kBgcode);
  ASSERT_EQ(s.parts.size(), 1u);
  EXPECT_EQ(s.texts[0], text);
  try {
    stream(plain, Format::kStlBinary);
    ADD_FAILURE() << "no error";
  } catch (const LoadError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  // Without on_part the text still arrives.
  std::string out;
  stream_gcode_text(plain, Format::kGcode, {}, [&](std::string_view c) { out.append(c); });
  EXPECT_EQ(out, text);
}

}  // namespace
}  // namespace s3d::gcode
