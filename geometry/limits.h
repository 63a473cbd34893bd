#pragma once
// Resource limits for reading untrusted input. Every limit has a default; exceeding one raises
// LoadError with ErrorCode::kLimitExceeded naming the limit, never a silent truncation.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "geometry/load_error.h"

namespace s3d {

// One scan's deadline (Limits::max_seconds) and the caller's cancel flag, checked between steps: per
// chunk hashed, per block of elements a reader reads, per chunk of G-code read, between the steps
// of preparing the query, before matching, per candidate verified. Cooperative: a step already running
// finishes first, so a scan stops within about one step (milliseconds) of the limit or the request.
struct StopToken {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  double seconds = 0;                         // the limit, for the message (0: none)
  const std::atomic<bool>* cancel = nullptr;  // set by another thread to stop the scan

  // Throws LoadError (kCancelled, or kLimitExceeded naming max_seconds) when the scan must stop.
  void check() const {
    if (cancel && cancel->load(std::memory_order_relaxed)) throw LoadError(ErrorCode::kCancelled, "not screened: cancelled");
    if (seconds > 0 && std::chrono::steady_clock::now() >= deadline) {
      char s[32];
      std::snprintf(s, sizeof s, "%g", seconds);
      throw LoadError(ErrorCode::kLimitExceeded,
                      std::string("not screened: the time limit of ") + s + " s per file was reached (max_seconds)");
    }
  }
};

struct Limits {
  uint64_t max_input_bytes = 4ull << 30;          // 4 GiB on disk
  uint64_t max_triangles = 60'000'000;            // about 3 GiB of binary STL
  uint64_t max_decompressed_bytes = 2ull << 30;   // sum over all archive members read
  uint32_t max_archive_entries = 10'000;          // zip / 3MF members
  uint32_t max_nesting = 3;                       // archives inside archives
  double max_seconds = 0;                         // time to screen one file or member (0: no limit)
  const StopToken* stop = nullptr;                // set by the engine for the scan in progress
};

// A token for one scan (or one archive member) starting now: its deadline from limits.max_seconds,
// and the caller's cancel flag.
inline StopToken stop_token(const Limits& limits, const std::atomic<bool>* cancel = nullptr) {
  StopToken t;
  t.cancel = cancel;
  if (limits.max_seconds > 0) {
    t.seconds = limits.max_seconds;
    t.deadline = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                        std::chrono::duration<double>(limits.max_seconds));
  }
  return t;
}

// Throws as StopToken::check when the limits carry a token whose scan must stop.
inline void check_stop(const Limits& limits) {
  if (limits.stop) limits.stop->check();
}

// In a reader's loop over elements (triangles, vertices, lines): check_stop at the
// first and then every 65,536th, so a large file is interrupted part-way. Without a token this is
// one pointer test.
inline void check_stop_every(const Limits& limits, uint64_t i) {
  if (limits.stop && (i & 0xFFFF) == 0) limits.stop->check();
}

}  // namespace s3d
