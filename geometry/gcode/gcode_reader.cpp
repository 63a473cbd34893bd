#include "geometry/gcode/gcode_reader.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cmath>
#include <cstring>
#include <set>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "geometry/gcode/fast_decimal.h"
#include "geometry/gcode/line_plan.h"
#include "geometry/load_error.h"

namespace s3d::gcode {

namespace {

constexpr double kMaxCoord = 1e5;      // mm; anything farther from the origin is not a print
constexpr double kMaxE = 1e9;          // mm of filament; absolute E accumulates over a whole print
constexpr double kEEps = 1e-6;         // E growth below this is noise, not extrusion
constexpr double kXYEps = 1e-6;        // XY length below this is a retract/prime, not a path
constexpr double kZEps = 1e-4;         // Z values closer than this are the same layer
constexpr double kZQuantum = 1e4;      // layer Z keys in units of 0.1 um
constexpr double kMinWidth = 0.1;      // clamp of E-derived widths, mm
constexpr double kMaxWidth = 3.0;
constexpr double kMaxCommentWidth = 50.0;  // a ;WIDTH: beyond this is ignored as nonsense
constexpr double kPi = 3.14159265358979323846;
constexpr int kMaxArcTurns = 1000;         // G2/G3 P<turns>
constexpr size_t kMaxPolygonPoints = 100'000;
constexpr size_t kMaxSavedStates = 10'000;  // SAVE_GCODE_STATE names (a slicer's macros use a handful)
constexpr size_t kMaxSavedStateNameBytes = 1 << 20;  // and their bytes together (a name can be a whole line)
constexpr char kAxes[3] = {'X', 'Y', 'Z'};  // the parameter letter of each axis

inline bool is_digit(char c) { return c >= '0' && c <= '9'; }
inline char to_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }
inline bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
inline bool is_space(char c) { return c == ' ' || c == '\t'; }
// Control bytes other than tab (and DEL) never occur in G-code text; they mean binary data.
inline bool is_control(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && u != '\t') || u == 0x7f;
}
using detail::fast_decimal;

inline bool starts_number(char c) { return is_digit(c) || c == '.' || c == '-' || c == '+'; }

const char* skip_spaces(const char* p, const char* e) {
  while (p < e && is_space(*p)) ++p;
  return p;
}

bool iequals_prefix(const char* p, const char* e, std::string_view word) {
  if (static_cast<size_t>(e - p) < word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (to_upper(p[i]) != to_upper(word[i])) return false;
  return true;
}

bool iequals(std::string_view s, std::string_view word) {
  return s.size() == word.size() && iequals_prefix(s.data(), s.data() + s.size(), word);
}

// The arguments of an extended command (KEY=VALUE words): up to a ';' comment.
std::string_view args_before_comment(const char* p, const char* e) {
  const char* stop = static_cast<const char*>(std::memchr(p, ';', static_cast<size_t>(e - p)));
  return std::string_view(p, static_cast<size_t>((stop ? stop : e) - p));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// Parameters of one classic command: the value of each letter A..Z and which were given.
struct Params {
  uint32_t present = 0;   // bit (letter - 'A'): the letter appeared
  uint32_t valued = 0;    // bit: the letter had a number
  double v[26];

  bool has(char l) const { return (valued >> (l - 'A')) & 1u; }
  bool seen(char l) const { return (present >> (l - 'A')) & 1u; }
  double get(char l) const { return v[l - 'A']; }
};

}  // namespace

struct Reader::State {
  ToolpathSink& sink;
  ReaderOptions opt;
  Stats stats;

  std::string carry;  // the unfinished last line of the previous chunk
  const char* readable_end = nullptr;  // how far the current line's buffer may be read
  bool finished = false;
  bool failed = false;

  // Machine state. Positions are physical millimetres; logical = physical - offset (G92).
  double pos[3] = {0, 0, 0};
  double off[3] = {0, 0, 0};
  double e_logical = 0;
  double unit = 1.0;          // 25.4 after G20
  bool xyz_relative = false;  // G91
  int e_mode = 0;             // 0: follows G90/G91, 1: absolute (M82), 2: relative (M83)
  int plane = 17;             // G17/G18/G19
  // Coordinate offsets that move where plastic lands, each way a dialect offers: workplace systems
  // G54..G59.3 set by G10 L2/L20 (RepRapFirmware, Marlin CNC_COORDINATE_SYSTEMS), Marlin's M206/M428
  // home offset, Klipper's SET_GCODE_OFFSET. physical = logical + off (G92, M206, SET_GCODE_OFFSET)
  // + work[cur_work]. A file that changed them between layers would otherwise scramble its own
  // reconstruction.
  double work[9][3] = {};
  int cur_work = 0;
  double home_off[3] = {0, 0, 0};  // M206 values, kept to apply the change of the next M206
  double klipper_off[3] = {0, 0, 0};  // SET_GCODE_OFFSET values (Klipper: physical = G-code + offset)
  // Klipper's SAVE_GCODE_STATE NAME=..: what its RESTORE_GCODE_STATE puts back. A file that shifts
  // with G92 or switches to G91 between a save and a restore would otherwise keep the shift or the
  // mode in the reconstruction while the printer drops it.
  struct SavedState {
    bool xyz_relative;
    int e_mode;
    double off[3], klipper_off[3], pos[3], kin_shift[3];
    double flow;
  };
  // Klipper's SET_KINEMATIC_POSITION X=.. re-declares where the toolhead is without moving it: the
  // shift between the physical frame and the toolhead's since then (part of `off`, kept apart so
  // that RESTORE_GCODE_STATE, which does not touch it, keeps it).
  double kin_shift[3] = {0, 0, 0};
  std::unordered_map<std::string, SavedState> saved_states;
  size_t saved_name_bytes = 0;
  bool machine_coords = false;     // G53 on this line: the move is in machine coordinates
  uint16_t tool = 0;
  bool volumetric = false;    // E in mm^3 (M200 D>0, Cura UltiGCode flavour)
  double filament_area = 0;   // mm^2
  double comment_width = 0;   // last ;WIDTH: (0 = none seen)
  double flow = 1.0;          // M221 S<percent>: the firmware scales every E by it
  // Transforms the firmware applies to the G-code's coordinates before it moves: RepRapFirmware's
  // G68 rotation about a centre (its RotateCoordinates) and M579 scale factors, and Marlin's M92
  // steps per mm. A file can pre-distort its coordinates and let one of these undo the distortion on
  // the printer. The transform maps the move endpoints in segment(); it stays off (and costs one
  // branch) until a file uses one.
  bool xform = false;
  bool rot_on = false;
  double rot_deg = 0, rot_cos = 1, rot_sin = 0;
  double rot_centre[2] = {0, 0};    // in the frame physical - off (RepRapFirmware's own), mm
  double axis_scale[3] = {1, 1, 1};  // M579
  // M92: the value per axis when the first plastic went down (or, for an axis first set later,
  // that first value): the base the later values scale against. Values set before any extrusion
  // are not compared with each other: nothing printed in between, so an early bogus value cannot
  // stretch the part. 0: none yet.
  double steps_base[3] = {0, 0, 0};
  double steps_now[3] = {0, 0, 0};  // 0: never set
  bool extruded = false;            // any extrusion move so far
  double scale[3] = {1, 1, 1};       // M579 x the M92 ratio, per axis
  // RepRapFirmware's M556 S<len> X Y Z [P] skew compensation, applied after the scaling (its
  // Move::AxisTransform): X deviation / S over Y (or, with P1, Y over X), Z over Y and over X.
  // Marlin's M852 I J K (SKEW_CORRECTION builds) and Klipper's SET_SKEW XY= XZ= YZ= set skew
  // factors that both firmwares apply as x -= y*xy + z*(xz - xy*yz), y -= z*yz: the same form with
  // tan_xy = -xy, tan_xz = -(xz - xy*yz), tan_yz = -yz (kept as factors, as the files set them).
  double tan_xy = 0, tan_yz = 0, tan_xz = 0;
  bool skew_x_by_y = true;
  double skew_factor[3] = {0, 0, 0};  // Marlin / Klipper xy, xz, yz
  // Where the head really is when a transform changed since the last XY move: the next XY move
  // starts there (the firmware does not move the head when the transform changes, nor in XY for a
  // move that names only Z or E).
  double xf_start[3] = {0, 0, 0};
  bool xf_start_set = false;
  bool xy_named = true;  // false while segment() maps a G0/G1 that names neither X nor Y
  // segment() takes the slow way (special_ends): a transform is on, the head's point is pending,
  // or nothing has extruded yet. Set whenever one of them may have become true; special_ends
  // clears it when none is.
  bool special = true;

  // Layer state.
  bool have_layer = false;
  Layer cur;
  double layer_z = 0;
  double last_planar_height = 0;
  uint64_t layers_started = 0;
  size_t last_layer_moves = 0;  // capacity hint for the next layer
  std::set<int64_t> layer_zs;  // quantized Z of every layer started, to find the one below

  // Object labels.
  struct Obj {
    ObjectLabel label;
    bool emitted = false;
    bool declared = false;  // by a command (EXCLUDE_OBJECT_DEFINE / M486): reported even if unused
  };
  std::vector<Obj> objs;
  std::unordered_map<std::string, int32_t> obj_by_name;  // key: kind char + name
  std::unordered_map<int64_t, int32_t> obj_by_m486;
  std::string key_scratch;
  int32_t cmd_obj = -1;      // from M486 / EXCLUDE_OBJECT_START
  int32_t comment_obj = -1;  // from slicer comments
  bool cmd_labels = false;   // the file labels objects with commands; comments are then ignored

  Params params;
#if defined(S3D_GCODE_LINE_PLAN)
  std::unique_ptr<detail::LinePlans> plans;  // the fast path for plain moves (line_plan.h); null: off
#endif
  std::vector<std::array<double, 3>> bezier_pts;  // scratch of bezier_move (at most max_chords_per_arc + 1)

  State(ToolpathSink& s, ReaderOptions o) : sink(s), opt(o) {
    if (!(opt.arc_chord_mm >= 0.01f)) opt.arc_chord_mm = 0.01f;
    if (opt.max_chords_per_arc < 1) opt.max_chords_per_arc = 1;
    set_diameter(opt.filament_diameter > 0.05f && opt.filament_diameter < 20.f ? opt.filament_diameter : 1.75);
    carry.reserve(std::min<size_t>(opt.max_line_bytes + 2, size_t{1} << 16));
#if defined(S3D_GCODE_LINE_PLAN)
    // The fast path takes lines shorter than its window only, so a max_line_bytes below that keeps
    // every line on the general parser, which checks the limit.
    if (opt.vector_lines && opt.max_line_bytes >= static_cast<size_t>(detail::LinePlans::kWindow) &&
        detail::LinePlans::supported())
      plans = std::make_unique<detail::LinePlans>();
#endif
  }

  void set_diameter(double d) { filament_area = kPi * d * d / 4; }

  [[noreturn, gnu::cold, gnu::noinline]] void fail(ErrorCode code, const std::string& why) const {
    throw LoadError(code, "G-code line " + std::to_string(stats.lines) + ": " + why);
  }

  // ---- chunking -------------------------------------------------------------------------------

  void feed(const char* p, const char* e) {
    if (!carry.empty()) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(e - p)));
      const char* stop = nl ? nl : e;
      if (carry.size() + static_cast<size_t>(stop - p) > opt.max_line_bytes + 1) too_long();
      carry.append(p, stop);
      if (!nl) return;
      line_from_carry();
      p = nl + 1;
    }
    readable_end = e;
