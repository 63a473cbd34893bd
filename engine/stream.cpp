#include "engine/stream.h"

#include <cstring>
#include <exception>
#include <new>
#include <optional>
#include <stdexcept>
#include <vector>

#include "engine/input.h"
#include "engine/sha256.h"
#include "geometry/formats/format.h"
#include "geometry/gcode/bgcode.h"
#include "geometry/gcode/gcode_reader.h"
#include "geometry/gcode/print_from_gcode.h"
#include "geometry/gcode/reconstruct.h"
#include "geometry/load_error.h"

namespace s3d {
namespace {

constexpr size_t kSniffBytes = 64 << 10;  // enough lines to tell G-code from anything else

enum class Mode { kSniff, kText, kBgcode, kBuffer, kFailed, kDone };

// Forwards layers to the reconstruction and counts them.
struct CountingSink final : gcode::ToolpathSink {
  gcode::Reconstructor* rec = nullptr;
  uint32_t layers = 0;
  void on_object(const gcode::ObjectLabel& label) override { rec->on_object(label); }
  void on_layer(gcode::Layer&& layer) override {
    ++layers;
    rec->on_layer(std::move(layer));
  }
};

}  // namespace

struct ScanStream::State {
  const Engine& engine;
  std::string name;
  StreamOptions opt;
  Sha256Stream sha;
  Mode mode = Mode::kSniff;
  Format format = Format::kUnknown;
  std::vector<uint8_t> buffer;  // sniffed prefix, or the whole input in buffer mode
  std::unique_ptr<gcode::Reconstructor> rec;
  CountingSink sink;
  std::unique_ptr<gcode::Reader> reader;
  std::unique_ptr<gcode::BgcodeDecoder> bgcode;
  std::string error;
  uint64_t fed = 0;
  uint32_t last_check = 0;
  Verdict early = Verdict::kClean;

  State(const Engine& e, std::string n, StreamOptions o) : engine(e), name(std::move(n)), opt(o) {}

  void fail(const std::string& why) {
    error = one_line(why);
    if (error.empty()) error = "unknown error";
    mode = Mode::kFailed;
    reader.reset();
    bgcode.reset();
    rec.reset();
    buffer.clear();
    buffer.shrink_to_fit();
  }

  void start_gcode(Format f) {
    format = f;
    gcode::ReconstructOptions ro;
    ro.max_cells_per_layer = opt.max_cells_per_layer;
    ro.seed = engine.settings().match.seed;
    ro.sample_budget = engine.settings().match.query_points;
    rec = std::make_unique<gcode::Reconstructor>(ro);
    sink.rec = rec.get();
    reader = std::make_unique<gcode::Reader>(sink);
    if (f == Format::kBgcode) {
      bgcode = std::make_unique<gcode::BgcodeDecoder>([this](std::string_view text) { reader->feed(text); },
                                                     engine.settings().limits);
      mode = Mode::kBgcode;
    } else {
      mode = Mode::kText;
    }
  }

