#include "engine/scan.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <optional>

#include "engine/input.h"
#include "engine/matcher.h"
#include "engine/sha256.h"
#include "signatures/database.h"

namespace s3d {

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kClean: return "clean";
    case Verdict::kReview: return "review";
    case Verdict::kRestricted: return "restricted";
    case Verdict::kError: return "error";
    case Verdict::kSkipped: return "skipped";
  }
  return "error";
}

Engine::Engine(std::vector<Signature> signatures, ScanSettings settings)
    : settings_(std::move(settings)), matcher_(std::make_unique<Matcher>(std::move(signatures), settings_.match)) {}

Engine::~Engine() = default;

std::unique_ptr<Engine> Engine::from_database(const std::string& db_path, ScanSettings settings) {
  const SignatureDb db = SignatureDb::open(db_path);
  std::vector<Signature> sigs;
  sigs.reserve(db.size());
  for (size_t i = 0; i < db.size(); ++i) sigs.push_back(db.get(i));
  return std::make_unique<Engine>(std::move(sigs), std::move(settings));
}

size_t Engine::signature_count() const { return matcher_->size(); }
size_t Engine::listed_file_count() const { return matcher_->known_file_count(); }

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Formats that are not 3D data at all are skipped; formats we recognise but cannot screen yet
// are errors, so that a gateway never lets them through as clean.
bool is_not_3d(Format f) { return f == Format::kUnknown; }

// The extension of the last path component ("a.zip!/b/Part.STL" -> "stl"), lower-case, when it is
// one that printers and slicers take as 3D data; empty otherwise.
std::string extension_3d(const std::string& path) {
  const size_t slash = path.find_last_of("/\\");
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  const size_t dot = name.find_last_of('.');
  if (dot == std::string::npos || dot == 0) return {};
  std::string ext = name.substr(dot + 1);
  for (char& c : ext) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  // (Not ".g": RepRapFirmware macros use it, but so do grammar files and much else on a seized drive.)
  for (const char* known : {"stl", "obj", "ply", "off", "amf", "3mf", "gcode", "gco", "bgcode", "step", "stp", "igs", "iges", "gltf", "glb"})
    if (ext == known) return ext;
  return {};
}
}  // namespace

ScanResult unscreened_result(const std::string& path, Verdict v, const std::string& why, Format f) {
  ScanResult r;
  r.path = path;
  r.format = f;
  r.verdict = v;
  r.error = why;
  return r;
}

// A mesh that matched nothing at its own size is tried once more at each unit factor that brings it
// to some reference's size (a part exported in inches or metres, or a millimetre part read as one:
// slicers offer to convert such a file on import, so its size alone must not hide it). A match found
// that way is `review` at most -- the file as it stands prints at another size -- with a note naming
// the factor; its scale and transform are those of the file as given.
static void match_in_other_units(const Mesh& mesh, const Matcher& matcher, MatchOutcome& m,
                                 std::vector<std::string>& notes, const StopToken* stop) {
  if (mesh.vertices.empty()) return;
  Vec3f lo = mesh.vertices[0], hi = lo;
  for (const Vec3f& v : mesh.vertices)
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], v[a]);
      hi[a] = std::max(hi[a], v[a]);
    }
  const double diag = std::sqrt(double(hi[0] - lo[0]) * (hi[0] - lo[0]) + double(hi[1] - lo[1]) * (hi[1] - lo[1]) +
                                double(hi[2] - lo[2]) * (hi[2] - lo[2]));
  for (const double u : matcher.unit_factors_for(diag)) {
    Mesh scaled = mesh;
    for (Vec3f& v : scaled.vertices)
      for (float& c : v) c = static_cast<float>(c * u);
    MatchOutcome mu = matcher.match(scaled, {}, stop);
    if (mu.verdict == Verdict::kClean) continue;
    for (MatchEvidence& e : mu.matches) {
      e.scale /= u;
      for (double& t : e.transform) t /= u;  // file = scaled / u, rotation and translation alike
    }
    mu.verdict = Verdict::kReview;
    m = std::move(mu);
    const char* what = u == 25.4 ? " (inches to millimetres)" : u == 1000.0 ? " (metres to millimetres)" : "";
    char factor[32];
    std::snprintf(factor, sizeof factor, "%.4g", u);
    notes.push_back(std::string("matches only with its units converted, coordinates x") + factor + what +
                    ", as slicers offer to convert such a file on import: review");
    return;
  }
}