#if defined(S3D_GCODE_LINE_PLAN)
    if (plans && !plans->gave_up()) p = feed_planned(p, e);
#endif
    while (p < e) {
      const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(e - p)));
      if (!nl) {
        if (static_cast<size_t>(e - p) > opt.max_line_bytes + 1) too_long();
        carry.assign(p, e);
        return;
      }
      line(p, nl);
      p = nl + 1;
    }
  }

#if defined(S3D_GCODE_LINE_PLAN)
  // The lines of [p, e), G0/G1 lines of known shapes through the fast path (line_plan.h), the others
  // through line(). Returns where the line it left unfinished starts (or e).
  // Two things keep the processor busy: the line ends are found 64 bytes at a time, so no line's
  // parsing waits on finding the previous line's end, and runs of up to 32 fast lines (Batch) are parsed
  // first and moved after, so that the moves do not wait on the parsing's long chain of vector
  // operations line after line. (Both measured with bench/gcode_parse_bench.)
  __attribute__((target("avx2,bmi,bmi2,fma"))) const char* feed_planned(const char* p, const char* e) {
    constexpr int kWindow = detail::LinePlans::kWindow;
    constexpr int kTail = 128;
    Batch batch;
    detail::LinePlans& planner = *plans;
    const __m256i newline = _mm256_set1_epi8('\n');
    // Each line start p is below block + 64; a line is read kWindow bytes on when that stays in [p, e).
    for (const char* block = p; e - block >= 64 && !planner.gave_up(); block += 64) {
      const auto lo = static_cast<uint32_t>(_mm256_movemask_epi8(
          _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block)), newline)));
      const auto hi = static_cast<uint32_t>(_mm256_movemask_epi8(
          _mm256_cmpeq_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 32)), newline)));
      uint64_t ends = lo | static_cast<uint64_t>(hi) << 32;
      while (ends) {
        const char* nl = block + _tzcnt_u64(ends);
        ends = _blsr_u64(ends);
        take(batch, planner, p, e - p >= kWindow, p, nl);
        p = nl + 1;
      }
    }
    // The last lines (under 64 bytes, and the line they finish): from a copy with room after it,
    // so that the 32-byte loads stay inside. Only the last, unfinished line is left to the caller.
    if (e - p <= kTail && !planner.gave_up()) {
      alignas(32) char copy[kTail + kWindow] = {};
      std::memcpy(copy, p, static_cast<size_t>(e - p));
      const char* q = copy;
      const char* qe = copy + (e - p);
      while (const char* nl = static_cast<const char*>(std::memchr(q, '\n', static_cast<size_t>(qe - q)))) {
        take(batch, planner, q, true, p + (q - copy), p + (nl - copy));
        q = nl + 1;
      }
      p += q - copy;
    }
    batch_moves(batch.letters, batch.values, batch.n);
    return p;
  }

  // Fast-path lines parsed and not yet moved.
  struct Batch {
    static constexpr int kSize = 32;
    alignas(32) double values[kSize][4];
    uint32_t letters[kSize];
    int n = 0;
  };

  // The line [from, to) of the input: into the batch when the fast path takes it, read at `at` (a
  // copy of it, or itself) where `readable` says kWindow bytes can be read; else, after the batch's
  // moves, through line().
  [[gnu::always_inline]] inline __attribute__((target("avx2,bmi,bmi2,fma"))) void take(
      Batch& batch, detail::LinePlans& planner, const char* at, bool readable, const char* from, const char* to) {
    const auto len = to - from;
    __m256d xyze;
    if (len < detail::LinePlans::kWindow && readable &&
        planner.parse(at, static_cast<int>(len), batch.letters[batch.n], xyze)) {
      _mm256_store_pd(batch.values[batch.n], xyze);
      if (++batch.n == Batch::kSize) {
        batch_moves(batch.letters, batch.values, batch.n);
        batch.n = 0;
      }
    } else {
      batch_moves(batch.letters, batch.values, batch.n);
      batch.n = 0;
      line(from, to);
    }
  }

  // The line a chunk's end split, put together in `carry` [p, e) with kWindow readable bytes after p:
  // through the fast path when it takes it, else line().
  __attribute__((target("avx2,bmi,bmi2,fma"))) void carried_line(const char* p, const char* e) {
    Batch batch;
    take(batch, *plans, p, true, p, e);
    batch_moves(batch.letters, batch.values, batch.n);
  }

  // The moves of n lines the fast path parsed, in order.
  [[gnu::noinline]] void batch_moves(const uint32_t* letters, const double (*values)[4], int n) {
    if (n == 0) return;
    for (int i = common_moves(letters, values, n); i < n; ++i) planned_move(letters[i], values[i]);
  }

  // The run of fast-path moves from the first, as long as each is the common case: no transform or
  // pending head point (special), absolute XYZ, an extruding move within the current layer or a
  // move that does not extrude, the active object already reported, the layer below its move limit.
  // Exactly what planned_move() and segment() do for such moves, with the state in locals rather
  // than read and written back through memory move after move. Returns how many moves it made; the
  // caller makes the rest, from the first it left, with planned_move() (which also raises the
  // errors: a value out of range is left to it).
  int common_moves(const uint32_t* letters, const double (*values)[4], int n) {
    if (special || xyz_relative || machine_coords || !have_layer) return 0;
    // Millimetres, no offsets, no flow or volume factor (most files): a leaner loop, the same values.
    const double* w = work[cur_work];
    if (unit == 1 && flow == 1 && !volumetric && off[0] == 0 && off[1] == 0 && off[2] == 0 && w[0] == 0 && w[1] == 0 &&
        w[2] == 0)
      return common_moves_as<true>(letters, values, n);
    return common_moves_as<false>(letters, values, n);
  }

  // common_moves() for plain files (kPlain: unit 1, flow 1, not volumetric, every offset +0 or -0)
  // or any other.
  template <bool kPlain>
  int common_moves_as(const uint32_t* letters, const double (*values)[4], int n) {
    const int32_t object = active_object();
    if (object >= 0 && !objs[static_cast<size_t>(object)].emitted) return 0;
    if (cur.moves.size() + static_cast<size_t>(n) > opt.max_moves_per_layer) return 0;
    // The moves are written in place: room for n more, trimmed to what was written at the end.
    const size_t first = cur.moves.size();
    if (cur.moves.capacity() < first + static_cast<size_t>(n))  // grows as push_back would
      cur.moves.reserve(std::max(first + static_cast<size_t>(n), 2 * cur.moves.capacity()));
    cur.moves.resize(first + static_cast<size_t>(n));
    ExtrusionMove* out = cur.moves.data() + first;
    constexpr uint32_t kX = 1u << ('X' - 'A'), kY = 1u << ('Y' - 'A'), kZ = 1u << ('Z' - 'A'), kE = 1u << ('E' - 'A');
    // The state these moves read, in locals (the compiler cannot tell that the stores of the moves
    // leave the members alone).
    const double u = unit, flow_now = flow, area = filament_area, width_now = comment_width, h = cur.height;
    const double zl = layer_z;
    const double ox = off[0], oy = off[1], oz = off[2];
    const double* w_now = work[cur_work];
    const double wx = w_now[0], wy = w_now[1], wz = w_now[2];
    const bool e_rel = e_mode == 0 ? xyz_relative : e_mode == 2, vol = volumetric;
    const uint16_t tool_now = tool;
    double px = pos[0], py = pos[1], pz = pos[2], el = e_logical;
    int i = 0;
    for (; i < n; ++i) {
      const uint32_t l = letters[i];
      const double* v = values[i];
      // target_of() for absolute XYZ outside G53. Plain: v * 1 is v and adding zeros is adding +0
      // once (which turns -0 into +0, as the full sum does).
      const double tx = l & kX ? (kPlain ? v[0] + 0.0 : v[0] * u + ox + wx) : px;
      const double ty = l & kY ? (kPlain ? v[1] + 0.0 : v[1] * u + oy + wy) : py;
      const double tz = l & kZ ? (kPlain ? v[2] + 0.0 : v[2] * u + oz + wz) : pz;
      if (!(std::fabs(tx) <= kMaxCoord && std::fabs(ty) <= kMaxCoord && std::fabs(tz) <= kMaxCoord)) break;
      // extrusion_of().
      double de = 0, el_next = el;
      if (l & kE) {
        const double w = kPlain ? v[3] : v[3] * u;
        if (!(std::fabs(w) <= kMaxE)) break;
        de = e_step(w, e_rel, el_next);
        if (!kPlain) {
          if (vol) de /= area;
          de *= flow_now;
        }
      }
      // segment().
      if (de > kEEps) {
        const double dx = tx - px, dy = ty - py;
        const double len2 = dx * dx + dy * dy;
        if (len2 > kXYEps * kXYEps) {
          if (std::fabs(tz - zl) > kZEps) break;  // a new layer, maybe
          const double width = width_now > 0 ? width_now : width_from_e(de, len2, h);
          *out++ = ExtrusionMove{static_cast<float>(px), static_cast<float>(py), static_cast<float>(tx),
                                 static_cast<float>(ty), static_cast<float>(tz), static_cast<float>(de),
                                 static_cast<float>(width), tool_now, object};
        }
      }
      px = tx;
      py = ty;
      pz = tz;
      el = el_next;
    }
    const auto made = static_cast<uint64_t>(out - (cur.moves.data() + first));
    cur.moves.resize(first + made);
    pos[0] = px;
    pos[1] = py;
    pos[2] = pz;
    e_logical = el;
    stats.lines += static_cast<uint64_t>(i);
    stats.commands += static_cast<uint64_t>(i);
    stats.planned_lines += static_cast<uint64_t>(i);
    stats.extrusion_moves += made;
    return i;
  }

  // A G0/G1 line the fast path parsed: `letters` its words, v the values of X, Y, Z and E. Does
  // what line() and linear_move() would (without going through params).
  void planned_move(uint32_t letters, const double v[4]) {
    ++stats.lines;
    ++stats.commands;
    ++stats.planned_lines;
    double to[3];
    target_of(letters, v, to);
    const double de = (letters >> ('E' - 'A')) & 1u ? extrusion_of(v[3]) : 0.0;
    move_to(to, de, (letters & (1u << ('X' - 'A') | 1u << ('Y' - 'A'))) != 0);
  }
