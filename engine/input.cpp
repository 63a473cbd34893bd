#include "engine/input.h"

#include <algorithm>
#include <exception>
#include <new>
#include <utility>

#include "engine/sha256.h"
#include "geometry/file_bytes.h"
#include "geometry/load.h"

namespace s3d {
namespace {

void set_error(LoadedInput& out, std::optional<ErrorCode> code, std::string_view what) {
  out.mesh.reset();
  out.prints.clear();
  out.notes.clear();
  out.error_code = code;
  out.error = one_line(what);
  if (out.error.empty()) out.error = "unknown error";
}

// Runs `body` and records whatever it throws in `out`.
template <typename Body>
void guarded(LoadedInput& out, Body&& body) {
  try {
    body();
  } catch (const LoadError& e) {
    set_error(out, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    set_error(out, std::nullopt, "out of memory while reading");
  } catch (const std::exception& e) {
    set_error(out, std::nullopt, std::string("internal error: ") + e.what());
  } catch (...) {
    set_error(out, std::nullopt, "internal error: unknown exception");
  }
}

bool is_gcode(Format f) { return f == Format::kGcode || f == Format::kGcode3mf || f == Format::kBgcode; }

// The digests of the input, 8 MiB at a time between stop checks (hashing a file of gigabytes takes
// seconds; the digests are the same as hashing it at once).
Digests hash_input(std::span<const uint8_t> data, const Limits& limits, bool md5_sha1) {
  constexpr size_t kChunk = size_t{8} << 20;
  DigestStream h(md5_sha1);
  for (size_t off = 0;; off += kChunk) {
    check_stop(limits);
    if (off >= data.size()) break;
    h.update(data.subspan(off, std::min(kChunk, data.size() - off)));
  }
  return h.final_hex();
}

void read_bytes(LoadedInput& out, std::span<const uint8_t> data, const ReadOptions& opt, bool read_gcode,
                std::string known_sha256, bool md5_sha1) {
  if (known_sha256.empty() || md5_sha1) {
    Digests d = hash_input(data, opt.limits, md5_sha1);
    out.sha256 = known_sha256.empty() ? std::move(d.sha256) : std::move(known_sha256);
    out.md5 = std::move(d.md5);
    out.sha1 = std::move(d.sha1);
  } else {
    out.sha256 = std::move(known_sha256);
  }
  out.format = detect_format(data);
  if (read_gcode && is_gcode(out.format)) {
    out.prints = gcode::read_prints(data, out.format, opt.limits);
    out.notes = gcode_notes(out.prints);
    return;
  }
  LoadedModel model = load_model(data, opt);
  out.format = model.format;
  out.notes = model.mesh.notes;
  out.mesh = std::move(model.mesh);
}

}  // namespace

std::vector<std::string> gcode_notes(const std::vector<gcode::Print>& prints) {
  std::vector<std::string> notes;
  for (const gcode::Print& pr : prints) {
    const std::string where = pr.part.empty() ? "" : " in " + pr.part;
    if (pr.stats.transforms)
      notes.push_back("the G-code" + where +
                      " rotates, scales or skews its coordinates on the printer (G68 / M579 / M556 / M852 / SET_SKEW): "
                      "screened as printed");
    if (pr.stats.sets_axis_steps)
      notes.push_back("the G-code" + where +
                      " sets axis steps per mm (M92 X/Y/Z): followed relative to the values when printing began, X and Y "
                      "taken as equal; the printer's own values are unknown, so the part may print stretched along an axis");
  }
  return notes;
}

std::string one_line(std::string_view text) {
  std::string s(text);
  for (char& c : s)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return s;
}

LoadedInput load_input(const InputFile& in, const ReadOptions& opt, bool read_gcode, bool md5_sha1) {
  LoadedInput out;
  out.path = in.path;
  guarded(out, [&] {
    const FileBytes bytes(in.path, opt.limits);
    read_bytes(out, bytes.bytes(), opt, read_gcode, {}, md5_sha1);
  });
  // FileBytes refuses empty files before anything is hashed; their hash is still well defined.
  if (out.sha256.empty() && out.error_code == ErrorCode::kEmpty) out.sha256 = sha256_hex({});
  return out;
}

LoadedInput load_input_bytes(std::span<const uint8_t> data, std::string name, const ReadOptions& opt, bool read_gcode,
                             std::string known_sha256, bool md5_sha1) {
  LoadedInput out;
  out.path = std::move(name);
  guarded(out, [&] {
    if (data.size() > opt.limits.max_input_bytes)
      throw LoadError(ErrorCode::kLimitExceeded, "input size " + std::to_string(data.size()) +
                                                     " bytes exceeds the max_input_bytes limit of " +
                                                     std::to_string(opt.limits.max_input_bytes));
    read_bytes(out, data, opt, read_gcode, std::move(known_sha256), md5_sha1);
  });
  return out;
}

}  // namespace s3d
