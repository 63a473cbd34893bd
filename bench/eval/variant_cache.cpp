#include "bench/eval/variant_cache.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include "bench/eval/gcode_evasion.h"
#include "bench/eval/rng.h"
#include "geometry/shapes.h"
#include "geometry/variants.h"
#include "geometry/write_mesh.h"

namespace s3d::eval {
namespace {

constexpr double kSplitGapMm = 10.0;
constexpr double kDecimateFraction = 0.30;

constexpr VariantClassInfo kClasses[] = {
    {VariantClass::kRigid, "rigid", 1, nullptr},
    {VariantClass::kScale, "scale", 1, nullptr},
    {VariantClass::kMirror, "mirror", 1, nullptr},
    {VariantClass::kRemesh, "remesh", 3, nullptr},
    {VariantClass::kSmooth, "smooth", 1, nullptr},
    {VariantClass::kNoise, "noise", 1, nullptr},
    {VariantClass::kFormat, "format", 4, nullptr},
    {VariantClass::kPlate, "plate", 1, nullptr},
    {VariantClass::kSplit, "split", 2, nullptr},
    {VariantClass::kEmbedded, "embedded", 1, nullptr},
    {VariantClass::kEdit, "edit", 2, nullptr},
    {VariantClass::kGcode, "gcode", 1, nullptr},
    {VariantClass::kGcodeStripped, "gcode-stripped", 1, nullptr},
    {VariantClass::kGcodeEvasive, "gcode-evasive", 1, nullptr},
    {VariantClass::kGcodeFirmware, "gcode-firmware", 4, nullptr},
};

const VariantClassInfo& info(VariantClass c) {
  for (const VariantClassInfo& i : kClasses)
    if (i.cls == c) return i;
  return kClasses[0];
}

// gcode-firmware's variants, by k.
constexpr Firmware kFirmwareOf[] = {Firmware::kRepRap, Firmware::kKlipper, Firmware::kMarlinSkew, Firmware::kKlipperSkew};
constexpr const char* kFirmwareNames[] = {"reprap", "klipper", "marlin-skew", "klipper-skew"};

// Which file format a variant is written in.
enum class Writer {
  kStlBinary, kStlAscii, kObj, k3mf, kGlb, kGcode, kGcodeStripped, kGcodeEvasive,
  kGcodeFirmware,  // which firmware: kFirmwareOf[k]
};

bool is_gcode_writer(Writer w) {
  return w == Writer::kGcode || w == Writer::kGcodeStripped || w == Writer::kGcodeEvasive || w == Writer::kGcodeFirmware;
}

Writer writer_of(VariantClass cls, int k) {
  if (cls == VariantClass::kGcode) return Writer::kGcode;
  if (cls == VariantClass::kGcodeStripped) return Writer::kGcodeStripped;
  if (cls == VariantClass::kGcodeEvasive) return Writer::kGcodeEvasive;
  if (cls == VariantClass::kGcodeFirmware) return Writer::kGcodeFirmware;
  if (cls != VariantClass::kFormat) return Writer::kStlBinary;
  return k == 0 ? Writer::kStlAscii : k == 1 ? Writer::kObj : k == 2 ? Writer::k3mf : Writer::kGlb;
}

const char* extension(Writer w) {
  switch (w) {
    case Writer::kStlAscii: return ".stl";
    case Writer::kObj: return ".obj";
    case Writer::k3mf: return ".3mf";
    case Writer::kGlb: return ".glb";
    case Writer::kGcode:
    case Writer::kGcodeStripped:
    case Writer::kGcodeEvasive:
    case Writer::kGcodeFirmware: return ".gcode";
    default: return ".stl";
  }
}

uint64_t mesh_hash(const Mesh& m, uint64_t h) {
  auto bytes = [&](const void* p, size_t n) {
    h = fnv1a(std::string_view(static_cast<const char*>(p), n), h);
  };
  const uint64_t nv = m.vertices.size(), nt = m.triangles.size(), no = m.object_starts.size();
  bytes(&nv, sizeof nv);
  bytes(&nt, sizeof nt);
  bytes(&no, sizeof no);
  if (nv) bytes(m.vertices.data(), nv * sizeof(Vec3f));
  if (nt) bytes(m.triangles.data(), nt * sizeof(Tri));
  if (no) bytes(m.object_starts.data(), no * sizeof(uint32_t));
  return h;
}

// File-name-safe stem of a reference name: letters, digits, '-', '_' kept, the rest '_'; no extension.
std::string safe_stem(const std::string& name) {
  std::string stem = std::filesystem::path(name).stem().string();
  if (stem.size() > 80) stem.resize(80);
  for (char& c : stem)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) c = '_';
  return stem.empty() ? std::string("ref") : stem;
}

bool read_text(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

std::string temp_name(const std::string& final_path) {
  static std::atomic<uint64_t> counter{0};
  return final_path + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

// Writes text atomically (temp + rename).
void write_text(const std::string& path, const std::string& text) {
  const std::string tmp = temp_name(path);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error(tmp + ": write failed");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(path + ": rename failed");
  }
}

// Runs argv (argv[0] looked up in PATH) with stdin/stdout/stderr on /dev/null; returns the exit
// status, or -1 when it could not start or was killed.
int run_quiet(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

enum class GcodeStyle { kAsSliced, kStripped, kEvasive, kFirmware };

// Slices `m` with PrusaSlicer (fixed settings: 0.2 mm layers, 400 mm bed, object labels on, the part
// turned `rotate_deg` about Z and centred) into G-code at `path`, post-processed in `style` (kFirmware: as
// `firmware` would undo it).
void slice_to_gcode(const Mesh& m, double rotate_deg, GcodeStyle style, Firmware firmware, uint64_t seed,
                    const std::string& path) {
  const std::string stl = temp_name(path) + ".stl", raw = temp_name(path) + ".gcode";
  struct Cleanup {
    std::vector<std::string> files;
    ~Cleanup() {
      std::error_code ec;
      for (const std::string& f : files) std::filesystem::remove(f, ec);
    }
  } cleanup{{stl, raw}};
  write_stl_binary(m, stl);
  char rot[32];
  std::snprintf(rot, sizeof rot, "%.3f", rotate_deg);
  const int rc = run_quiet({"timeout", "300", "prusa-slicer", "--export-gcode", "--loglevel", "0", "--layer-height", "0.2",
                            "--bed-shape", "0x0,400x0,400x400,0x400", "--center", "200,200", "--gcode-label-objects",
                            "--rotate", rot, "-o", raw, stl});
  if (rc != 0) {
    std::error_code ec;
    if (rc == 127 || rc == -1) throw std::runtime_error("prusa-slicer is not installed (tools/install-deps.sh installs it)");
    throw std::runtime_error("prusa-slicer could not slice the part (exit " + std::to_string(rc) + ")");
  }
  std::string text;
  if (!read_text(raw, &text) || text.empty()) throw std::runtime_error("prusa-slicer wrote no G-code");
  std::string processed = postprocess_gcode(text, style != GcodeStyle::kAsSliced);
  if (style == GcodeStyle::kEvasive) processed = evade_gcode_marlin(processed, seed);
  if (style == GcodeStyle::kFirmware) processed = evade_gcode_firmware(processed, firmware, seed);
  write_text(path, processed);
}

void write_mesh_file(const Mesh& m, Writer w, const std::string& path) {
  const std::string tmp = temp_name(path);
  try {
    switch (w) {
      case Writer::kStlBinary: write_stl_binary(m, tmp); break;
      case Writer::kStlAscii: write_stl_ascii(m, tmp); break;
      case Writer::kObj: write_obj(m, tmp); break;
      case Writer::k3mf: write_3mf(m, tmp); break;
      case Writer::kGlb: write_glb(m, tmp); break;
      case Writer::kGcode:
      case Writer::kGcodeStripped:
      case Writer::kGcodeEvasive:
      case Writer::kGcodeFirmware: throw std::logic_error("G-code is written by slice_to_gcode");
    }
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw std::runtime_error(path + ": rename failed: " + ec.message());
  }
}

// Tags of the sub-seeds one variant uses.
constexpr uint64_t kTagTransform = 1;
constexpr uint64_t kTagRigid = 2;
constexpr uint64_t kTagAxis = 3;

// Makes the variant mesh. Throws on failure (the caller records the reason).
Mesh make_variant(const VariantRequest& req, uint64_t seed, std::string* note) {
  const Mesh& ref = *req.reference;
  const uint64_t s_tr = variants::derive_seed(seed, kTagTransform);
  auto rigid = [&](const Mesh& m) { return variants::random_rigid(m, variants::derive_seed(seed, kTagRigid)); };
  auto boolean = [&](variants::BooleanVariant b) {
    if (b.how != variants::Combine::kBoolean) *note = "overlapping fallback: " + b.fallback_reason;
    return rigid(b.mesh);
  };
  switch (req.cls) {
    case VariantClass::kRigid:
      return rigid(ref);
    case VariantClass::kScale:
      return rigid(variants::random_scale(ref, s_tr));
    case VariantClass::kMirror: {
      variants::VariantRng rng(variants::derive_seed(seed, kTagAxis));
      return rigid(variants::mirror(ref, static_cast<int>(rng.below(3))));
    }
    case VariantClass::kRemesh:
      if (req.k == 0) return rigid(variants::remesh_random(ref, s_tr));
      if (req.k == 1) return rigid(variants::decimate(ref, kDecimateFraction));
      return rigid(variants::subdivide_midpoint(ref, 1));
    case VariantClass::kSmooth:
      // Loop subdivision moves the surface as well as refining it: on coarse CAD meshes it rounds
      // every sharp edge (surface points move up to ~5% of the diagonal), so it is a shape change
      // of its own, reported apart from the tessellation-only remesh class.
      return rigid(variants::subdivide_loop(ref, 1));
    case VariantClass::kNoise:
      // Noise first: its sigma is relative to the reference's own bounding box.
      return rigid(variants::gaussian_noise(ref, variants::kDefaultNoiseFraction, s_tr));
    case VariantClass::kFormat:
      return rigid(ref);
    case VariantClass::kPlate: {
      if (req.companions.empty()) throw std::runtime_error("no benign companion models for the plate");
      std::vector<Mesh> others;
      for (const Mesh* m : req.companions) others.push_back(*m);
      return variants::place_on_plate(ref, others, s_tr).mesh;
    }
    case VariantClass::kSplit:
      return rigid(variants::split_by_planes(ref, req.k == 0 ? 1 : 2, s_tr, kSplitGapMm));
    case VariantClass::kEmbedded:
      return boolean(variants::embed_in_block(ref, s_tr));
    case VariantClass::kEdit:
      return boolean(req.k == 0 ? variants::add_through_hole(ref, s_tr) : variants::add_boss(ref, s_tr));
    case VariantClass::kGcode:
    case VariantClass::kGcodeStripped:
    case VariantClass::kGcodeEvasive:
    case VariantClass::kGcodeFirmware:
      // The part as designed (resting on the bed the way its author exported it); the slicer turns
      // it about Z (get() passes the angle) and centres it.
      return ref;
  }
  throw std::runtime_error(std::string("class ") + info(req.cls).name + " is not generated: " +
                           (info(req.cls).not_run ? info(req.cls).not_run : "unknown"));
}

uint64_t compute_fingerprint() {
  uint64_t h = fnv1a("generator-fingerprint");
  Mesh probe, companion;
  try {
    probe = shapes::l_bracket({});
    companion = shapes::cylinder(10, 20, 32);
  } catch (const std::exception& e) {
    return fnv1a(e.what(), h);
  }
  VariantRequest req;
  req.run_seed = 12345;
  req.reference_name = "probe";
  req.reference = &probe;
  req.companions = {&companion};
  req.companion_names = {"companion"};
  for (const VariantClassInfo& ci : kClasses) {
    // gcode-firmware makes its mesh as the other G-code classes do (the reference itself), so it
    // adds nothing here; left out, the caches of runs before it was added stay valid.
    if (ci.not_run || ci.cls == VariantClass::kGcodeFirmware) continue;
    for (int k = 0; k < ci.count; ++k) {
      req.cls = ci.cls;
      req.k = k;
      std::string note;
      try {
        const Mesh m = make_variant(req, variant_seed(req.run_seed, req.reference_name, ci.cls, k), &note);
        const std::vector<uint8_t> stl = to_stl_binary(m);
        h = fnv1a(std::string_view(reinterpret_cast<const char*>(stl.data()), stl.size()), h);
        h = mesh_hash(m, h);
      } catch (const std::exception& e) {
        h = fnv1a(e.what(), h);
      }
      h = fnv1a(note, h);
    }
  }
  return h;
}

}  // namespace

uint64_t generator_fingerprint() {
  static std::once_flag once;
  static uint64_t value = 0;
  std::call_once(once, [] { value = compute_fingerprint(); });
  return value;
}

std::span<const VariantClassInfo> variant_classes() { return kClasses; }

const VariantClassInfo* find_variant_class(std::string_view name) {
  for (const VariantClassInfo& i : kClasses)
    if (name == i.name) return &i;
  return nullptr;
}

std::string variant_name(VariantClass cls, int k) {
  switch (cls) {
    case VariantClass::kRemesh: return k == 0 ? "remesh/isotropic" : k == 1 ? "remesh/decimate-30" : "remesh/subdivide-1";
    case VariantClass::kSmooth: return "smooth/loop-1";
    case VariantClass::kFormat:
      return k == 0 ? "format/stl-ascii" : k == 1 ? "format/obj" : k == 2 ? "format/3mf" : "format/glb";
    case VariantClass::kSplit: return k == 0 ? "split/1-plane" : "split/2-planes";
    case VariantClass::kEdit: return k == 0 ? "edit/through-hole" : "edit/boss-3mm";
    case VariantClass::kGcodeFirmware: return std::string("gcode-firmware/") + kFirmwareNames[k & 3];
    default: break;
  }
  const VariantClassInfo& i = info(cls);
  return i.count > 1 ? std::string(i.name) + "/" + std::to_string(k) : std::string(i.name);
}

uint64_t variant_seed(uint64_t run_seed, std::string_view reference_name, VariantClass cls, int k) {
  uint64_t s = derive_seed(run_seed, fnv1a(reference_name));
  s = derive_seed(s, static_cast<uint64_t>(cls));
  return derive_seed(s, static_cast<uint64_t>(k));
}

VariantCache::VariantCache(std::string dir) : dir_(std::move(dir)) {
  generator_fingerprint();  // once, before parallel use
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_, ec))
    throw std::runtime_error(dir_ + ": cannot create the variant cache folder");
}

