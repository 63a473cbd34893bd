#pragma once
// Fixed-notation decimal parsing for the G-code reader's hot path: "[+-]digits[.digits]" with at most
// 15 significant digits, digits read eight at a time (SWAR). The result is exactly std::from_chars'
// (Clinger's fast path: an exact integer below 2^53 divided by an exact power of ten). Anything else
// returns nullptr and the caller falls back to std::from_chars.
// Hand-written rather than std::from_chars (gcc 12's is fast_float's algorithm): G-code numbers are
// short ("X103.512"), and a line split that converts every number measured 1.50x faster with this
// than with from_chars (bench/gcode_parse_bench: BM_SplitAndSwarNumbers 888 MB/s against
// BM_SplitAndFromChars 591 MB/s, one run, 5 repetitions, medians). On x86-64 the number is read 16
// bytes at once with SSE2 (sse2_decimal below), which made the whole Reader 1.05-1.10x faster than
// the eight-byte path alone (BM_Reader/1048576 on a 19 MB PrusaSlicer file, old and new binaries
// alternated twice, 5 repetitions each: 732 / 738 MB/s against 802 / 776 MB/s).
// Header-only so the benchmark measures the very code the reader runs. Depends on nothing.
#include <bit>
#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace s3d::gcode::detail {

// Exact powers of ten (10^22 is the largest a double holds exactly).
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
constexpr uint64_t kPow10Int[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// Eight digit values (0..9, the most significant in the lowest byte) to their number, SWAR.
inline uint64_t eight_digits(uint64_t val) {
  constexpr uint64_t kMask = 0x000000FF000000FFull;
  constexpr uint64_t kMul1 = 0x000F424000000064ull;  // 100 + (1000000 << 32)
  constexpr uint64_t kMul2 = 0x0000271000000001ull;  // 1 + (10000 << 32)
  val = (val * 10) + (val >> 8);
  val = (((val & kMask) * kMul1) + (((val >> 16) & kMask) * kMul2)) >> 32;
  return static_cast<uint32_t>(val);
}

// The run of digits (at most 8) starting at p, read 8 bytes at once: p + 8 must be readable. One
// load and no data-dependent loop, so number lengths do not cost branch mispredictions.
inline int swar_digits(const char* p, uint64_t& value) {
  uint64_t x;
  std::memcpy(&x, p, 8);
  x ^= 0x3030303030303030ull;  // digit bytes become 0..9
  // A lane whose byte is >= 10 gets its high bit set: by the addition, or (byte >= 0x80) by x.
  // Lanes below the first such lane are digits and pass no carry upwards, so the lowest flagged
  // lane is exactly the first non-digit.
  const uint64_t flags = ((x + 0x7676767676767676ull) | x) & 0x8080808080808080ull;
  const int n = flags ? std::countr_zero(flags) >> 3 : 8;
  value = n ? eight_digits(x << (8 * (8 - n))) : 0;  // leading lanes shifted in are zeros
  return n;
}

// Parses "[+-]digits[.digits]" (at least one digit, at most 15 significant digits); anything else
// (more digits, "nan", "inf", a lone sign) returns nullptr and the caller falls back to
// std::from_chars. The result equals from_chars': the digits form an exact integer below 2^53 and
// 10^k is exact, so one IEEE division gives the correctly rounded value (Clinger's fast path).
// `re` is how far the buffer may be read (8-byte loads); the digits stop before `e`, where the
// line's terminator (or padding) sits.
#if defined(__SSE2__)
// The same number read 16 bytes at once with SSE2 (every x86-64 has it): one load, the digit and
// '.' lanes as bit masks, the digits made contiguous by one byte shift and a blend, then turned into
// an integer by multiply-adds, eight lanes at a time. No branch depends on the number's length, which
// is what the SWAR path above pays for. p is past the sign; at most 15 digits; p + 16 readable.
// Returns the bytes taken (0: not a number this path takes) and sets `num` / `pow` so that the value
// is num / 10^pow exactly (num < 10^15 < 2^53 and pow <= 15: one correctly rounded division).
inline int sse2_decimal(const char* p, uint64_t& num, int& pow) {
  const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
  const auto dig = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d)));
  const auto dots = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8('.'))));
  const unsigned first_dot = dots & (0u - dots);
  const int end = std::countr_zero(~(dig | first_dot));  // bytes of the number, dot included
  const int dot = std::countr_zero(first_dot | 0x10000u);
  const int has_dot = dot < end;
  const int digits = end - has_dot;
  if (end >= 16 || digits == 0) return 0;
  // Lanes 1..digits get the digits in order: those before the dot shift up one lane.
  const __m128i iota = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m128i after_dot = _mm_cmpgt_epi8(iota, _mm_set1_epi8(static_cast<char>(has_dot ? dot : 16)));
  const __m128i keep = _mm_cmpgt_epi8(_mm_set1_epi8(static_cast<char>(digits + 1)), iota);
  const __m128i shifted = _mm_slli_si128(d, 1);
  const __m128i v = _mm_and_si128(keep, _mm_or_si128(_mm_and_si128(after_dot, d), _mm_andnot_si128(after_dot, shifted)));
  // 16 digit lanes -> one 16-digit integer (lane 0, always 0, most significant).
  const __m128i zero = _mm_setzero_si128();
  const __m128i ten_one = _mm_setr_epi16(10, 1, 10, 1, 10, 1, 10, 1);
  const __m128i pairs = _mm_packs_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(v, zero), ten_one),
                                        _mm_madd_epi16(_mm_unpackhi_epi8(v, zero), ten_one));
  const __m128i quads = _mm_madd_epi16(pairs, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
  const __m128i octs = _mm_madd_epi16(_mm_packs_epi32(quads, quads), _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
  const auto both = static_cast<uint64_t>(_mm_cvtsi128_si64(octs));
  num = (both & 0xffffffffu) * 100000000u + (both >> 32);  // = digits' value * 10^(15 - digits)
  pow = 15 - digits + (has_dot ? end - dot - 1 : 0);
  return end;
}
#endif

inline const char* fast_decimal(const char* p, const char* e, const char* re, double& out) {
  bool neg = false;
  if (p < e && (*p == '-' || *p == '+')) {
    neg = *p == '-';
    ++p;
  }
  uint64_t m = 0;
  int frac = 0;
  bool done = false;
#if defined(__SSE2__)
  if (re - p >= 16) {
    int pow = 0;
    if (const int n = sse2_decimal(p, m, pow)) {
      double v = static_cast<double>(m);
      if (pow > 0) v /= kPow10[pow];
      out = neg ? -v : v;
      return p + n;
    }
    return nullptr;
  }
#endif
  if constexpr (std::endian::native == std::endian::little) {
    if (re - p >= 16) {  // room for both loads: at most 7 digits, '.', then 8 bytes
      uint64_t ip = 0;
      const int n = swar_digits(p, ip);
      if (n == 8) return nullptr;
      const char* q = p + n;
      if (q < e && *q == '.') {
        uint64_t fp = 0;
        const int k = swar_digits(q + 1, fp);
        if (k == 8 || n + k == 0) return nullptr;
        m = ip * kPow10Int[k] + fp;
        frac = k;
        p = q + 1 + k;
      } else {
        if (n == 0) return nullptr;
        m = ip;
        p = q;
      }
      done = true;
    }
  }
  if (!done) {
    int digits = 0;
    while (p < e && (*p >= '0' && *p <= '9')) {
      m = m * 10 + static_cast<uint64_t>(*p - '0');
      ++digits;
      ++p;
    }
    if (p < e && *p == '.') {
      ++p;
      while (p < e && (*p >= '0' && *p <= '9')) {
        m = m * 10 + static_cast<uint64_t>(*p - '0');
        ++digits;
        ++frac;
        ++p;
      }
    }
    if (digits == 0 || digits > 15) return nullptr;
  }
  double v = static_cast<double>(m);
  if (frac > 0) v /= kPow10[frac];
  out = neg ? -v : v;
  return p;
}

}  // namespace s3d::gcode::detail
