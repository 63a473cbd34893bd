#include "geometry/gcode/bgcode.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <stdexcept>
#include <string>

#include "geometry/load_error.h"

namespace s3d::gcode {

namespace {

constexpr uint32_t kVersion = 1;
constexpr size_t kFileHeaderBytes = 10;
constexpr size_t kEmitPiece = 1u << 20;          // text handed to the callback at most this much at a time
constexpr size_t kEncodeBlockBytes = 65535;      // what PrusaSlicer uses for G-code blocks

enum BlockType : uint16_t {
  kFileMetadata = 0,
  kGcodeBlock = 1,
  kSlicerMetadata = 2,
  kPrinterMetadata = 3,
  kPrintMetadata = 4,
  kThumbnail = 5,
};

const char* block_name(uint16_t type) {
  switch (type) {
    case kFileMetadata: return "file metadata";
    case kGcodeBlock: return "G-code";
    case kSlicerMetadata: return "slicer metadata";
    case kPrinterMetadata: return "printer metadata";
    case kPrintMetadata: return "print metadata";
    case kThumbnail: return "thumbnail";
    default: return "unknown";
  }
}

uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}

uint32_t crc_update(uint32_t crc, const uint8_t* p, size_t n) {
  while (n > 0) {  // zlib takes uInt lengths
    const auto step = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, p, step));
    p += step;
    n -= step;
  }
  return crc;
}

// ---- decompression --------------------------------------------------------------------------------

void inflate_zlib(const std::vector<uint8_t>& in, size_t out_size, std::vector<uint8_t>& out, uint64_t block) {
  out.resize(out_size);
  if (out_size == 0) return;
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw LoadError(ErrorCode::kMalformed, "bgcode: cannot start inflate");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out_size);
  const int rc = inflate(&zs, Z_FINISH);
  const uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != out_size)
    throw LoadError(ErrorCode::kMalformed, "bgcode block " + std::to_string(block) +
                                               ": corrupt deflate data or wrong uncompressed size");
}

// Heatshrink: a bit stream, most significant bit first. Tag 1: an 8-bit literal. Tag 0: a back
// reference, window_bits of (offset - 1) then lookahead_bits of (count - 1), copying count bytes from
// offset bytes back in the output (the copy may overlap itself). Output before the start reads as 0,
// as in the reference decoder's zeroed window. Trailing bits of the last byte are padding.
void heatshrink_decode(const std::vector<uint8_t>& in, int window_bits, int lookahead_bits, size_t out_size,
                       std::vector<uint8_t>& out, uint64_t block) {
  out.clear();
  out.reserve(out_size);
  size_t byte = 0;
  int bit = 0;  // bits already used of in[byte]
  const size_t total_bits = in.size() * 8;
  size_t used_bits = 0;
  auto get = [&](int count, uint32_t& v) {
    if (used_bits + static_cast<size_t>(count) > total_bits) return false;
    v = 0;
    for (int i = 0; i < count; ++i) {
      v = (v << 1) | ((in[byte] >> (7 - bit)) & 1u);
      if (++bit == 8) {
        bit = 0;
        ++byte;
      }
    }
    used_bits += static_cast<size_t>(count);
    return true;
  };
  while (out.size() < out_size) {
    uint32_t tag = 0, v = 0;
    if (!get(1, tag)) break;
    if (tag) {
      if (!get(8, v)) break;
      out.push_back(static_cast<uint8_t>(v));
      continue;
    }
    uint32_t index = 0, count = 0;
    if (!get(window_bits, index) || !get(lookahead_bits, count)) break;
    const size_t offset = index + 1;
    size_t n = std::min<size_t>(count + 1, out_size - out.size());
    for (; n > 0; --n) {
      const size_t at = out.size();
      out.push_back(at >= offset ? out[at - offset] : 0);
    }
  }
  if (out.size() != out_size)
    throw LoadError(ErrorCode::kMalformed, "bgcode block " + std::to_string(block) +
                                               ": heatshrink data ends before the declared uncompressed size");
}

// ---- MeatPack -------------------------------------------------------------------------------------

