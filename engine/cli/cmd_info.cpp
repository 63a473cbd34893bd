// `screen3d info [--json] FILE...`: geometry facts per file. Files are processed in parallel and
// reported in input order; every file is processed even after errors.
#include <tbb/parallel_pipeline.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "engine/cli/command.h"
#include "engine/info.h"
#include "engine/input.h"
#include "geometry/mesh_facts.h"

namespace s3d::cli {
namespace {

struct InfoOptions {
  bool json = false;
  std::vector<std::string> files;
  Limits limits;
};

struct Report {
  std::string out;      // for stdout
  std::string path;     // for the diagnostic
  std::string error;    // empty when fine
};

Report info_one(const std::string& path, const ReadOptions& opt, bool json) {
  Report r;
  r.path = path;
  try {
    LoadedInput in = load_input(InputFile{path}, opt, /*read_gcode=*/true);
    MeshFacts facts;
    const bool ok = compute_input_facts(in, facts);
    in.mesh.reset();
    r.error = in.error;
    if (json)
      r.out = info_json_line(in, ok ? &facts : nullptr) + "\n";
    else if (ok)
      r.out = info_text(in, &facts);
  } catch (const std::exception& e) {
    // Rendering failed (out of memory): still one diagnostic, no partial output.
    r.out.clear();
    r.error = one_line(std::string("internal error: ") + e.what());
  }
  return r;
}

int run_info(const InfoOptions& o) {
  ReadOptions opt;
  opt.limits = o.limits;
  const size_t n = o.files.size();
  bool any_error = false;
  size_t next = 0;
  // Bounded in-flight work: at most a few meshes are held at once, output streams in input order.
  const size_t tokens = static_cast<size_t>(std::max(1, tbb::this_task_arena::max_concurrency())) * 2;
  const auto source = [&](tbb::flow_control& fc) -> size_t {
    if (next >= n) {
      fc.stop();
      return 0;
    }
    return next++;
  };
  const auto work = [&](size_t i) { return std::make_shared<Report>(info_one(o.files[i], opt, o.json)); };
  const auto sink = [&](const std::shared_ptr<Report>& r) {
    if (!r->error.empty()) {
      any_error = true;
      diagnose(r->path, r->error);
    }
    if (!r->out.empty()) write_out(r->out);
  };
  tbb::parallel_pipeline(
      tokens, tbb::make_filter<void, size_t>(tbb::filter_mode::serial_in_order, source) &
                  tbb::make_filter<size_t, std::shared_ptr<Report>>(tbb::filter_mode::parallel, work) &
                  tbb::make_filter<std::shared_ptr<Report>, void>(tbb::filter_mode::serial_in_order, sink));
  return any_error ? kExitError : kExitOk;
}

}  // namespace

void register_info(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<InfoOptions>();
  CLI::App* sub = app.add_subcommand("info", "Geometry facts of each file: format, triangles, bodies, area, "
                                             "volume, bounding boxes, watertight.");
  sub->add_flag("--json", o->json, "One JSON object per file per line");
  sub->add_option("--max-bytes", o->limits.max_input_bytes, "Largest input file read, in bytes")
      ->capture_default_str();
  sub->add_option("--max-triangles", o->limits.max_triangles, "Most triangles read from one file")
      ->capture_default_str();
  sub->add_option("--max-decompressed", o->limits.max_decompressed_bytes,
                  "Most bytes decompressed from one archive (3MF, zip)")
      ->capture_default_str();
  sub->add_option("FILE", o->files, "Files to describe")->required();
  sub->callback([o, &ctx] { ctx.exit_code = run_info(*o); });
}

}  // namespace s3d::cli
