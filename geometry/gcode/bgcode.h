#pragma once
// Prusa binary G-code (.bgcode, magic "GCDE"), written from the public specification
// (prusa3d/libbgcode doc/specifications.md; the reference library is AGPL and not used).
//
// A file is a 10-byte header (magic, version 1, checksum type 0 none / 1 CRC32) and blocks: header
// (type u16, compression u16, uncompressed size u32, compressed size u32 when compressed),
// parameters (2 bytes: encoding; thumbnails 6: format, width, height), data, then a CRC32 of header,
// parameters and data when the file has checksums. Compression: 0 none, 1 deflate (zlib stream),
// 2 heatshrink window 11 / lookahead 4, 3 heatshrink 12/4. G-code blocks (type 1) are encoded
// 0 plain, 1 MeatPack (comments dropped), 2 MeatPack keeping comment lines. MeatPack output is passed
// on as decoded, without re-inserting the spaces MeatPack drops from G lines ("G1X10Y20E.5"):
// gcode::Reader reads that form.
//
// BgcodeDecoder is incremental: bytes in any split, G-code text out through the callback, one block
// at a time and only after the block's CRC matched. Memory: one block (at most kMaxBlockBytes
// compressed plus as much decompressed). Bad input throws s3d::LoadError: kMalformed (bad magic,
// unknown block type / compression / encoding, CRC mismatch, corrupt compressed data), kUnsupported
// (version other than 1), kLimitExceeded (a block over kMaxBlockBytes, G-code over
// Limits::max_decompressed_bytes, input over Limits::max_input_bytes), kTruncated at finish() when
// the input stops inside the header or a block. Other blocks (metadata, thumbnails) are checked and
// skipped without being decompressed.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "geometry/limits.h"

namespace s3d::gcode {

class BgcodeDecoder {
 public:
  // PrusaSlicer writes G-code blocks of at most 64 KiB; anything this large is hostile.
  static constexpr uint32_t kMaxBlockBytes = 64u << 20;

  explicit BgcodeDecoder(std::function<void(std::string_view)> out, const Limits& lim = {});
  ~BgcodeDecoder();
  BgcodeDecoder(const BgcodeDecoder&) = delete;
  BgcodeDecoder& operator=(const BgcodeDecoder&) = delete;

  // Consumes the next bytes. Throws LoadError; after a throw or after finish() it throws
  // std::logic_error.
  void feed(std::span<const uint8_t> bytes);
  // Throws LoadError(kTruncated) when the input ended inside the file header or a block.
  void finish();

  struct Stats {
    uint64_t blocks = 0;        // complete blocks of any type
    uint64_t gcode_blocks = 0;
    uint64_t gcode_bytes = 0;   // G-code text bytes handed to the callback
  };
  const Stats& stats() const;

 private:
  struct State;
  std::unique_ptr<State> st_;
};

// Encodes G-code text as a valid .bgcode file (version 1): file, printer, print and slicer metadata
// blocks, one small thumbnail block, then the G-code in blocks of at most 64 KiB split at line ends.
// compression: 0 none, 1 deflate, 2 heatshrink 11/4, 3 heatshrink 12/4 (G-code and slicer metadata
// blocks); encoding: 0 none, 1 MeatPack, 2 MeatPack keeping comment lines; crc: CRC32 per block.
// For tests and the evaluation (PrusaSlicer 2.5 cannot write .bgcode). Deterministic. Throws
// std::invalid_argument for an unknown compression or encoding.
// Where the .bgcode file that starts at bytes[0] ends, read from its file header and block headers
// (and each block's CRC32 when the file has checksums) without decompressing anything: for cutting
// a file out of unallocated disk space, where anything may follow it. The file ends before the first
// block that cannot belong to it: an invalid header, a CRC mismatch, file metadata after the first
// block, or anything but a G-code block once G-code blocks began (they come last).
struct BgcodeExtent {
  enum State { kNotBgcode, kNeedMore, kEnd } state = kNeedMore;
  uint64_t end = 0;           // kEnd: the file's size
  uint64_t complete = 0;      // the bytes up to here are whole blocks (the file so far)
  bool gcode_seen = false;    // a G-code block is among them
};
// `resume` is the caller's: start at 0 and pass the same value again with more bytes appended, so
// each block is checked once.
BgcodeExtent bgcode_extent(std::span<const uint8_t> bytes, uint64_t& resume, bool& gcode_seen);

std::vector<uint8_t> encode_bgcode(std::string_view gcode, int compression, int encoding, bool crc = true);

}  // namespace s3d::gcode