VariantOutcome VariantCache::get(const VariantRequest& req) const {
  VariantOutcome out;
  if (!req.reference) {
    out.reason = "no reference mesh";
    return out;
  }
  const VariantClassInfo& ci = info(req.cls);
  if (ci.not_run) {
    out.reason = ci.not_run;
    return out;
  }
  if (req.k < 0 || req.k >= ci.count) {
    out.reason = "variant index out of range";
    return out;
  }
  const uint64_t seed = variant_seed(req.run_seed, req.reference_name, req.cls, req.k);

  // Cache key: everything the output depends on.
  uint64_t key = fnv1a(kVariantCacheVersion);
  key = derive_seed(key, generator_fingerprint());
  key = fnv1a(std::to_string(req.run_seed) + "/" + req.reference_name + "/" + ci.name + "/" + std::to_string(req.k), key);
  key = mesh_hash(*req.reference, key);
  for (size_t i = 0; i < req.companions.size(); ++i) {
    key = fnv1a(i < req.companion_names.size() ? req.companion_names[i] : std::string("?"), key);
    if (req.companions[i]) key = mesh_hash(*req.companions[i], key);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key));
  const Writer w = writer_of(req.cls, req.k);
  const std::string base = (std::filesystem::path(dir_) / (safe_stem(req.reference_name) + "." + ci.name + "." +
                                                           std::to_string(req.k) + "." + hex))
                               .string();
  const std::string path = base + extension(w), fail_path = base + ".fail", note_path = base + ".note";

  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec) && std::filesystem::file_size(path, ec) > 0 && !ec) {
    out.ok = true;
    out.cache_hit = true;
    out.path = path;
    read_text(note_path, &out.note);
    return out;
  }
  if (read_text(fail_path, &out.reason)) {
    out.cache_hit = true;
    return out;
  }

  // A transform failure is a property of the reference and is cached; a write failure (disk full,
  // permissions) is not.
  Mesh m;
  std::string reason;
  try {
    m = make_variant(req, seed, &out.note);
    if (m.triangles.empty()) reason = "transform produced an empty mesh";
  } catch (const std::exception& e) {
    reason = e.what();
    if (reason.empty()) reason = "transform failed without a message";
  } catch (...) {
    reason = "transform failed with an unknown exception";
  }
  if (!reason.empty()) {
    for (char& c : reason)
      if (c == '\n' || c == '\r') c = ' ';
    out.reason = reason;
    out.note.clear();
    try {
      write_text(fail_path, reason);
    } catch (const std::exception&) {
      // Not cached; the failure is still reported.
    }
    return out;
  }
  try {
    if (is_gcode_writer(w)) {
      variants::VariantRng rng(variants::derive_seed(seed, kTagAxis));
      const GcodeStyle style = w == Writer::kGcode           ? GcodeStyle::kAsSliced
                               : w == Writer::kGcodeStripped ? GcodeStyle::kStripped
                               : w == Writer::kGcodeEvasive  ? GcodeStyle::kEvasive
                                                             : GcodeStyle::kFirmware;
      const Firmware firmware = kFirmwareOf[req.k & 3];
      try {
        slice_to_gcode(m, rng.uniform() * 360.0, style, firmware, variants::derive_seed(seed, kTagRigid), path);
      } catch (const std::runtime_error& e) {
        // A part the slicer refuses is a property of the part: cached like a transform failure,
        // except a missing slicer, which is not.
        out.reason = e.what();
        if (out.reason.find("not installed") == std::string::npos) write_text(fail_path, out.reason);
        return out;
      }
    } else {
      write_mesh_file(m, w, path);
    }
    if (!out.note.empty()) write_text(note_path, out.note);
  } catch (const std::exception& e) {
    out.reason = std::string("write failed: ") + e.what();
    out.note.clear();
    return out;
  }
  out.ok = true;
  out.path = path;
  return out;
}

}  // namespace s3d::eval
