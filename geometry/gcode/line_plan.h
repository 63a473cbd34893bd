#pragma once
// The G-code reader's fast path for plain moves (x86-64 with AVX2, BMI2 and FMA, chosen at run time):
// a G0/G1 line shorter than 32 bytes -- "G1 X91.088 Y95.773 E.02467", most lines of any sliced file
// -- parsed with a handful of vector instructions instead of a byte loop.
//
// How: the line's bytes with every digit replaced by '0' are its *shape* ("G1 X00.000 Y00.000
// E.00000"). Slicers print their numbers in a fixed format, so a few hundred shapes cover almost
// every line (532 in a PrusaSlicer plate of gears). The first time a shape is seen it is parsed the
// plain way into a *plan* -- where each number's digits sit, its letter, sign and decimal places --
// and kept; every later line of that shape is parsed by the plan: one shuffle gathers the digits of
// up to four numbers into four eight-byte slots, multiply-adds turn them into four integers, a
// permutation puts the X, Y, Z and E numbers in lanes 0..3, and a division by the powers of ten
// (signed) gives the doubles. That division is correctly rounded, of an exact integer below 10^8 by
// an exact power of ten, so every value is bit for bit what std::from_chars gives (Clinger's fast
// path, as in fast_decimal.h); it is done as a multiply by the reciprocal and two fused
// multiply-adds, which give the same bits (see divide_by_powers_of_ten). A shape the plan builder
// does not take (comments, more than four numbers or eight digits in one, a letter without a number,
// line numbers, checksums, tabs, anything but G0/G1) is kept as "not fast" and its lines go to the
// reader's general parser.
// Plans are found by a hash of the digit places and the length (a 4096-entry index), then checked
// byte for byte; at most 4096 plans are kept (under 1.5 MiB with their map), and a file with more shapes starts over, so
// memory and the time per line stay bounded whatever the input.
// Hand-written, not a library: no packaged parser does this. The reader with it against without
// it: bench/gcode_parse_bench (BM_Reader against BM_ReaderScalar).
// Depends on nothing but the compiler's x86 intrinsics; elsewhere it compiles to nothing.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string>
#include <unordered_map>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define S3D_GCODE_LINE_PLAN 1
#endif

namespace s3d::gcode::detail {

#if defined(S3D_GCODE_LINE_PLAN)

class LinePlans {
 public:
  static constexpr int kWindow = 32;  // bytes read at the line's start; the line must be shorter

  static bool supported() {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
           __builtin_cpu_supports("fma");
  }