// The matcher's view of a reconstructed print.
static SampledInput sampled_input(const gcode::PrintSample& p) {
  SampledInput s;
  s.sample = p.sample;
  s.body_area = p.body_area;
  s.bodies = p.bodies;
  return s;
}

static ScanResult screen_loaded(LoadedInput in, const Matcher& matcher, Clock::time_point t0, const StopToken& stop) {
  ScanResult r;
  r.path = std::move(in.path);
  r.sha256 = std::move(in.sha256);
  r.md5 = std::move(in.md5);
  r.sha1 = std::move(in.sha1);
  r.format = in.format;
  if (!in.ok()) {
    r.verdict = (is_not_3d(in.format) && in.error_code == ErrorCode::kUnsupported) ? Verdict::kSkipped : Verdict::kError;
    r.error = std::move(in.error);
    // Content we do not recognise under a name that printers take as 3D data (".stl", ".gcode", ...)
    // is an error, not "not a 3D file": a slicer or printer may still read it, and a gateway must
    // decide by its error policy rather than pass it as skipped.
    if (r.verdict == Verdict::kSkipped) {
      const std::string ext = extension_3d(r.path);
      if (!ext.empty()) {
        r.verdict = Verdict::kError;
        r.error += " (the name ends in ." + ext + ", a 3D file type: not screened)";
      }
    }
    r.elapsed_ms = ms_since(t0);
    return r;
  }
  r.notes = std::move(in.notes);
  try {
    stop.check();
    if (!in.prints.empty()) {
      // G-code: each print (a plate of a .gcode.3mf) is screened; the worst verdict stands.
      r.verdict = Verdict::kClean;
      uint32_t body_offset = 0;
      for (const gcode::Print& p : in.prints) {
        MatchOutcome m = matcher.match_sample(sampled_input(p.sample), &stop);
        if (m.verdict == Verdict::kRestricted || (m.verdict == Verdict::kReview && r.verdict == Verdict::kClean))
          r.verdict = m.verdict;
        r.score = std::max(r.score, m.best_score);
        for (MatchEvidence& e : m.matches) {
          for (uint32_t& b : e.bodies) b += body_offset;
          r.matches.push_back(std::move(e));
        }
        body_offset += m.bodies;
      }
      r.bodies = body_offset;
      std::stable_sort(r.matches.begin(), r.matches.end(),
                       [](const MatchEvidence& a, const MatchEvidence& b) { return a.score > b.score; });
    } else {
      MatchOutcome m = matcher.match(*in.mesh, r.sha256, &stop);
      if (m.verdict == Verdict::kClean) match_in_other_units(*in.mesh, matcher, m, r.notes, &stop);
      r.verdict = m.verdict;
      r.score = m.best_score;
      r.bodies = m.bodies;
      r.matches = std::move(m.matches);
    }
  } catch (const LoadError& e) {  // the time limit or a cancel request (StopToken)
    r.verdict = Verdict::kError;
    r.error = one_line(e.what());
    r.matches.clear();
    r.score = 0;
  } catch (const std::exception& e) {
    r.verdict = Verdict::kError;
    r.error = one_line(std::string("internal error while matching: ") + e.what());
  }
  r.elapsed_ms = ms_since(t0);
  return r;
}

// The listed-file signatures (sig add-hashes) whose digest is one of the file's.
static std::vector<MatchEvidence> listed_evidence(const Matcher& matcher, const std::string& sha256,
                                                  const std::string& md5, const std::string& sha1) {
  std::vector<MatchEvidence> out;
  for (const std::string* d : {&sha256, &md5, &sha1})
    if (std::optional<MatchEvidence> e = matcher.known_file(*d)) out.push_back(std::move(*e));
  return out;
}