#endif

  // The carried line, padded with NULs so the 8-byte number loads stay inside the string.
  void line_from_carry() {
    const size_t n = carry.size();
    carry.append(32, '\0');  // also the fast path's 32-byte load
    readable_end = carry.data() + carry.size();
#if defined(S3D_GCODE_LINE_PLAN)
    if (plans && !plans->gave_up())
      carried_line(carry.data(), carry.data() + n);
    else
#endif
      line(carry.data(), carry.data() + n);
    carry.clear();
  }

  [[noreturn, gnu::cold, gnu::noinline]] void too_long() const {
    throw LoadError(ErrorCode::kLimitExceeded, "G-code line " + std::to_string(stats.lines + 1) +
                                                   " is longer than the limit of " +
                                                   std::to_string(opt.max_line_bytes) + " bytes (max_line_bytes)");
  }

  // ---- one line -------------------------------------------------------------------------------

  void line(const char* p, const char* e) {
    if (e > p && e[-1] == '\r') --e;
    if (static_cast<size_t>(e - p) > opt.max_line_bytes) {
      throw LoadError(ErrorCode::kLimitExceeded, "G-code line " + std::to_string(stats.lines + 1) +
                                                     " is longer than the limit of " +
                                                     std::to_string(opt.max_line_bytes) + " bytes (max_line_bytes)");
    }
    ++stats.lines;
    p = skip_spaces(p, e);
    while (p < e && *p == '(') {  // leading "(...)" comments
      p = paren_comment(p, e);
      p = skip_spaces(p, e);
    }
    if (p == e) return;
    char c = *p;
    if (c == ';') return comment(p + 1, e);
    if ((c == 'N' || c == 'n') && p + 1 < e && is_digit(p[1])) {  // line number
      p += 2;
      while (p < e && is_digit(*p)) ++p;
      p = skip_spaces(p, e);
      if (p == e) return;
      c = *p;
      if (c == ';') return comment(p + 1, e);
    }
    const char u = to_upper(c);
    if (u == 'G' && p + 2 < e && (p[1] == '1' || p[1] == '0') && !is_digit(p[2]) && p[2] != '.') {
      ++stats.commands;  // G0/G1, most lines of any file
      parse_params_inline(p + 2, e);
      return linear_move();
    }
    if ((u == 'G' || u == 'M' || u == 'T') && p + 1 < e && (is_digit(p[1]) || (u == 'T' && p[1] == '-'))) {
      ++stats.commands;
      return classic(u, p + 1, e);
    }
    if (is_alpha(c)) {
      ++stats.commands;
      return extended(p, e);
    }
    check_text(p, e);
    ++stats.unknown_commands;  // '%', stray numbers and other text
  }

  void check_text(const char* p, const char* e) const {
    for (; p < e; ++p)
      if (is_control(*p)) fail(ErrorCode::kMalformed, "binary data (control byte) in G-code text");
  }

  // Skips "(...)" starting at p; an unclosed one runs to the end of the line.
  const char* paren_comment(const char* p, const char* e) {
    stats.saw_comments = true;
    const char* close = static_cast<const char*>(std::memchr(p, ')', static_cast<size_t>(e - p)));
    const char* stop = close ? close + 1 : e;
    check_text(p, stop);
    return stop;
  }

  // ---- comments -------------------------------------------------------------------------------

  void comment(const char* p, const char* e) {
    stats.saw_comments = true;
    check_text(p, e);
    p = skip_spaces(p, e);
    if (e - p < 5) return;
    switch (to_upper(*p)) {
      case 'W':
        if (iequals_prefix(p, e, "WIDTH:")) {
          double w = 0;
          if (parse_number_view(trim(std::string_view(p + 6, static_cast<size_t>(e - p - 6))), w) && w > 0 &&
              w <= kMaxCommentWidth)
            comment_width = w;
        }
        break;
      case 'P':
        if (iequals_prefix(p, e, "printing object ")) comment_label(std::string_view(p + 16, static_cast<size_t>(e - p - 16)));
        break;
      case 'S':
        if (iequals_prefix(p, e, "stop printing object")) {
          comment_obj = -1;
        } else if (iequals_prefix(p, e, "start printing object")) {  // Bambu / Orca
          std::string_view rest(p + 21, static_cast<size_t>(e - p - 21));
          const size_t colon = rest.rfind(':');
          comment_label(colon == std::string_view::npos ? rest : rest.substr(colon + 1));
        }
        break;
      case 'M':
        if (iequals_prefix(p, e, "MESH:")) {  // Cura
          const std::string_view name = trim(std::string_view(p + 5, static_cast<size_t>(e - p - 5)));
          if (name == "NONMESH" || name.empty())
            comment_obj = -1;
          else
            comment_label(name);
        }
        break;
      case 'F':
        if (iequals_prefix(p, e, "filament_diameter")) {
          std::string_view rest = trim(std::string_view(p + 17, static_cast<size_t>(e - p - 17)));
          if (!rest.empty() && (rest.front() == '=' || rest.front() == ':')) {
            rest = trim(rest.substr(1));
            const size_t comma = rest.find_first_of(",;");
            double d = 0;
            if (parse_number_view(trim(rest.substr(0, comma)), d) && d > 0.05 && d < 20) set_diameter(d);
          }
        } else if (iequals_prefix(p, e, "FLAVOR:")) {
          if (iequals_prefix(p + 7, e, "UltiGCode")) volumetric = true;
        }
        break;
      default:
        break;
    }
  }

  static bool parse_number_view(std::string_view s, double& out) {
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    if (s.empty()) return false;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out, std::chars_format::fixed);
    return r.ec == std::errc() && std::isfinite(out);
  }

  // ---- classic G/M/T commands -----------------------------------------------------------------

  // p points just after the command letter.
  void classic(char letter, const char* p, const char* e) {
    if (letter == 'T') {
      int64_t n = 0;
      const bool neg = *p == '-';
      if (neg) ++p;
      while (p < e && is_digit(*p)) {
        if (n < 1'000'000) n = n * 10 + (*p - '0');
        ++p;
      }
      check_text(p, e);
      if (!neg && n <= 65535) tool = static_cast<uint16_t>(n);
      return;
    }
    int code = 0;
    while (p < e && is_digit(*p)) {
      if (code < 100000) code = code * 10 + (*p - '0');
      ++p;
    }
    if (p < e && *p == '.') {  // sub-codes (G29.1, M862.3): none moves plastic; G59.1-3 pick systems 7-9
      if (letter == 'G' && code == 59 && p + 1 < e && p[1] >= '1' && p[1] <= '3' && (p + 2 == e || !is_digit(p[2])))
        cur_work = 6 + (p[1] - '1');
      check_text(p, e);
      return;
    }
    if (letter == 'G') {
      switch (code) {
        case 0:
        case 1:
          parse_params(p, e);
          return linear_move();
        case 2:
        case 3:
          parse_params(p, e);
          return arc_move(code == 2);
        case 5:
          parse_params(p, e);
          return bezier_move();
        case 10:  // firmware retract; with L2/L20 it sets a workplace offset, with P alone tool
                  // offsets (the firmware moves the head so the nozzle lands on the G-code's point)
          parse_params(p, e);
          return set_work_offset();
        case 11:  // firmware unretract: the firmware moves the filament, not the G-code E
          parse_params(p, e);
          return;
        case 53: {  // "G53 G1 X.. Y..": that move in machine coordinates
          const char* q = skip_spaces(p, e);
          if (!machine_coords && q + 1 < e && to_upper(*q) == 'G' && is_digit(q[1])) {  // once: no G53 chains
            machine_coords = true;
            classic('G', q + 1, e);
            machine_coords = false;
            return;
          }
          check_text(p, e);
          return;
        }
        case 54:
        case 55:
        case 56:
        case 57:
        case 58:
        case 59:
          check_text(p, e);
          cur_work = code - 54;
          return;
        case 17:
        case 18:
        case 19:
          check_text(p, e);
          plane = code;
          return;
        case 68:  // RepRapFirmware: G68 R<deg> A|X<centre> B|Y<centre> [I1: add to the angle]
          parse_params(p, e);
          return set_rotation();
        case 69:
          check_text(p, e);
          if (rot_on) {
            transform_changing();
            rot_on = false;
            rot_deg = 0;
            update_transform();
          }
          return;
        case 20:
          check_text(p, e);
          unit = 25.4;
          return;
        case 21:
          check_text(p, e);
          unit = 1.0;
          return;
        case 28:
          parse_params(p, e);
          return home();
        case 90:
          check_text(p, e);
          xyz_relative = false;
          return;
        case 91:
          check_text(p, e);
          xyz_relative = true;
          return;
        case 92:
          parse_params(p, e);
          return set_position();
        default:
          check_text(p, e);
          return;
      }
    }
    // M codes
    switch (code) {
      case 82:
        check_text(p, e);
        e_mode = 1;
        return;
      case 83:
        check_text(p, e);
        e_mode = 2;
        return;
      case 200:
        parse_params(p, e);
        if (params.has('D')) {
          const double d = params.get('D') * unit;
          if (d > 0.05 && d < 20) {
            volumetric = true;
            set_diameter(d);
          } else if (d == 0) {
            volumetric = false;
          }
        } else if (params.has('S') && params.get('S') == 0) {
          volumetric = false;
        }
        return;
      case 486:
        return m486(p, e);
      case 556:  // RepRapFirmware: skew compensation
        parse_params(p, e);
        return set_skew();
      case 852:  // Marlin: skew correction factors
        parse_params(p, e);
        return marlin_skew();
      case 579:  // RepRapFirmware: scale factors per axis
      case 92:   // Marlin: steps per mm per axis
        parse_params(p, e);
        return set_axis_scale(code == 92);
      case 221:  // flow (extrude factor) in percent: Marlin, Klipper, RepRapFirmware
        parse_params(p, e);
        if (params.has('S') && params.get('S') > 0 && params.get('S') <= 1e5) flow = params.get('S') / 100.0;
        return;
      case 206:  // Marlin home offset: logical = native + offset, effective at once
        parse_params(p, e);
        return set_home_offset(false);
      case 428:  // Marlin: home offsets that make the current position the origin
        check_text(p, e);
        return set_home_offset(true);
      default:
        check_text(p, e);
        return;
    }
  }

  // Reads letter/number words up to a ';' comment or a '*' checksum. Words run together are fine
  // ("X10Y20"); a letter without a number is recorded as seen (G28 X); other printable junk is
  // skipped to the next space; control bytes are an error. The loop is the reader's hot path: plain
  // decimals take fast_decimal, everything else goes to the out-of-line helpers below.
  // The G0/G1 fast path in line() inlines it; every other command calls the out-of-line copy (with
  // more callers gcc stopped inlining it there, 4 % of the Reader's throughput in
  // bench/gcode_parse_bench).
  [[gnu::noinline]] void parse_params(const char* p, const char* e) { parse_params_inline(p, e); }

  [[gnu::always_inline]] inline void parse_params_inline(const char* p, const char* e) {
    Params& P = params;
    P.present = 0;
    P.valued = 0;
    while (p < e) {
      const char c = *p;
      if (c == ' ') {
        ++p;
        continue;
      }
      const auto idx = static_cast<unsigned>((c | 0x20) - 'a');  // letters only land in 0..25
      if (idx < 26) {
        ++p;
        P.present |= 1u << idx;
        double v;
        if (const char* next = fast_decimal(p, e, readable_end, v)) {
          P.v[idx] = v;
          P.valued |= 1u << idx;
          p = next;
        } else {
          p = slow_value(idx, p, e);
        }
        continue;
      }
      p = param_other(p, e);
    }
  }

  // A value fast_decimal did not take: long digit strings through from_chars, "nan"/"inf" (an
  // error), or no number at all.
  [[gnu::noinline]] const char* slow_value(unsigned idx, const char* p, const char* e) {
    const char letter = static_cast<char>('A' + idx);
    if (p < e && starts_number(*p)) {
      const char* q = *p == '+' ? p + 1 : p;
      double v = 0;
      const auto r = std::from_chars(q, e, v, std::chars_format::fixed);
      if (r.ec == std::errc::result_out_of_range) fail(ErrorCode::kBadValue, std::string("value of ") + letter + " is out of range");
      if (r.ec != std::errc()) return p + 1;  // "-", "." alone
      if (!std::isfinite(v)) fail(ErrorCode::kBadValue, std::string("non-finite value of ") + letter);
      params.v[idx] = v;
      params.valued |= 1u << idx;
      return r.ptr;
    }
    if (p < e && (to_upper(*p) == 'N' || to_upper(*p) == 'I')) {
      // "XNaN", "Xinf": from_chars would take them, and they are never valid.
      double v = 0;
      const auto r = std::from_chars(p, e, v, std::chars_format::fixed);
      if (r.ec == std::errc() && !std::isfinite(v)) fail(ErrorCode::kBadValue, std::string("non-finite value of ") + letter);
    }
    return p;
  }

  // Anything but a space or a letter in a parameter list; returns where to go on.
  [[gnu::noinline]] const char* param_other(const char* p, const char* e) {
    const char c = *p;
    if (c == '\t') return p + 1;
    if (c == ';') {
      comment(p + 1, e);
      return e;
    }
    if (c == '*') {  // checksum
      check_text(p, e);
      return e;
    }
    if (c == '(') return paren_comment(p, e);
    if (is_control(c)) fail(ErrorCode::kMalformed, "binary data (control byte) in G-code text");
    while (p < e && !is_space(*p) && *p != ';') {
      if (is_control(*p)) fail(ErrorCode::kMalformed, "binary data (control byte) in G-code text");
      ++p;
    }
    return p;
  }

  double checked_axis(double v, const char* what) const {
    if (!std::isfinite(v) || std::fabs(v) > kMaxCoord)
      fail(ErrorCode::kBadValue, std::string(what) + " coordinate out of range (|v| > 1e5 mm)");
    return v;
  }

  // Target of a move from the X/Y/Z words, in physical millimetres.
  void target(double out[3]) const {
    const double v[3] = {params.v['X' - 'A'], params.v['Y' - 'A'], params.v['Z' - 'A']};
    target_of(params.valued, v, out);
  }

  // The same from `letters` (bit letter - 'A': the words given) and the X, Y, Z values v.
  void target_of(uint32_t letters, const double v[3], double out[3]) const {
    static constexpr const char* kNames[3] = {"X", "Y", "Z"};
    for (int a = 0; a < 3; ++a) {
      out[a] = pos[a];
      if (!((letters >> (kAxes[a] - 'A')) & 1u)) continue;
      const double w = v[a] * unit;
      out[a] = checked_axis(xyz_relative ? pos[a] + w : machine_coords ? w : w + off[a] + work[cur_work][a], kNames[a]);
    }
  }

  // Filament length pushed by the E word (negative = retraction), updating the logical E.
  double extrusion() { return params.has('E') ? extrusion_of(params.get('E')) : 0; }

  double extrusion_of(double e_word) {
    const double v = e_word * unit;
    if (std::fabs(v) > kMaxE) fail(ErrorCode::kBadValue, "E value out of range");
    double de = e_step(v, e_mode == 0 ? xyz_relative : e_mode == 2, e_logical);
    if (volumetric) de /= filament_area;  // mm^3 -> mm of filament
    return de * flow;
  }

  // The filament an E value v (mm, in range) pushes, relative or absolute, moving the logical E el.
  static double e_step(double v, bool rel, double& el) {
    if (!rel) {
      const double de = v - el;
      el = v;
      return de;
    }
    el += v;
    if (std::fabs(el) > kMaxE) el = 0;  // only differences matter
    return v;
  }

  // The width of a move of de filament over len2 (squared XY length) in a layer h high, when no
  // ;WIDTH: comment gave one (0: unknown).
  double width_from_e(double de, double len2, double h) const {
    return h > 1e-6 ? std::clamp(filament_area * de / (std::sqrt(len2) * h), kMinWidth, kMaxWidth) : 0.0;
  }

  void linear_move() {
    double to[3];
    target(to);
    move_to(to, extrusion(), params.has('X') || params.has('Y'));
  }

  // A straight move to `to` pushing de of filament; xy: the move named X or Y.
  void move_to(const double to[3], double de, bool xy) {
    xy_named = xy;
    segment(pos, to, de);
    xy_named = true;
    pos[0] = to[0];
    pos[1] = to[1];
    pos[2] = to[2];
  }

  void arc_move(bool clockwise) {
    ++stats.arcs;
    double to[3];
    target(to);
    const bool ij = params.has('I') || params.has('J');
    const bool rform = !ij && params.has('R');
    if (!ij && !rform) return;  // firmware rejects it and does not move
    const double de = extrusion();
    const double x0 = pos[0], y0 = pos[1], z0 = pos[2];
    const double x1 = to[0], y1 = to[1], z1 = to[2];
    double cx, cy;
    if (ij) {
      cx = checked_axis(x0 + (params.has('I') ? params.get('I') * unit : 0), "arc centre X");
      cy = checked_axis(y0 + (params.has('J') ? params.get('J') * unit : 0), "arc centre Y");
    } else {
      const double r = params.get('R') * unit;
      checked_axis(r, "arc radius");
      const double dx = x1 - x0, dy = y1 - y0;
      const double d = std::hypot(dx, dy);
      if (d < kXYEps || r == 0) {  // an R arc cannot close a circle; firmware ignores it
        return commit(to);
      }
      const double h2 = r * r - d * d / 4;
      const double h = h2 > 0 ? std::sqrt(h2) : 0;  // a radius too small is stretched to d/2
      const double sgn = (clockwise != (r < 0)) ? -1.0 : 1.0;
      cx = (x0 + x1) / 2 + sgn * h * (-dy / d);
      cy = (y0 + y1) / 2 + sgn * h * (dx / d);
    }
    if (plane != 17) {  // arcs in the XZ/YZ planes: straight chord (never used for printing)
      segment(pos, to, de);
      return commit(to);
    }
    const double r0 = std::hypot(x0 - cx, y0 - cy);
    const double r1 = std::hypot(x1 - cx, y1 - cy);
    if (r0 < kXYEps) {
      segment(pos, to, de);
      return commit(to);
    }
    const double a0 = std::atan2(y0 - cy, x0 - cx);
    const double a1 = std::atan2(y1 - cy, x1 - cx);
    double ccw = a1 - a0;  // counter-clockwise travel in [0, 2pi)
    while (ccw < 0) ccw += 2 * kPi;
    while (ccw >= 2 * kPi) ccw -= 2 * kPi;
    const bool closed = std::fabs(x1 - x0) < 1e-6 && std::fabs(y1 - y0) < 1e-6;
    double travel;  // signed, radians
    if (closed) {
      travel = clockwise ? -2 * kPi : 2 * kPi;  // I/J arc back to its start: a full circle
    } else if (clockwise) {
      travel = ccw > 1e-12 ? ccw - 2 * kPi : 0.0;
    } else {
      travel = ccw;
    }
    if (params.has('P')) {
      const double turns = std::min(std::floor(params.get('P')), static_cast<double>(kMaxArcTurns));
      if (turns >= 1) travel += (clockwise ? -2 * kPi : 2 * kPi) * turns;
    }
    const double length = std::fabs(travel) * std::max(r0, r1);
    double nd = std::ceil(length / opt.arc_chord_mm);
    if (!(nd >= 1)) nd = 1;
    if (nd > opt.max_chords_per_arc) nd = opt.max_chords_per_arc;
    const auto n = static_cast<uint32_t>(nd);
    double prev[3] = {x0, y0, z0};
    for (uint32_t k = 1; k <= n; ++k) {
      double next[3];
      if (k == n) {
        next[0] = x1;
        next[1] = y1;
        next[2] = z1;
      } else {
        const double t = static_cast<double>(k) / n;
        const double a = a0 + travel * t;
        const double r = r0 + (r1 - r0) * t;
        next[0] = checked_axis(cx + r * std::cos(a), "arc X");  // a huge circle can leave the range
        next[1] = checked_axis(cy + r * std::sin(a), "arc Y");
        next[2] = z0 + (z1 - z0) * t;
      }
      segment(prev, next, de / n);
      prev[0] = next[0];
      prev[1] = next[1];
      prev[2] = next[2];
    }
    commit(to);
  }

  // G5, Marlin's cubic Bezier (BEZIER_CURVE_SUPPORT): from the current point to the target with
  // control points start + (I, J) and target + (P, Q), offsets that Marlin reads as 0 when absent
  // and scales by the units, whatever G90/G91 says. Z and E change linearly in the curve parameter,
  // as Marlin steps them. No slicer we know writes G5, but a printer with it enabled prints it, so
  // an evader could draw every perimeter with it; it is split into chords like an arc.
  void bezier_move() {
    ++stats.arcs;
    double to[3];
    target(to);
    const double de = extrusion();
    const auto offset = [this](char l) { return params.has(l) ? params.get(l) * unit : 0.0; };
    const double x0 = pos[0], y0 = pos[1], z0 = pos[2];
    const double x1 = checked_axis(x0 + offset('I'), "G5 control point X");
    const double y1 = checked_axis(y0 + offset('J'), "G5 control point Y");
    const double x2 = checked_axis(to[0] + offset('P'), "G5 control point X");
    const double y2 = checked_axis(to[1] + offset('Q'), "G5 control point Y");
    const double x3 = to[0], y3 = to[1], z3 = to[2];
    if (plane != 17) {  // Marlin refuses G5 outside the XY plane; a straight chord keeps the plastic
      segment(pos, to, de);
      return commit(to);
    }
    // Chords at even steps of the parameter: the curve's speed is at most 3 x its longest control
    // leg (the derivative is a Bezier on 3 x the legs), so that many chords keep each no longer than
    // arc_chord_mm.
    const double leg = std::max({std::hypot(x1 - x0, y1 - y0), std::hypot(x2 - x1, y2 - y1), std::hypot(x3 - x2, y3 - y2)});
    double nd = std::ceil(3 * leg / opt.arc_chord_mm);
    if (!(nd >= 1)) nd = 1;
    if (nd > opt.max_chords_per_arc) nd = opt.max_chords_per_arc;
    const auto n = static_cast<uint32_t>(nd);
    // The plastic is shared out by chord length, not by parameter step as Marlin steps E: where the
    // curve slows (control points on its ends) Marlin piles plastic up, but the path, which is what
    // the reconstruction needs, is the same, and a per-chord width from E would balloon there.
    bezier_pts.resize(n + 1);
    double total = 0;
    for (uint32_t k = 0; k <= n; ++k) {
      std::array<double, 3>& q = bezier_pts[k];
      if (k == n) {
        q = {x3, y3, z3};
      } else {
        const double t = static_cast<double>(k) / n, u = 1 - t;
        const double b0 = u * u * u, b1 = 3 * u * u * t, b2 = 3 * u * t * t, b3 = t * t * t;
        q = {b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3, b0 * y0 + b1 * y1 + b2 * y2 + b3 * y3, z0 + (z3 - z0) * t};
      }
      if (k > 0) total += std::hypot(q[0] - bezier_pts[k - 1][0], q[1] - bezier_pts[k - 1][1]);
    }
    for (uint32_t k = 1; k <= n; ++k) {
      const std::array<double, 3>& a = bezier_pts[k - 1];
      const std::array<double, 3>& b = bezier_pts[k];
      const double share = total > 0 ? std::hypot(b[0] - a[0], b[1] - a[1]) / total : 1.0 / n;
      segment(a.data(), b.data(), de * share);
    }
    commit(to);
  }

  void commit(const double to[3]) {
    pos[0] = to[0];
    pos[1] = to[1];
    pos[2] = to[2];
  }

  void home() {
    xf_start_set = false;  // the head goes to a known place
    const bool any = params.seen('X') || params.seen('Y') || params.seen('Z');
    for (int a = 0; a < 3; ++a) {
      if (any && !params.seen(kAxes[a])) continue;
      pos[a] = 0;
      off[a] = 0;
    }
  }

  // G10 L2 P<n> X Y Z: workplace system n's offset (machine coordinates); G10 L20 P<n> X Y Z: the
  // offset that makes the current point read X Y Z in system n. Other G10 forms change nothing here.
  void set_work_offset() {
    if (!params.has('L') || !params.has('P')) return;
    const double l = params.get('L'), pn = params.get('P');
    if ((l != 2 && l != 20) || !(pn >= 1 && pn <= 9) || pn != std::floor(pn)) return;
    const int n = static_cast<int>(pn) - 1;
    for (int a = 0; a < 3; ++a) {
      if (!params.has(kAxes[a])) continue;
      const double v = checked_axis(params.get(kAxes[a]) * unit, "G10 offset");
      work[n][a] = checked_axis(l == 2 ? v : pos[a] - off[a] - v, "G10 offset");
    }
  }

  // M206 X Y Z (from_position false): Marlin's home offset, native = logical - offset, so a change
  // of the offset by d moves every later point by -d. M428 (true): the offset that makes the current
  // point the origin.
  void set_home_offset(bool from_position) {
    for (int a = 0; a < 3; ++a) {
      double v;
      if (from_position) {
        v = home_off[a] - (pos[a] - off[a] - work[cur_work][a]);  // logical position -> 0
      } else {
        if (!params.has(kAxes[a])) continue;
        v = params.get(kAxes[a]) * unit;
      }
      checked_axis(v, "home offset");
      off[a] = checked_axis(off[a] + home_off[a] - v, "home offset");
      home_off[a] = v;
    }
  }

  void set_position() {
    // G92 alone sets every axis to 0; "G92 E" (no number) sets E to 0.
    const bool any = params.seen('X') || params.seen('Y') || params.seen('Z') || params.seen('E');
    for (int a = 0; a < 3; ++a) {
      if (any && !params.seen(kAxes[a])) continue;
      const double v = params.has(kAxes[a]) ? params.get(kAxes[a]) * unit : 0.0;
      checked_axis(v, "G92");
      off[a] = pos[a] - v - work[cur_work][a];
    }
    if (!any || params.seen('E')) {
      const double v = params.has('E') ? params.get('E') * unit : 0.0;
      if (std::fabs(v) > kMaxE) fail(ErrorCode::kBadValue, "G92 E value out of range");
      e_logical = v;
    }
  }

  // ---- firmware transforms --------------------------------------------------------------------

  // Called before a transform changes: the head stays where the old transform put it.
  void transform_changing() {
    special = true;
    if (xf_start_set) return;
    map_point(pos, xf_start);
    xf_start_set = true;
  }

  // segment()'s ends through the firmware transforms, and the first extrusion's bookkeeping. Out of
  // line and behind one flag (`special`), so that plain files pay one branch per move for it.
  [[gnu::noinline]] void special_ends(const double* a, const double* b, double de, double ma[3], double mb[3]) {
    if (!extruded && de > kEEps) begin_printing();
    if (xform || xf_start_set) {
      if (xf_start_set && a[0] == pos[0] && a[1] == pos[1] && a[2] == pos[2])
        std::copy(xf_start, xf_start + 3, ma);
      else
        map_point(a, ma);
      // RepRapFirmware rotates a move only outside G53 and in the XY plane (its
      // GCodeBuffer::DoingCoordinateRotation); scaling and skew still apply. The head then stands
      // where no rotated reading of its point puts it, so the next move starts from there (xf_start).
      const bool unrotated = rot_on && (machine_coords || plane != 17);
      map_point(b, mb, !unrotated);
      if (!xy_named) {
        // No X or Y in the move (Z or E alone): the firmware moves only the axes a move names, so
        // the head keeps its XY, also when the transform changed since it got there.
        mb[0] = ma[0];
        mb[1] = ma[1];
        if (xf_start_set) xf_start[2] = mb[2];
      } else if (unrotated) {
        std::copy(mb, mb + 3, xf_start);
        xf_start_set = true;
      } else {
        xf_start_set = false;
      }
    } else {
      std::copy(a, a + 3, ma);
      std::copy(b, b + 3, mb);
    }
    special = xform || xf_start_set || !extruded;
  }

  // The first plastic goes down: M92 values set so far become the bases. Not a change on the
  // printer (its steps were these all along), so the head's point is mapped anew, not kept.
  void begin_printing() {
    extruded = true;
    bool changed = false;
    for (int a = 0; a < 3; ++a) {
      if (steps_now[a] > 0 && steps_base[a] == 0) {
        steps_base[a] = steps_now[a];
        changed = true;
      }
    }
    if (changed) update_transform();
  }

  void update_transform() {
    for (int a = 0; a < 3; ++a) {
      double ratio = 1;
      if (steps_base[a] > 0) {
        // Relative to the base (see steps_base): the printer's own value is unknown. X and Y steps
        // are taken as equal on the printer (same motors and pulleys on the printers we know), so a
        // file that sets them apart stretches one against the other: X and Y share one base.
        double base = steps_base[a];
        if (a < 2 && steps_base[0] > 0 && steps_base[1] > 0) base = std::sqrt(steps_base[0] * steps_base[1]);
        ratio = steps_now[a] / base;
      }
      scale[a] = axis_scale[a] * ratio;
    }
    xform = rot_on || scale[0] != 1 || scale[1] != 1 || scale[2] != 1 || tan_xy != 0 || tan_yz != 0 || tan_xz != 0;
    special = true;
  }

  void map_point(const double in[3], double out[3], bool rotate = true) const {
    double x = in[0], y = in[1];
    if (rot_on && rotate) {  // RepRapFirmware's RotateCoordinates, about the centre in our frame
      const double cx = rot_centre[0] + off[0], cy = rot_centre[1] + off[1];
      const double dx = x - cx, dy = y - cy;
      x = cx + dx * rot_cos + dy * rot_sin;
      y = cy - dx * rot_sin + dy * rot_cos;
    }
    x *= scale[0];
    y *= scale[1];
    const double z = in[2] * scale[2];
    x += (skew_x_by_y ? tan_xy * y : 0) + tan_xz * z;
    y += (skew_x_by_y ? 0 : tan_xy * x) + tan_yz * z;
    out[0] = checked_axis(x, "transformed X");
    out[1] = checked_axis(y, "transformed Y");
    out[2] = checked_axis(z, "transformed Z");
  }

  void set_rotation() {
    // RepRapFirmware needs R, A or X, B or Y, and the XY plane; without them the command fails.
    const bool has_a = params.has('A') || params.has('X'), has_b = params.has('B') || params.has('Y');
    if (!params.has('R') || !has_a || !has_b || plane != 17) return;
    const double angle = std::fmod(params.get('R'), 360.0);  // finite: the number parser saw to that
    const double ca = (params.has('A') ? params.get('A') : params.get('X')) * unit;
    const double cb = (params.has('B') ? params.get('B') : params.get('Y')) * unit;
    transform_changing();
    rot_centre[0] = checked_axis(ca + work[cur_work][0], "G68 centre");
    rot_centre[1] = checked_axis(cb + work[cur_work][1], "G68 centre");
    rot_deg = std::fmod(params.has('I') && params.get('I') != 0 ? rot_deg + angle : angle, 360.0);
    rot_on = rot_deg != 0;
    rot_cos = std::cos(rot_deg * kPi / 180);
    rot_sin = std::sin(rot_deg * kPi / 180);
    stats.transforms = true;
    update_transform();
  }

  // M556 S<len> X<dev> Y<dev> Z<dev> [P<n>]: tangents dev / len (len > 0; RepRapFirmware sets no
  // bound, nor does this beyond |tangent| <= 100: the coordinates' own range check stays).
  void set_skew() {
    bool any = false;
    if (params.has('S') && params.get('S') > 0) {
      const double len = params.get('S');
      double* tans[3] = {&tan_xy, &tan_yz, &tan_xz};
      for (int a = 0; a < 3; ++a) {
        if (!params.has(kAxes[a])) continue;
        const double t = params.get(kAxes[a]) / len;
        if (!(std::fabs(t) <= 100)) continue;
        if (!any) transform_changing();
        any = true;
        *tans[a] = t;
      }
    }
    if (params.has('P')) {
      if (!any) transform_changing();
      any = true;
      skew_x_by_y = params.get('P') <= 0;
    }
    if (!any) return;
    stats.transforms = true;
    update_transform();
  }

  // Marlin M852 I<xy> J<xz> K<yz> (S for I too), each in [-1, 1] as Marlin accepts; Klipper SET_SKEW
  // (see set_klipper_skew) after it computed the factors.
  void set_skew_factors(const double* xy, const double* xz, const double* yz) {
    transform_changing();
    if (xy) skew_factor[0] = *xy;
    if (xz) skew_factor[1] = *xz;
    if (yz) skew_factor[2] = *yz;
    tan_xy = -skew_factor[0];
    tan_xz = -(skew_factor[1] - skew_factor[0] * skew_factor[2]);
    tan_yz = -skew_factor[2];
    skew_x_by_y = true;
    stats.transforms = true;
    update_transform();
  }

  void marlin_skew() {
    double v[3];
    const double* given[3] = {nullptr, nullptr, nullptr};
    const char letters[3] = {'I', 'J', 'K'};
    for (int k = 0; k < 3; ++k) {
      const char l = (k == 0 && !params.has('I')) ? 'S' : letters[k];
      if (!params.has(l)) continue;
      v[k] = params.get(l);
      if (v[k] >= -1 && v[k] <= 1) given[k] = &v[k];
    }
    if (given[0] || given[1] || given[2]) set_skew_factors(given[0], given[1], given[2]);
  }

  // Klipper SET_SKEW [XY=ac,bd,ad] [XZ=..] [YZ=..] [CLEAR=1]: each plane's factor from the three
  // lengths measured on a calibration print, as its skew_correction.calc_skew_factor computes it.
  void set_klipper_skew(const char* p, const char* e) {
    const std::string_view args = args_before_comment(p, e);
    double v[3];
    const double* given[3] = {nullptr, nullptr, nullptr};
    bool clear = false;
    for_each_kv(args, [&](std::string_view key, std::string_view value) {
      double num = 0;
      if (iequals(key, "CLEAR") && parse_number_view(trim(value), num))
        clear = num != 0;
      if (key.size() != 2) return;
      const char a = to_upper(key[0]), b = to_upper(key[1]);
      const int k = a == 'X' && b == 'Y' ? 0 : a == 'X' && b == 'Z' ? 1 : a == 'Y' && b == 'Z' ? 2 : -1;
      if (k < 0) return;
      double len[3];
      size_t n = 0;
      while (n < 3 && !value.empty()) {
        const size_t comma = value.find(',');
        if (!parse_number_view(trim(value.substr(0, comma)), len[n]) || !(len[n] > 0)) return;
        ++n;
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
      }
      if (n != 3) return;
      const double ac = len[0], bd = len[1], ad = len[2];
      const double side2 = 2 * ac * ac + 2 * bd * bd - 4 * ad * ad;
      if (!(side2 > 0)) return;
      const double side = std::sqrt(side2) / 2;
      const double c = (ac * ac - side * side - ad * ad) / (2 * side * ad);
      if (!(c > -1 && c < 1)) return;
      const double f = std::tan(kPi / 2 - std::acos(c));
      if (!(std::fabs(f) <= 100)) return;
      v[k] = f;
      given[k] = &v[k];
    });
    if (clear) {  // Klipper clears and ignores the rest
      const double zero = 0;
      return set_skew_factors(&zero, &zero, &zero);
    }
    if (given[0] || given[1] || given[2]) set_skew_factors(given[0], given[1], given[2]);
  }

  // M579 X Y Z (factors) or M92 X Y Z (steps per mm). Values outside 1/100..100 of the usual are
  // not a printer's and are ignored.
  void set_axis_scale(bool steps) {
    bool any = false;
    for (int a = 0; a < 3; ++a) {
      if (!params.has(kAxes[a])) continue;
      const double v = params.get(kAxes[a]);
      if (steps ? !(v >= 1 && v <= 1e5) : !(v >= 0.01 && v <= 100)) continue;
      if (!any) transform_changing();
      any = true;
      if (!steps) {
        axis_scale[a] = v;
      } else {
        if (steps_base[a] == 0 && extruded) steps_base[a] = v;
        steps_now[a] = v;
      }
    }
    if (!any) return;
    if (steps) stats.sets_axis_steps = true;
    else stats.transforms = true;
    update_transform();
  }

  // ---- layers and moves -----------------------------------------------------------------------

  void segment(const double* a, const double* b, double de) {
    double ma[3], mb[3];
    if (special) [[unlikely]] {
      special_ends(a, b, de, ma, mb);
      a = ma;
      b = mb;
    }
    if (!(de > kEEps)) return;
    const double dx = b[0] - a[0], dy = b[1] - a[1];
    const double len2 = dx * dx + dy * dy;
    if (len2 <= kXYEps * kXYEps) return;
    const double z = b[2];
    if (!have_layer) {
      start_layer(z);
    } else if (std::fabs(z - layer_z) > kZEps) {
      const bool planar = std::fabs(b[2] - a[2]) <= kZEps;
      if (planar) {
        start_layer(z);
      } else {
        // Spiral (vase) moves climb while extruding: one layer per nominal layer height.
        double step = last_planar_height > 0.01 ? last_planar_height : 0.2;
        step = std::clamp(step, 0.05, 1.0);
        if (std::fabs(z - layer_z) >= step - kZEps) start_layer(z);
      }
    }
    if (cur.moves.size() >= opt.max_moves_per_layer)
      fail(ErrorCode::kLimitExceeded, "layer at z=" + std::to_string(layer_z) + " has more than " +
                                          std::to_string(opt.max_moves_per_layer) +
                                          " extrusion moves (max_moves_per_layer)");
    const double width = comment_width > 0 ? comment_width : width_from_e(de, len2, cur.height);
    const int32_t object = active_object();
    if (object >= 0 && !objs[static_cast<size_t>(object)].emitted) emit_object(object);
    cur.moves.push_back(ExtrusionMove{static_cast<float>(a[0]), static_cast<float>(a[1]), static_cast<float>(b[0]),
                                      static_cast<float>(b[1]), static_cast<float>(z), static_cast<float>(de),
                                      static_cast<float>(width), tool, object});
    ++stats.extrusion_moves;
  }

  void start_layer(double z) {
    if (layers_started >= opt.max_layers)
      fail(ErrorCode::kLimitExceeded,
           "more than " + std::to_string(opt.max_layers) + " layers (max_layers)");
    flush_layer();
    ++layers_started;
    have_layer = true;
    layer_z = z;
    const auto key = static_cast<int64_t>(std::llround(z * kZQuantum));
    const auto eps = static_cast<int64_t>(kZEps * kZQuantum);
    double height = z;
    auto it = layer_zs.lower_bound(key - eps);
    if (it != layer_zs.begin()) height = z - static_cast<double>(*std::prev(it)) / kZQuantum;
    layer_zs.insert(key);
    cur.z = static_cast<float>(z);
    cur.height = static_cast<float>(height);
    cur.moves.clear();
    cur.moves.reserve(std::min<size_t>(last_layer_moves + last_layer_moves / 4 + 16, opt.max_moves_per_layer));
    if (height > 0) last_planar_height = height;
  }

  void flush_layer() {
    if (!have_layer) return;
    have_layer = false;
    if (cur.moves.empty()) return;
    cur.index = static_cast<uint32_t>(stats.layers);
    last_layer_moves = cur.moves.size();
    ++stats.layers;
    sink.on_layer(std::move(cur));
    cur = Layer{};
  }

  // ---- object labels --------------------------------------------------------------------------

  int32_t active_object() const { return cmd_labels ? cmd_obj : comment_obj; }

  void emit_object(int32_t idx) {
    Obj& o = objs[static_cast<size_t>(idx)];
    o.emitted = true;
    sink.on_object(o.label);
  }

  int32_t new_object(std::string_view name) {
    if (objs.size() >= opt.max_objects)
      fail(ErrorCode::kLimitExceeded,
           "more than " + std::to_string(opt.max_objects) + " object labels (max_objects)");
    Obj o;
    o.label.index = static_cast<int32_t>(objs.size());
    o.label.name.assign(name.data(), name.size());
    objs.push_back(std::move(o));
    return static_cast<int32_t>(objs.size() - 1);
  }

  // Object by name; kind separates the naming schemes ('K' Klipper, 'C' comments).
  int32_t object_named(char kind, std::string_view name, bool upper_key) {
    key_scratch.clear();
    key_scratch.push_back(kind);
    for (char c : name) key_scratch.push_back(upper_key ? to_upper(c) : c);
    auto it = obj_by_name.find(key_scratch);
    if (it != obj_by_name.end()) return it->second;
    const int32_t idx = new_object(name);
    obj_by_name.emplace(key_scratch, idx);
    return idx;
  }

  void comment_label(std::string_view name) {
    name = trim(name);
    if (name.empty()) return;
    comment_obj = object_named('C', name, false);
  }

  // M486 S<n> [A"name"] | M486 A<name> | M486 T<count> | M486 S-1
  void m486(const char* p, const char* e) {
    bool has_s = false;
    int64_t s = 0;
    bool has_name = false;
    std::string_view name;
    while (p < e) {
      const char c = *p;
      if (is_space(c)) {
        ++p;
        continue;
      }
      if (c == ';') {
        comment(p + 1, e);
        break;
      }
      if (is_control(c)) fail(ErrorCode::kMalformed, "binary data (control byte) in G-code text");
      const char u = to_upper(c);
      ++p;
      if (u == 'A') {
        if (p < e && *p == '"') {
          const char* close = static_cast<const char*>(std::memchr(p + 1, '"', static_cast<size_t>(e - p - 1)));
          const char* stop = close ? close : e;
          name = std::string_view(p + 1, static_cast<size_t>(stop - p - 1));
          p = close ? close + 1 : e;
        } else {  // unquoted: the rest of the line up to a comment
          const char* semi = static_cast<const char*>(std::memchr(p, ';', static_cast<size_t>(e - p)));
          const char* stop = semi ? semi : e;
          name = trim(std::string_view(p, static_cast<size_t>(stop - p)));
          p = stop;
        }
        check_text(name.data(), name.data() + name.size());
        has_name = true;
        continue;
      }
      const char* q = p;
      if (q < e && *q == '+') ++q;
      double v = 0;
      const auto r = std::from_chars(q, e, v, std::chars_format::fixed);
      if (r.ec == std::errc()) {
        p = r.ptr;
        if (u == 'S' && std::isfinite(v) && std::fabs(v) < 1e9) {
          has_s = true;
          s = static_cast<int64_t>(std::floor(v));
        }
      }
    }
    if (has_s) {
      cmd_labels = true;
      if (s < 0) {
        cmd_obj = -1;
      } else {
        auto it = obj_by_m486.find(s);
        if (it == obj_by_m486.end()) {
          const int32_t idx = new_object({});
          objs[static_cast<size_t>(idx)].declared = true;
          it = obj_by_m486.emplace(s, idx).first;
        }
        cmd_obj = it->second;
      }
    }
    if (has_name && cmd_obj >= 0) {
      Obj& o = objs[static_cast<size_t>(cmd_obj)];
      if (!o.emitted) o.label.name.assign(name.data(), name.size());
    }
  }

  // ---- Klipper-style extended commands --------------------------------------------------------

  void extended(const char* p, const char* e) {
    const char* name_end = p;
    while (name_end < e && (is_alpha(*name_end) || is_digit(*name_end) || *name_end == '_')) ++name_end;
    const std::string_view name(p, static_cast<size_t>(name_end - p));
    check_text(name_end, e);
    if (iequals(name, "SET_GCODE_OFFSET")) return set_gcode_offset(name_end, e);
    if (iequals(name, "SAVE_GCODE_STATE")) return gcode_state(true, name_end, e);
    if (iequals(name, "SET_KINEMATIC_POSITION")) return set_kinematic_position(name_end, e);
    if (iequals(name, "SET_SKEW")) return set_klipper_skew(name_end, e);
    if (iequals(name, "RESTORE_GCODE_STATE")) return gcode_state(false, name_end, e);
    if (name.size() < 14 || !iequals_prefix(p, name_end, "EXCLUDE_OBJECT")) {
      ++stats.unknown_commands;
      return;
    }
    // Strip a ';' comment outside quotes.
    const char* stop = name_end;
    char quote = 0;
    for (; stop < e; ++stop) {
      if (quote) {
        if (*stop == quote) quote = 0;
      } else if (*stop == '"' || *stop == '\'') {
        quote = *stop;
      } else if (*stop == ';') {
        break;
      }
    }
    if (stop < e) comment(stop + 1, e);
    const std::string_view args(name_end, static_cast<size_t>(stop - name_end));
    std::string_view obj_name, polygon;
    bool has_name = false, has_polygon = false;
    for_each_kv(args, [&](std::string_view key, std::string_view value) {
      if (iequals(key, "NAME")) {
        obj_name = value;
        has_name = true;
      } else if (iequals(key, "POLYGON")) {
        polygon = value;
        has_polygon = true;
      }
    });
    const std::string_view verb = name.substr(14);
    if (iequals(verb, "_DEFINE")) {
      if (!has_name || obj_name.empty()) return;
      cmd_labels = true;
      const int32_t idx = object_named('K', obj_name, true);
      Obj& o = objs[static_cast<size_t>(idx)];
      o.declared = true;
      if (has_polygon && !o.emitted) parse_polygon(polygon, o.label.polygon);
    } else if (iequals(verb, "_START")) {
      if (!has_name || obj_name.empty()) return;
      cmd_labels = true;
      cmd_obj = object_named('K', obj_name, true);
    } else if (iequals(verb, "_END")) {
      cmd_labels = true;
      cmd_obj = -1;
    } else {
      ++stats.unknown_commands;  // EXCLUDE_OBJECT (cancel) and other variants
    }
  }

  // Klipper's SET_GCODE_OFFSET [X=<pos>|X_ADJUST=<adj>] [Y..] [Z..] [MOVE=1]: physical = G-code
  // position + offset, the change effective at once (and with MOVE=1 the head moves by it).
  void set_gcode_offset(const char* p, const char* e) {
    const std::string_view args = args_before_comment(p, e);
    double next[3] = {klipper_off[0], klipper_off[1], klipper_off[2]};
    bool move = false;
    for_each_kv(args, [&](std::string_view key, std::string_view value) {
      double v = 0;
      if (!parse_number_view(trim(value), v)) return;
      for (int a = 0; a < 3; ++a) {
        if (key.size() == 1 && to_upper(key[0]) == kAxes[a]) next[a] = v;
        if (key.size() == 8 && to_upper(key[0]) == kAxes[a] && iequals_prefix(key.data() + 1, key.data() + 8, "_ADJUST"))
          next[a] = klipper_off[a] + v;
      }
      if (iequals(key, "MOVE")) move = v != 0;
    });
    for (int a = 0; a < 3; ++a) {
      const double delta = checked_axis(next[a], "SET_GCODE_OFFSET") - klipper_off[a];
      off[a] = checked_axis(off[a] + delta, "SET_GCODE_OFFSET");
      if (move) pos[a] = checked_axis(pos[a] + delta, "SET_GCODE_OFFSET");
      if (move) xf_start_set = false;
      klipper_off[a] = next[a];
    }
  }

  // Klipper's SAVE_GCODE_STATE / RESTORE_GCODE_STATE [NAME=<name>] [MOVE=1]: saves and restores the
  // coordinate modes, the G92 and SET_GCODE_OFFSET offsets and the M221 flow (Klipper's gcode_move.py;
  // the logical E goes on from where it is). MOVE=1 travels back to the saved point. Restoring a name
  // never saved is an error in Klipper that stops the print; here it changes nothing.
  void gcode_state(bool save, const char* p, const char* e) {
    const std::string_view args = args_before_comment(p, e);
    std::string_view state_name = "default";
    bool move = false;
    for_each_kv(args, [&](std::string_view key, std::string_view value) {
      if (iequals(key, "NAME")) state_name = value;
      double v = 0;
      if (iequals(key, "MOVE") && parse_number_view(trim(value), v))
        move = v != 0;
    });
    std::string key(state_name);
    for (char& c : key) c = to_upper(c);  // Klipper lower-cases names: the same name in any case
    if (save) {
      if (saved_states.find(key) == saved_states.end()) {
        saved_name_bytes += key.size();
        if (saved_states.size() >= kMaxSavedStates || saved_name_bytes > kMaxSavedStateNameBytes)
          fail(ErrorCode::kLimitExceeded, "more than " + std::to_string(kMaxSavedStates) + " SAVE_GCODE_STATE names or " +
                                              std::to_string(kMaxSavedStateNameBytes) + " bytes of them");
      }
      SavedState& sv = saved_states[key];
      sv.xyz_relative = xyz_relative;
      sv.e_mode = e_mode;
      sv.flow = flow;
      std::copy(off, off + 3, sv.off);
      std::copy(klipper_off, klipper_off + 3, sv.klipper_off);
      std::copy(pos, pos + 3, sv.pos);
      std::copy(kin_shift, kin_shift + 3, sv.kin_shift);
      return;
    }
    const auto it = saved_states.find(key);
    if (it == saved_states.end()) {
      ++stats.unknown_commands;
      return;
    }
    const SavedState& sv = it->second;
    xyz_relative = sv.xyz_relative;
    e_mode = sv.e_mode;
    flow = sv.flow;
    for (int a = 0; a < 3; ++a) off[a] = sv.off[a] - sv.kin_shift[a] + kin_shift[a];
    std::copy(sv.klipper_off, sv.klipper_off + 3, klipper_off);
    if (move) {
      std::copy(sv.pos, sv.pos + 3, pos);
      xf_start_set = false;
    }
  }

  // Klipper's SET_KINEMATIC_POSITION [X=] [Y=] [Z=]: the toolhead is now at these coordinates, the
  // head does not move. Its coordinate now is pos - kin_shift; the difference to the new one joins
  // both shifts, so later targets land where Klipper puts them.
  void set_kinematic_position(const char* p, const char* e) {
    const std::string_view args = args_before_comment(p, e);
    for_each_kv(args, [&](std::string_view key, std::string_view value) {
      double v = 0;
      if (key.size() != 1 || !parse_number_view(trim(value), v)) return;
      for (int a = 0; a < 3; ++a) {
        if (to_upper(key[0]) != kAxes[a]) continue;
        const double delta = (pos[a] - kin_shift[a]) - checked_axis(v, "SET_KINEMATIC_POSITION");
        kin_shift[a] = checked_axis(kin_shift[a] + delta, "SET_KINEMATIC_POSITION");
        off[a] = checked_axis(off[a] + delta, "SET_KINEMATIC_POSITION");
      }
    });
  }

  // KEY=VALUE words separated by spaces; VALUE may be quoted with " or '.
  template <class F>
  static void for_each_kv(std::string_view s, F&& f) {
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && is_space(s[i])) ++i;
      const size_t k0 = i;
      while (i < s.size() && !is_space(s[i]) && s[i] != '=') ++i;
      const std::string_view key = s.substr(k0, i - k0);
      if (i >= s.size() || s[i] != '=') continue;
      ++i;
      std::string_view value;
      if (i < s.size() && (s[i] == '"' || s[i] == '\'')) {
        const char q = s[i];
        const size_t close = s.find(q, i + 1);
        const size_t stop = close == std::string_view::npos ? s.size() : close;
        value = s.substr(i + 1, stop - i - 1);
        i = close == std::string_view::npos ? s.size() : close + 1;
      } else {
        const size_t v0 = i;
        while (i < s.size() && !is_space(s[i])) ++i;
        value = s.substr(v0, i - v0);
      }
      f(key, value);
    }
  }

  // "[[x,y],[x,y],...]": the numbers in order, taken in pairs.
  void parse_polygon(std::string_view s, std::vector<std::array<float, 2>>& out) const {
    out.clear();
    const char* p = s.data();
    const char* e = p + s.size();
    double pending = 0;
    bool have_pending = false;
    while (p < e) {
      if (!starts_number(*p)) {
        ++p;
        continue;
      }
      const char* q = *p == '+' ? p + 1 : p;
      double v = 0;
      const auto r = std::from_chars(q, e, v, std::chars_format::fixed);
      if (r.ec != std::errc()) {
        ++p;
        continue;
      }
      p = r.ptr;
      checked_axis(v, "EXCLUDE_OBJECT_DEFINE POLYGON");
      if (!have_pending) {
        pending = v;
        have_pending = true;
      } else {
        if (out.size() >= kMaxPolygonPoints) fail(ErrorCode::kLimitExceeded, "object polygon has too many points");
        out.push_back({static_cast<float>(pending), static_cast<float>(v)});
        have_pending = false;
      }
    }
  }

  void finish() {
    if (!carry.empty()) line_from_carry();
    for (size_t i = 0; i < objs.size(); ++i)
      if (objs[i].declared && !objs[i].emitted) emit_object(static_cast<int32_t>(i));
    flush_layer();
  }
};

Reader::Reader(ToolpathSink& sink, ReaderOptions o) : st_(std::make_unique<State>(sink, o)) {}

Reader::~Reader() = default;

void Reader::feed(std::string_view chunk) {
  if (st_->finished) throw std::logic_error("gcode::Reader::feed after finish");
  if (st_->failed) throw std::logic_error("gcode::Reader::feed after an error");
  st_->stats.bytes += chunk.size();
  try {
    st_->feed(chunk.data(), chunk.data() + chunk.size());
  } catch (...) {
    st_->failed = true;
    throw;
  }
}

void Reader::finish() {
  if (st_->finished) throw std::logic_error("gcode::Reader::finish called twice");
  if (st_->failed) throw std::logic_error("gcode::Reader::finish after an error");
  st_->finished = true;
  try {
    st_->finish();
  } catch (...) {
    st_->failed = true;
    throw;
  }
}

const Reader::Stats& Reader::stats() const { return st_->stats; }

}  // namespace s3d::gcode