  void push(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    if (mode == Mode::kBgcode)
      bgcode->feed(bytes);
    else
      reader->feed(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  }

  // Decides the mode from the sniffed prefix (or the whole input, when it is shorter).
  void decide() {
    const std::span<const uint8_t> head(buffer);
    Format f = Format::kUnknown;
    if (head.size() >= 4 && std::memcmp(head.data(), "GCDE", 4) == 0)
      f = Format::kBgcode;
    else if (!(head.size() >= 2 && head[0] == 'P' && head[1] == 'K'))
      f = detect_format(head);
    if (f == Format::kGcode || f == Format::kBgcode) {
      start_gcode(f);
      std::vector<uint8_t> prefix;
      prefix.swap(buffer);
      push(prefix);
    } else {
      mode = Mode::kBuffer;
      if (buffer.size() > opt.max_buffer_bytes) throw_buffer_limit();
    }
  }

  [[noreturn]] void throw_buffer_limit() const {
    throw LoadError(ErrorCode::kLimitExceeded, "this format cannot be screened as a stream and exceeds the stream buffer limit of " +
                                                   std::to_string(opt.max_buffer_bytes) + " bytes");
  }

  void maybe_check() {
    if (opt.check_every_layers == 0 || early == Verdict::kRestricted || !rec) return;
    if (sink.layers < last_check + opt.check_every_layers) return;
    last_check = sink.layers;
    if (engine.check_partial(rec->snapshot()) == Verdict::kRestricted) early = Verdict::kRestricted;
  }

  template <typename Body>
  void guarded(Body&& body) {
    try {
      body();
    } catch (const LoadError& e) {
      fail(e.what());
    } catch (const std::bad_alloc&) {
      fail("out of memory while reading");
    } catch (const std::logic_error&) {
      throw;
    } catch (const std::exception& e) {
      fail(std::string("internal error: ") + e.what());
    }
  }
};

ScanStream::ScanStream(const Engine& engine, std::string name, StreamOptions opt)
    : st_(std::make_unique<State>(engine, std::move(name), opt)) {}

ScanStream::~ScanStream() = default;

uint64_t ScanStream::bytes_fed() const { return st_->fed; }
uint32_t ScanStream::layers_seen() const { return st_->sink.layers; }

Verdict ScanStream::feed(std::span<const uint8_t> bytes) {
  State& s = *st_;
  if (s.mode == Mode::kDone) throw std::logic_error("ScanStream::feed after finish");
  s.sha.update(bytes);
  s.fed += bytes.size();
  s.guarded([&] {
    if (s.fed > s.engine.settings().limits.max_input_bytes)
      throw LoadError(ErrorCode::kLimitExceeded, "input exceeds the max_input_bytes limit of " +
                                                     std::to_string(s.engine.settings().limits.max_input_bytes));
    switch (s.mode) {
      case Mode::kSniff: {
        s.buffer.insert(s.buffer.end(), bytes.begin(), bytes.end());
        if (s.buffer.size() >= kSniffBytes) s.decide();
        break;
      }
      case Mode::kText:
      case Mode::kBgcode: s.push(bytes); break;
      case Mode::kBuffer:
        if (s.buffer.size() + bytes.size() > s.opt.max_buffer_bytes) s.throw_buffer_limit();
        s.buffer.insert(s.buffer.end(), bytes.begin(), bytes.end());
        break;
      case Mode::kFailed:
      case Mode::kDone: break;
    }
    s.maybe_check();
  });
  return s.early;
}

ScanResult ScanStream::finish() {
  State& s = *st_;
  if (s.mode == Mode::kDone) throw std::logic_error("ScanStream::finish called twice");
  const std::string sha = s.sha.final_hex();
  if (s.mode == Mode::kSniff) {
    if (s.buffer.empty()) {
      s.mode = Mode::kDone;
      return s.engine.scan_prints({}, s.name, Format::kUnknown, sha, "empty input (0 bytes)");
    }
    s.guarded([&] { s.decide(); });
  }
  ScanResult r;
  if (s.mode == Mode::kBuffer) {
    r = s.engine.scan_bytes(s.buffer, s.name, sha);  // hashed while streaming: not hashed twice
  } else if (s.mode == Mode::kFailed) {
    r = s.engine.scan_prints({}, s.name, s.format, sha, s.error);
  } else {
    std::vector<gcode::Print> prints;
    s.guarded([&] {
      if (s.bgcode) s.bgcode->finish();
      s.reader->finish();
      gcode::Print p;
      p.stats = s.reader->stats();
      p.sample = s.rec->finish();
      if (p.sample.layers > 0) prints.push_back(std::move(p));
    });
    r = s.engine.scan_prints(std::move(prints), s.name, s.format, sha, s.error);
  }
  // An early restricted verdict stands: the full file can only add material.
  if (s.early == Verdict::kRestricted && r.verdict != Verdict::kRestricted && r.verdict != Verdict::kError) r.verdict = Verdict::kRestricted;
  s.mode = Mode::kDone;
  s.reader.reset();
  s.bgcode.reset();
  s.rec.reset();
  s.buffer.clear();
  return r;
}

}  // namespace s3d