  // Parses the line p[0, len) (len < kWindow, p + kWindow readable) when it is a G0/G1 line of a
  // shape a plan takes: returns true with `letters` (bit letter - 'A': the words the line has) and
  // the values of its X, Y, Z and E words in the lanes of `xyze` (a lane whose letter the line
  // lacks holds any value; a repeated letter: the last); false when the line is not taken.
  [[gnu::always_inline]] inline __attribute__((target("avx2,bmi,bmi2,fma"))) bool parse(const char* p, int len, uint32_t& letters,
                                                                             __m256d& xyze) {
    ++parsed_;
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const uint32_t in_line = _bzhi_u32(~0u, static_cast<unsigned>(len));
    const __m256i d = _mm256_sub_epi8(v, _mm256_set1_epi8('0'));
    const __m256i is_digit = _mm256_cmpeq_epi8(_mm256_min_epu8(d, _mm256_set1_epi8(9)), d);
    // Byte 1, the command's digit (G1, G2, ...), is compared as it is, not as a digit place.
    const uint32_t digits = static_cast<uint32_t>(_mm256_movemask_epi8(is_digit)) & in_line & ~2u;
    // The plan is looked up by where the digits are and the line's length, and then checked against
    // every byte that is not a digit.
    const uint64_t key = digits | static_cast<uint64_t>(len) << 32;
    uint16_t& slot = index_[(key * 0x9E3779B97F4A7C15ull) >> (64 - kIndexBits)];
    const Plan* plan = &plans_[slot];
    const __m256i known = _mm256_load_si256(reinterpret_cast<const __m256i*>(plan->shape));
    const uint32_t same = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(known, v))) | digits | ~in_line;
    if (same != 0xffffffffu || plan->key != key) [[unlikely]] {
      slot = find(p, len, key);
      plan = &plans_[slot];
    }
    if (!plan->fast) return false;
    // Digits to four right-aligned eight-byte slots: a 128-bit-lane shuffle of each half of the
    // line, both halves broadcast so that any byte can reach any slot.
    const __m256i lo = _mm256_permute2x128_si256(d, d, 0x00);
    const __m256i hi = _mm256_permute2x128_si256(d, d, 0x11);
    const __m256i slots = _mm256_or_si256(
        _mm256_shuffle_epi8(lo, _mm256_load_si256(reinterpret_cast<const __m256i*>(plan->from_lo))),
        _mm256_shuffle_epi8(hi, _mm256_load_si256(reinterpret_cast<const __m256i*>(plan->from_hi))));
    // Eight digits -> one integer per slot: pairs, quads, then octets.
    const __m256i pairs = _mm256_maddubs_epi16(slots, _mm256_set1_epi16(0x010a));  // 10 * d0 + d1
    const __m256i quads = _mm256_madd_epi16(pairs, _mm256_set1_epi32(0x00010064));  // 100 * p0 + p1
    const __m256i quads16 = _mm256_packus_epi32(quads, quads);
    const __m256i octs = _mm256_madd_epi16(quads16, _mm256_set1_epi32(0x00012710));  // 10000 * q0 + q1
    // Per 128-bit lane: [n0 n1 n0 n1] and [n2 n3 n2 n3]; the numbers of X, Y, Z and E to lanes 0..3.
    const __m256i ints = _mm256_permutevar8x32_epi32(octs, _mm256_load_si256(reinterpret_cast<const __m256i*>(plan->xyze)));
    xyze = divide_by_powers_of_ten(_mm256_cvtepi32_pd(_mm256_castsi256_si128(ints)), _mm256_load_pd(plan->pow),
                                   _mm256_load_pd(plan->rcp));
    letters = plan->letters;
    return true;
  }

  // Too many lines of new shapes (more than one in eight, past the first 2048 misses): the plans
  // cost more than they save -- a file written to defeat them parsed 10x slower with them (35
  // against 340 MB/s) than with the general parser -- and the reader should stop using them.
  bool gave_up() const { return misses_ > 2048 && misses_ * 8 > parsed_; }

  // n / p lane by lane, correctly rounded as IEEE division gives it, for integers 0 <= n < 10^8 and
  // p = +-10^k, k = 0..8, with rcp = 1 / p rounded: the quotient q = n * rcp is within an ulp, the
  // residual n - q * p is exact with a fused multiply-add, and q + residual * rcp is then the
  // correctly rounded quotient (Markstein's theorem; also checked against division for every such n
  // and p by the test GcodeReader.PowerOfTenDivisionEqualsIeeeDivision). Three pipelined operations
  // in place of one division of much lower throughput: 1.11-1.14x the Reader's throughput
  // (bench/gcode_parse_bench, BM_Reader, old and new binaries alternated).
  static __attribute__((target("avx2,fma"))) inline __m256d divide_by_powers_of_ten(__m256d n, __m256d p, __m256d rcp) {
    const __m256d q = _mm256_mul_pd(n, rcp);
    return _mm256_fmadd_pd(_mm256_fnmadd_pd(q, p, n), rcp, q);
  }

 private:
  struct alignas(32) Plan {
    uint8_t shape[32];    // the line's bytes (its digits are not compared)
    uint8_t from_lo[32];  // shuffle controls: slot byte <- line byte (0x80: zero)
    uint8_t from_hi[32];
    int32_t xyze[8];      // permutation control: the numbers of X, Y, Z, E to lanes 0..3
    double pow[4];        // for X, Y, Z, E: 10^decimals of the number, negative for a negative one (else 1)
    double rcp[4];        // 1 / pow, rounded (dividing by -10^k is exactly the negated quotient)
    uint32_t letters = 0;
    uint64_t key = ~uint64_t{0};  // bit i < 32: byte i is a digit; above: the line's length without '\n'
                                  // (all ones: the empty plan, which matches no line)
    bool fast = false;
  };
  static_assert(sizeof(Plan) <= 256);

  // The plan of the line p[0, len) when the index had another: from the map of every shape seen,
  // or built. The store holds at most kMaxPlans; a file with more shapes starts over (time per line
  // stays bounded, so does memory).
  [[gnu::noinline]] uint16_t find(const char* p, int len, uint64_t key) {
    ++misses_;
    std::string shape(p, static_cast<size_t>(len));
    for (size_t i = 2; i < shape.size(); ++i)  // byte 1, the command's digit, stays (see parse)
      if (shape[i] >= '0' && shape[i] <= '9') shape[i] = '0';
    if (const auto it = by_shape_.find(shape); it != by_shape_.end()) return it->second;
    if (plans_.size() == kMaxPlans) {
      plans_.resize(1);
      by_shape_.clear();
      std::fill(std::begin(index_), std::end(index_), uint16_t{0});
    }
    Plan& plan = plans_.emplace_back();
    build(p, len, plan);
    plan.key = key;
    std::memcpy(plan.shape, p, static_cast<size_t>(len));
    const auto at = static_cast<uint16_t>(plans_.size() - 1);
    by_shape_.emplace(std::move(shape), at);
    return at;
  }

  // The plan for the line p[0, len): fast when it is "G0"/"G1" (either case), a space, then words
  // of a letter and a number "[+-]digits[.digits]" (1..8 digits, at most one '.') -- separated by
  // spaces or run together -- at most four of them, and nothing else but spaces and a final '\r'.
  static void build(const char* p, int len, Plan& plan) {
    plan = Plan{};
    std::memset(plan.from_lo, 0x80, sizeof plan.from_lo);
    std::memset(plan.from_hi, 0x80, sizeof plan.from_hi);
    for (double& w : plan.pow) w = 1;
    for (double& w : plan.rcp) w = 1;
    int end = len;
    if (end > 0 && p[end - 1] == '\r') --end;
    if (end < 3 || (p[0] != 'G' && p[0] != 'g') || (p[1] != '0' && p[1] != '1') || p[2] != ' ') return;
    int i = 3;
    int n = 0;
    while (true) {
      while (i < end && p[i] == ' ') ++i;
      if (i == end) break;
      const auto idx = static_cast<unsigned>((p[i] | 0x20) - 'a');
      if (idx >= 26 || n == 4) return;
      ++i;
      bool neg = false;
      if (i < end && (p[i] == '-' || p[i] == '+')) neg = p[i++] == '-';
      int digit_at[8];
      int digits = 0, decimals = 0;
      bool dot = false;
      for (; i < end; ++i) {
        if (p[i] >= '0' && p[i] <= '9') {
          if (digits == 8) return;
          digit_at[digits++] = i;
          decimals += dot;
        } else if (p[i] == '.' && !dot) {
          dot = true;
        } else {
          break;
        }
      }
      if (digits == 0) return;
      if (i < end && p[i] != ' ' && static_cast<unsigned>((p[i] | 0x20) - 'a') >= 26) return;
      for (int k = 0; k < digits; ++k) {
        const int slot_byte = 8 * n + 8 - digits + k;
        const int at = digit_at[k];
        if (at < 16)
          plan.from_lo[slot_byte] = static_cast<uint8_t>(at);
        else
          plan.from_hi[slot_byte] = static_cast<uint8_t>(at - 16);
      }
      constexpr double kPow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
      constexpr char kLanes[] = "XYZE";
      constexpr int kOctet[4] = {0, 1, 4, 5};  // where number n's integer lands (see parse)
      for (int lane = 0; lane < 4; ++lane) {
        if (idx != static_cast<unsigned>(kLanes[lane] - 'A')) continue;
        plan.xyze[lane] = kOctet[n];
        plan.pow[lane] = neg ? -kPow10[decimals] : kPow10[decimals];
        plan.rcp[lane] = 1 / plan.pow[lane];
      }
      plan.letters |= 1u << idx;
      ++n;
    }
    plan.fast = true;
  }

  static constexpr int kIndexBits = 12;
  static constexpr size_t kMaxPlans = 4096;
  // plans_[0] is empty (key all ones) and matches no line: where every index entry starts.
  std::vector<Plan> plans_ = std::vector<Plan>(1);
  uint16_t index_[size_t{1} << kIndexBits] = {};
  std::unordered_map<std::string, uint16_t> by_shape_;
  uint64_t misses_ = 0;
  uint64_t parsed_ = 0;
};

#endif

}  // namespace s3d::gcode::detail
