#include "engine/scan.h"

#include <chrono>
#include <exception>

#include "engine/input.h"
#include "engine/matcher.h"
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

namespace {
using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Formats that are not 3D data at all are skipped; formats we recognise but cannot screen yet
// are errors, so that a gateway never lets them through as clean.
bool is_not_3d(Format f) { return f == Format::kUnknown; }
}  // namespace

static ScanResult finish(LoadedInput in, const Matcher& matcher, Clock::time_point t0) {
  ScanResult r;
  r.path = std::move(in.path);
  r.sha256 = std::move(in.sha256);
  r.format = in.format;
  if (!in.ok()) {
    r.verdict = (is_not_3d(in.format) && in.error_code == ErrorCode::kUnsupported) ? Verdict::kSkipped : Verdict::kError;
    r.error = std::move(in.error);
    r.elapsed_ms = ms_since(t0);
    return r;
  }
  try {
    MatchOutcome m = matcher.match(*in.mesh, r.sha256);
    r.verdict = m.verdict;
    r.score = m.best_score;
    r.bodies = m.bodies;
    r.matches = std::move(m.matches);
  } catch (const std::exception& e) {
    r.verdict = Verdict::kError;
    r.error = one_line(std::string("internal error while matching: ") + e.what());
  }
  r.elapsed_ms = ms_since(t0);
  return r;
}

ScanResult Engine::scan_file(const std::string& path) const {
  const auto t0 = Clock::now();
  ReadOptions opt;
  opt.limits = settings_.limits;
  return finish(load_input(InputFile{path}, opt), *matcher_, t0);
}

ScanResult Engine::scan_bytes(std::span<const uint8_t> data, const std::string& name) const {
  const auto t0 = Clock::now();
  ReadOptions opt;
  opt.limits = settings_.limits;
  return finish(load_input_bytes(data, name, opt), *matcher_, t0);
}

ScanResult Engine::scan_mesh(const Mesh& mesh, const std::string& name) const {
  const auto t0 = Clock::now();
  LoadedInput in;
  in.path = name;
  in.mesh = mesh;
  return finish(std::move(in), *matcher_, t0);
}

}  // namespace s3d