// A listed file is restricted whatever its content: the listed evidence comes first, the shape
// matches (if any) after it, and what kept the file from being screened by shape (not 3D,
// unreadable, out of time) becomes a note.
static void mark_listed(ScanResult& r, std::vector<MatchEvidence> listed) {
  if (listed.empty()) return;
  if (r.verdict == Verdict::kError || r.verdict == Verdict::kSkipped) {
    std::string how = listed[0].method == "md5" ? "MD5" : listed[0].method == "sha1" ? "SHA-1" : "SHA-256";
    r.notes.push_back("not screened by shape (" + r.error + "): matched as a listed file by its " + how);
    r.error.clear();
  }
  r.verdict = Verdict::kRestricted;
  r.score = 1.0;
  r.matches.insert(r.matches.begin(), std::make_move_iterator(listed.begin()), std::make_move_iterator(listed.end()));
}

static ScanResult finish(LoadedInput in, const Matcher& matcher, Clock::time_point t0, const StopToken& stop) {
  std::vector<MatchEvidence> listed = listed_evidence(matcher, in.sha256, in.md5, in.sha1);
  ScanResult r = screen_loaded(std::move(in), matcher, t0, stop);
  mark_listed(r, std::move(listed));
  return r;
}

std::optional<ScanResult> Engine::scan_listed_container(std::span<const uint8_t> data, const std::string& name,
                                                        Format format) const {
  if (!matcher_->has_known_files()) return std::nullopt;
  const auto t0 = Clock::now();
  Digests d = digests_hex(data, matcher_->wants_md5_sha1());
  std::vector<MatchEvidence> listed = listed_evidence(*matcher_, d.sha256, d.md5, d.sha1);
  if (listed.empty()) return std::nullopt;
  ScanResult r;
  r.path = name;
  r.sha256 = std::move(d.sha256);
  r.md5 = std::move(d.md5);
  r.sha1 = std::move(d.sha1);
  r.format = format;
  mark_listed(r, std::move(listed));
  r.notes.push_back("an archive: its members are screened on their own lines");
  r.elapsed_ms = ms_since(t0);
  return r;
}

ScanResult Engine::scan_file(const std::string& path, const std::atomic<bool>* cancel) const {
  const auto t0 = Clock::now();
  const StopToken stop = stop_token(settings_.limits, cancel);
  ReadOptions opt;
  opt.limits = settings_.limits;
  opt.limits.stop = &stop;
  return finish(load_input(InputFile{path}, opt, true, matcher_->wants_md5_sha1()), *matcher_, t0, stop);
}

ScanResult Engine::scan_bytes(std::span<const uint8_t> data, const std::string& name, const std::string& known_sha256,
                              const std::atomic<bool>* cancel) const {
  const auto t0 = Clock::now();
  const StopToken stop = stop_token(settings_.limits, cancel);
  ReadOptions opt;
  opt.limits = settings_.limits;
  opt.limits.stop = &stop;
  return finish(load_input_bytes(data, name, opt, true, known_sha256, matcher_->wants_md5_sha1()), *matcher_, t0,
                stop);
}

ScanResult Engine::scan_mesh(const Mesh& mesh, const std::string& name) const {
  const auto t0 = Clock::now();
  LoadedInput in;
  in.path = name;
  in.mesh = mesh;
  in.notes = mesh.notes;
  return finish(std::move(in), *matcher_, t0, stop_token(settings_.limits, nullptr));
}

ScanResult Engine::scan_prints(std::vector<gcode::Print> prints, const std::string& name, Format format,
                               const std::string& sha256, const std::string& error) const {
  const auto t0 = Clock::now();
  LoadedInput in;
  in.path = name;
  in.format = format;
  in.sha256 = sha256;
  in.prints = std::move(prints);
  in.notes = gcode_notes(in.prints);
  if (!error.empty()) {
    in.prints.clear();
    in.error = error;
  } else if (in.prints.empty()) {
    in.error = "the G-code extrudes nothing (no layer with extrusion)";
  }
  return finish(std::move(in), *matcher_, t0, stop_token(settings_.limits, nullptr));
}

Verdict Engine::check_partial(const gcode::PrintSample& sample, double* score) const {
  const MatchOutcome m = matcher_->match_sample(sampled_input(sample));
  if (score) *score = m.best_score;
  return m.verdict;
}

}  // namespace s3d