constexpr uint8_t kMpSignal = 0xFF;
constexpr uint8_t kMpEnablePacking = 251;
constexpr uint8_t kMpDisablePacking = 250;
constexpr uint8_t kMpResetAll = 249;
constexpr uint8_t kMpEnableNoSpaces = 247;
constexpr uint8_t kMpDisableNoSpaces = 246;

// MeatPack packs two characters of the set "0123456789. \nGX" into one byte (first character in
// the low nibble); nibble 0xF means "this character follows as a full byte". In no-spaces mode the
// space code stands for 'E'. Two 0xFF bytes followed by a command byte switch modes.
void meatpack_decode(const std::vector<uint8_t>& in, std::string& out) {
  out.clear();
  out.reserve(in.size() * 2);
  bool packing = false, no_spaces = false;
  bool signal = false, command = false;
  int full_pending = 0;
  char held = 0;
  auto decode_nibble = [&](uint8_t n) -> char {
    static constexpr char kTable[16] = {'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '.', ' ', '\n', 'G', 'X', 0};
    return n == 11 && no_spaces ? 'E' : kTable[n];
  };
  auto rx = [&](uint8_t c) {
    if (!packing) {
      out.push_back(static_cast<char>(c));
      return;
    }
    if (full_pending > 0) {
      out.push_back(static_cast<char>(c));
      if (held) {
        out.push_back(held);
        held = 0;
      }
      --full_pending;
      return;
    }
    const uint8_t lo = c & 0xF, hi = c >> 4;
    if (lo == 0xF) {
      full_pending = 1;
      if (hi == 0xF)
        full_pending = 2;
      else
        held = decode_nibble(hi);
      return;
    }
    const char first = decode_nibble(lo);
    out.push_back(first);
    if (first == '\n') return;  // a line end pairs with padding
    if (hi == 0xF)
      full_pending = 1;
    else
      out.push_back(decode_nibble(hi));
  };
  for (uint8_t b : in) {
    if (b == kMpSignal) {
      if (signal) {
        command = true;
        signal = false;
      } else {
        signal = true;
      }
      continue;
    }
    if (command) {
      command = false;
      switch (b) {
        case kMpEnablePacking: packing = true; break;
        case kMpDisablePacking: packing = false; break;
        case kMpResetAll: packing = false; break;
        case kMpEnableNoSpaces: no_spaces = true; break;
        case kMpDisableNoSpaces: no_spaces = false; break;
        default: break;
      }
      continue;
    }
    if (signal) {
      rx(kMpSignal);
      signal = false;
    }
    rx(b);
  }
}

// ---- encoders (encode_bgcode) ---------------------------------------------------------------------

int meatpack_code(char c) {  // no-spaces mode: 'E' takes the space's code, spaces go out in full
  if (c >= '0' && c <= '9') return c - '0';
  switch (c) {
    case '.': return 10;
    case 'E': return 11;
    case '\n': return 12;
    case 'G': return 13;
    case 'X': return 14;
    default: return -1;
  }
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

void meatpack_encode(std::string_view text, bool keep_comments, std::vector<uint8_t>& out) {
  auto command = [&](uint8_t c) {
    out.push_back(kMpSignal);
    out.push_back(kMpSignal);
    out.push_back(c);
  };
  command(kMpEnablePacking);
  command(kMpEnableNoSpaces);
  bool packing = true;
  std::string line;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    const size_t stop = nl == std::string_view::npos ? text.size() : nl;
    std::string_view raw = text.substr(pos, stop - pos);
    pos = stop + 1;
    if (raw.empty()) continue;
    if (keep_comments && raw.front() == ';') {
      if (packing) {
        command(kMpDisablePacking);
        packing = false;
      }
      out.insert(out.end(), raw.begin(), raw.end());
      out.push_back('\n');
      continue;
    }
    if (raw.front() == ';' || raw.front() == '\r' || raw.size() < 2) continue;
    const std::string_view body = trim_spaces(raw.substr(0, raw.find(';')));
    if (body.empty()) continue;
    line.assign(body.data(), body.size());
    const size_t g = line.find_first_of("Gg");
    if (g != std::string::npos && g + 1 < line.size() && line[g + 1] >= '0' && line[g + 1] <= '9') {
      // A G line: upper-case e/x/g and drop spaces and the checksum, as the binarizer does.
      std::string packed;
      for (char c : line) {
        if (c == '*') break;
        if (c == ' ' || c == '\t') continue;
        packed.push_back(c == 'e' ? 'E' : c == 'x' ? 'X' : c == 'g' ? 'G' : c);
      }
      line.swap(packed);
    }
    line.push_back('\n');
    if (!packing) {
      command(kMpEnablePacking);
      packing = true;
    }
    for (size_t i = 0; i < line.size(); i += 2) {
      const char c1 = line[i];
      const char c2 = i + 1 < line.size() ? line[i + 1] : '\n';
      const int v1 = meatpack_code(c1), v2 = meatpack_code(c2);
      if (v1 >= 0 && v2 >= 0) {
        out.push_back(static_cast<uint8_t>(v1 | (v2 << 4)));
      } else if (v1 >= 0) {
        out.push_back(static_cast<uint8_t>(v1 | 0xF0));
        out.push_back(static_cast<uint8_t>(c2));
      } else if (v2 >= 0) {
        out.push_back(static_cast<uint8_t>(0x0F | (v2 << 4)));
        out.push_back(static_cast<uint8_t>(c1));
      } else {
        out.push_back(0xFF);
        out.push_back(static_cast<uint8_t>(c1));
        out.push_back(static_cast<uint8_t>(c2));
      }
    }
  }
  if (!keep_comments) command(kMpResetAll);
}

class BitWriter {
 public:
  explicit BitWriter(std::vector<uint8_t>& out) : out_(out) {}
  void put(uint32_t value, int bits) {
    for (int i = bits - 1; i >= 0; --i) {
      cur_ = static_cast<uint8_t>((cur_ << 1) | ((value >> i) & 1u));
      if (++n_ == 8) {
        out_.push_back(cur_);
        cur_ = 0;
        n_ = 0;
      }
    }
  }
  void flush() {
    if (n_ > 0) out_.push_back(static_cast<uint8_t>(cur_ << (8 - n_)));
    cur_ = 0;
    n_ = 0;
  }

 private:
  std::vector<uint8_t>& out_;
  uint8_t cur_ = 0;
  int n_ = 0;
};

// Greedy LZSS in the heatshrink bit format, with hash chains on two-byte prefixes.
std::vector<uint8_t> heatshrink_encode(const std::vector<uint8_t>& in, int window_bits, int lookahead_bits) {
  std::vector<uint8_t> out;
  BitWriter bw(out);
  const size_t n = in.size();
  const size_t window = size_t{1} << window_bits;
  const size_t max_len = size_t{1} << lookahead_bits;
  constexpr size_t kHashBits = 12;  // chains may mix prefixes; every candidate is compared anyway
  auto hash = [&](size_t i) { return ((static_cast<size_t>(in[i]) * 251) ^ in[i + 1]) & ((size_t{1} << kHashBits) - 1); };
  std::vector<int64_t> head(size_t{1} << kHashBits, -1);
  std::vector<int64_t> prev(n, -1);
  auto insert = [&](size_t i) {
    if (i + 1 >= n) return;
    const size_t h = hash(i);
    prev[i] = head[h];
    head[h] = static_cast<int64_t>(i);
  };
  size_t i = 0;
  while (i < n) {
    size_t best_len = 0, best_off = 0;
    if (i + 1 < n) {
      const size_t h = hash(i);
      int steps = 0;
      for (int64_t j = head[h]; j >= 0 && i - static_cast<size_t>(j) <= window && steps < 256;
           j = prev[static_cast<size_t>(j)], ++steps) {
        size_t len = 0;
        while (len < max_len && i + len < n && in[static_cast<size_t>(j) + len] == in[i + len]) ++len;
        if (len > best_len) {
          best_len = len;
          best_off = i - static_cast<size_t>(j);
          if (len == max_len) break;
        }
      }
    }
    // A back reference costs 1 + window + lookahead bits, a literal 9.
    if (best_len >= 2 && 1 + window_bits + lookahead_bits < static_cast<int>(9 * best_len)) {
      bw.put(0, 1);
      bw.put(static_cast<uint32_t>(best_off - 1), window_bits);
      bw.put(static_cast<uint32_t>(best_len - 1), lookahead_bits);
      for (size_t k = 0; k < best_len; ++k) insert(i + k);
      i += best_len;
    } else {
      bw.put(1, 1);
      bw.put(in[i], 8);
      insert(i);
      ++i;
    }
  }
  bw.flush();
  return out;
}

std::vector<uint8_t> compress_block(const std::vector<uint8_t>& in, int compression) {
  switch (compression) {
    case 1: {
      uLongf size = compressBound(static_cast<uLong>(in.size()));
      std::vector<uint8_t> out(size);
      if (compress2(out.data(), &size, in.data(), static_cast<uLong>(in.size()), Z_DEFAULT_COMPRESSION) != Z_OK)
        throw std::runtime_error("encode_bgcode: deflate failed");
      out.resize(size);
      return out;
    }
    case 2: return heatshrink_encode(in, 11, 4);
    case 3: return heatshrink_encode(in, 12, 4);
    default: return in;
  }
}

void put16(std::vector<uint8_t>& v, uint16_t x) {
  v.push_back(static_cast<uint8_t>(x));
  v.push_back(static_cast<uint8_t>(x >> 8));
}
void put32(std::vector<uint8_t>& v, uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

void write_block(std::vector<uint8_t>& file, uint16_t type, int compression, const std::vector<uint8_t>& params,
                 const std::vector<uint8_t>& data, bool crc) {
  const std::vector<uint8_t> stored = compress_block(data, compression);
  const size_t start = file.size();
  put16(file, type);
  put16(file, static_cast<uint16_t>(compression));
  put32(file, static_cast<uint32_t>(data.size()));
  if (compression != 0) put32(file, static_cast<uint32_t>(stored.size()));
  file.insert(file.end(), params.begin(), params.end());
  file.insert(file.end(), stored.begin(), stored.end());
  if (crc) put32(file, crc_update(0, file.data() + start, file.size() - start));
}

std::vector<uint8_t> bytes_of(std::string_view s) { return std::vector<uint8_t>(s.begin(), s.end()); }

}  // namespace

// ---- decoder --------------------------------------------------------------------------------------

struct BgcodeDecoder::State {
  enum class Stage { kFileHeader, kBlockHeader, kParams, kData, kChecksum };

  std::function<void(std::string_view)> out;
  Limits lim;
  Stats stats;
  bool finished = false, failed = false;
  uint64_t fed = 0;
  uint64_t gcode_total = 0;  // declared uncompressed G-code bytes so far

  Stage stage = Stage::kFileHeader;
  std::array<uint8_t, 12> small{};
  size_t have = 0;   // bytes gathered into `small`
  size_t need = kFileHeaderBytes;
  bool checksums = false;

  uint64_t block_no = 0;  // 0-based index of the block being read
  uint16_t type = 0, compression = 0, encoding = 0;
  uint32_t usize = 0, csize = 0;
  uint64_t remaining = 0;  // data bytes still to come
  uint32_t crc = 0;
  std::vector<uint8_t> data, plain;
  std::string text;

  State(std::function<void(std::string_view)> o, const Limits& l) : out(std::move(o)), lim(l) {}

  std::string where() const {
    return "bgcode block " + std::to_string(block_no) + " (" + block_name(type) + ")";
  }

  // Gathers bytes into `small` until `need` are there; returns false when the input ran out.
  bool gather(const uint8_t*& p, const uint8_t* e) {
    const size_t take = std::min(need - have, static_cast<size_t>(e - p));
    std::memcpy(small.data() + have, p, take);
    have += take;
    p += take;
    return have == need;
  }

  void feed(const uint8_t* p, const uint8_t* e) {
    fed += static_cast<uint64_t>(e - p);
    if (fed > lim.max_input_bytes)
      throw LoadError(ErrorCode::kLimitExceeded, "bgcode input is larger than the limit of " +
                                                     std::to_string(lim.max_input_bytes) + " bytes (max_input_bytes)");
    while (p < e) {
      switch (stage) {
        case Stage::kFileHeader:
          if (!gather(p, e)) return;
          file_header();
          break;
        case Stage::kBlockHeader:
          if (!gather(p, e)) return;
          if (need == 8 && le16(small.data() + 2) != 0) {
            need = 12;  // compressed blocks carry the compressed size too
            break;
          }
          block_header();
          break;
        case Stage::kParams:
          if (!gather(p, e)) return;
          params();
          break;
        case Stage::kData: {
          const auto take = static_cast<size_t>(std::min<uint64_t>(remaining, static_cast<uint64_t>(e - p)));
          if (checksums) crc = crc_update(crc, p, take);
          if (type == kGcodeBlock) data.insert(data.end(), p, p + take);
          p += take;
          remaining -= take;
          if (remaining == 0) data_done();
          break;
        }
        case Stage::kChecksum:
          if (!gather(p, e)) return;
          if (le32(small.data()) != crc)
            throw LoadError(ErrorCode::kMalformed, where() + ": CRC32 mismatch (corrupt file)");
          block_done();
          break;
      }
    }
    if (stage == Stage::kData && remaining == 0) data_done();
  }

  void expect(Stage s, size_t n) {
    stage = s;
    need = n;
    have = 0;
  }

  void file_header() {
    if (std::memcmp(small.data(), "GCDE", 4) != 0) throw LoadError(ErrorCode::kMalformed, "not a bgcode file (no GCDE magic)");
    const uint32_t version = le32(small.data() + 4);
    if (version != kVersion)
      throw LoadError(ErrorCode::kUnsupported, "bgcode version " + std::to_string(version) + " is not supported (only 1)");
    const uint16_t checksum = le16(small.data() + 8);
    if (checksum > 1) throw LoadError(ErrorCode::kMalformed, "bgcode: unknown checksum type " + std::to_string(checksum));
    checksums = checksum == 1;
    expect(Stage::kBlockHeader, 8);
  }

  void block_header() {
    type = le16(small.data());
    compression = le16(small.data() + 2);
    usize = le32(small.data() + 4);
    csize = compression != 0 ? le32(small.data() + 8) : usize;
    if (type > kThumbnail)
      throw LoadError(ErrorCode::kMalformed, "bgcode block " + std::to_string(block_no) + ": unknown block type " + std::to_string(type));
    if (compression > 3)
      throw LoadError(ErrorCode::kMalformed, where() + ": unknown compression " + std::to_string(compression));
    if (usize > BgcodeDecoder::kMaxBlockBytes || csize > BgcodeDecoder::kMaxBlockBytes)
      throw LoadError(ErrorCode::kLimitExceeded, where() + " is larger than " + std::to_string(BgcodeDecoder::kMaxBlockBytes) +
                                                     " bytes (bgcode block limit)");
    // Neither codec can expand past these ratios (deflate about 1032:1, heatshrink 16 bytes per
    // 16-17 bits); a larger declared size is a lie, refused before anything is allocated.
    if ((compression == 1 && usize > uint64_t{csize} * 1032 + 1024) ||
        (compression >= 2 && usize > uint64_t{csize} * 8 + 16))
      throw LoadError(ErrorCode::kMalformed, where() + ": declared uncompressed size is impossible for its data");
    if (type == kGcodeBlock) {
      gcode_total += usize;
      if (gcode_total > lim.max_decompressed_bytes)
        throw LoadError(ErrorCode::kLimitExceeded, "bgcode G-code decompresses past the limit of " +
                                                       std::to_string(lim.max_decompressed_bytes) +
                                                       " bytes (max_decompressed_bytes)");
    }
    crc = checksums ? crc_update(0, small.data(), need) : 0;
    expect(Stage::kParams, type == kThumbnail ? 6 : 2);
  }

  void params() {
    if (checksums) crc = crc_update(crc, small.data(), need);
    encoding = le16(small.data());
    if (type == kGcodeBlock && encoding > 2)
      throw LoadError(ErrorCode::kMalformed, where() + ": unknown G-code encoding " + std::to_string(encoding));
    remaining = csize;
    if (type == kGcodeBlock) {
      data.clear();
      data.reserve(std::min<size_t>(csize, size_t{1} << 20));
    }
    stage = Stage::kData;
    have = 0;
    need = 0;
  }

  void data_done() {
    if (checksums)
      expect(Stage::kChecksum, 4);
    else
      block_done();
  }

  void block_done() {
    if (type == kGcodeBlock) emit_gcode();
    ++stats.blocks;
    ++block_no;
    expect(Stage::kBlockHeader, 8);
  }

  void emit_gcode() {
    const std::vector<uint8_t>* raw = &data;
    switch (compression) {
      case 0: break;
      case 1:
        inflate_zlib(data, usize, plain, block_no);
        raw = &plain;
        break;
      case 2:
      case 3:
        heatshrink_decode(data, compression == 2 ? 11 : 12, 4, usize, plain, block_no);
        raw = &plain;
        break;
      default: break;
    }
    std::string_view view;
    if (encoding == 0) {
      view = std::string_view(reinterpret_cast<const char*>(raw->data()), raw->size());
    } else {
      meatpack_decode(*raw, text);
      view = text;
    }
    ++stats.gcode_blocks;
    stats.gcode_bytes += view.size();
    for (size_t off = 0; off < view.size(); off += kEmitPiece) out(view.substr(off, kEmitPiece));
  }

  void finish() {
    if (stage == Stage::kFileHeader)
      throw LoadError(ErrorCode::kTruncated, "bgcode file is truncated inside its header");
    if (stage != Stage::kBlockHeader || have != 0)
      throw LoadError(ErrorCode::kTruncated, "bgcode file is truncated inside " + where());
  }
};

BgcodeDecoder::BgcodeDecoder(std::function<void(std::string_view)> out, const Limits& lim)
    : st_(std::make_unique<State>(std::move(out), lim)) {}

BgcodeDecoder::~BgcodeDecoder() = default;

void BgcodeDecoder::feed(std::span<const uint8_t> bytes) {
  if (st_->finished) throw std::logic_error("BgcodeDecoder::feed after finish");
  if (st_->failed) throw std::logic_error("BgcodeDecoder::feed after an error");
  try {
    st_->feed(bytes.data(), bytes.data() + bytes.size());
  } catch (...) {
    st_->failed = true;
    throw;
  }
}

void BgcodeDecoder::finish() {
  if (st_->finished) throw std::logic_error("BgcodeDecoder::finish called twice");
  if (st_->failed) throw std::logic_error("BgcodeDecoder::finish after an error");
  st_->finished = true;
  st_->finish();
}

const BgcodeDecoder::Stats& BgcodeDecoder::stats() const { return st_->stats; }

// ---- extent ---------------------------------------------------------------------------------------

BgcodeExtent bgcode_extent(std::span<const uint8_t> bytes, uint64_t& resume, bool& gcode_seen) {
  BgcodeExtent r;
  const uint8_t* d = bytes.data();
  const uint64_t n = bytes.size();
  if (n < kFileHeaderBytes) return r;
  if (std::memcmp(d, "GCDE", 4) != 0 || le32(d + 4) != kVersion || le16(d + 8) > 1) {
    r.state = BgcodeExtent::kNotBgcode;
    return r;
  }
  const bool checksums = le16(d + 8) == 1;
  uint64_t pos = std::max<uint64_t>(resume, kFileHeaderBytes);
  auto stop = [&](uint64_t at) {
    r.state = at == kFileHeaderBytes ? BgcodeExtent::kNotBgcode : BgcodeExtent::kEnd;
    r.end = at;
  };
  for (;;) {
    r.complete = pos;
    r.gcode_seen = gcode_seen;
    if (n - pos < 8) return r;  // kNeedMore
    const uint16_t type = le16(d + pos), compression = le16(d + pos + 2);
    const uint32_t usize = le32(d + pos + 4);
    if (type > kThumbnail || compression > 3 || (type == kFileMetadata && pos != kFileHeaderBytes) ||
        (gcode_seen && type != kGcodeBlock) || usize > BgcodeDecoder::kMaxBlockBytes) {
      stop(pos);
      return r;
    }
    const uint64_t header = compression != 0 ? 12 : 8;
    if (n - pos < header) return r;
    const uint32_t csize = compression != 0 ? le32(d + pos + 8) : usize;
    if (csize > BgcodeDecoder::kMaxBlockBytes || (compression == 1 && usize > uint64_t{csize} * 1032 + 1024) ||
        (compression >= 2 && usize > uint64_t{csize} * 8 + 16)) {
      stop(pos);
      return r;
    }
    const uint64_t params = type == kThumbnail ? 6 : 2;
    const uint64_t total = header + params + csize + (checksums ? 4 : 0);
    if (n - pos < header + params) return r;
    if (type == kGcodeBlock && le16(d + pos + header) > 2) {  // G-code encoding 0..2
      stop(pos);
      return r;
    }
    if (n - pos < total) return r;
    if (checksums && crc_update(0, d + pos, total - 4) != le32(d + pos + total - 4)) {
      stop(pos);
      return r;
    }
    gcode_seen = gcode_seen || type == kGcodeBlock;
    pos += total;
    resume = pos;
  }
}

// ---- encoder --------------------------------------------------------------------------------------

std::vector<uint8_t> encode_bgcode(std::string_view gcode, int compression, int encoding, bool crc) {
  if (compression < 0 || compression > 3) throw std::invalid_argument("encode_bgcode: compression must be 0..3");
  if (encoding < 0 || encoding > 2) throw std::invalid_argument("encode_bgcode: encoding must be 0..2");
  std::vector<uint8_t> file;
  file.reserve(gcode.size() + 1024);
  for (char c : std::string_view("GCDE")) file.push_back(static_cast<uint8_t>(c));
  put32(file, kVersion);
  put16(file, crc ? 1 : 0);

  const std::vector<uint8_t> ini{0, 0};  // encoding 0: INI
  write_block(file, kFileMetadata, 0, ini, bytes_of("Producer=screen3d encode_bgcode\n"), crc);
  write_block(file, kPrinterMetadata, 0, ini,
              bytes_of("printer_model=MK4\nfilament_type=PLA\nnozzle_diameter=0.4\nfilament_diameter=1.75\n"), crc);
  // A 16x16 PNG thumbnail's bytes are never decoded; any data exercises the skip path.
  std::vector<uint8_t> thumb_params;
  put16(thumb_params, 0);
  put16(thumb_params, 16);
  put16(thumb_params, 16);
  std::vector<uint8_t> thumb{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  for (int i = 0; i < 56; ++i) thumb.push_back(static_cast<uint8_t>(i * 37));
  write_block(file, kThumbnail, 0, thumb_params, thumb, crc);
  write_block(file, kPrintMetadata, 0, ini, bytes_of("estimated printing time (normal mode)=1m 0s\n"), crc);
  write_block(file, kSlicerMetadata, compression, ini,
              bytes_of("layer_height=0.2\nfilament_diameter=1.75\nextrusion_multiplier=1\nfill_density=15%\n"), crc);

  std::vector<uint8_t> gparams;
  put16(gparams, static_cast<uint16_t>(encoding));
  size_t pos = 0;
  std::vector<uint8_t> payload;
  while (pos < gcode.size()) {
    // Up to kEncodeBlockBytes, cut after a '\n' (a longer line goes whole).
    size_t end = std::min(gcode.size(), pos + kEncodeBlockBytes);
    if (end < gcode.size()) {
      const size_t nl = gcode.rfind('\n', end - 1);
      if (nl != std::string_view::npos && nl >= pos) {
        end = nl + 1;
      } else {
        const size_t next = gcode.find('\n', end);
        end = next == std::string_view::npos ? gcode.size() : next + 1;
      }
    }
    const std::string_view piece = gcode.substr(pos, end - pos);
    pos = end;
    payload.clear();
    if (encoding == 0)
      payload.assign(piece.begin(), piece.end());
    else
      meatpack_encode(piece, encoding == 2, payload);
    write_block(file, kGcodeBlock, compression, gparams, payload, crc);
  }
  return file;
}

}  // namespace s3d::gcode
