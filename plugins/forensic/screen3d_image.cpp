// screen3d-image: screens every file of disk images -- allocated and deleted, whatever their names,
// zip members included -- against a signature database, for examiners working on seized media.
//
//   screen3d-image [--db DB] [--json] [--threads N] [--no-deleted] [--all] IMAGE...
//
// Output follows contract.md's `scan --json` line, one per screened file, with the path
// "IMAGE!/p2/dir/a.stl" (p<N> only when the image has a partition table) and one added field,
// "image_file": where the file lies in the image (partition, file system, inode, deleted, size).
// Files that are not 3D are counted, not listed (--all lists them as skipped). A summary line per
// image goes to stderr. Exit status as `scan`: 1 any restricted/review, else 2 any error, else 0.
// Images are opened read-only; nothing is written next to them.
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/archive.h"
#include "engine/cli/command.h"
#include "engine/report_json.h"
#include "engine/scan.h"
#include "engine/version.h"
#include "plugins/forensic/disk_image.h"

#ifndef S3D_DEMO_DB_PATH
#define S3D_DEMO_DB_PATH ""
#endif

namespace s3d::forensic {
namespace {

using cli::diagnose;
using cli::write_out;

struct Options {
  std::string db;
  bool json = false;
  bool all = false;
  bool no_deleted = false;
  int threads = 0;
  std::vector<std::string> images;
  ScanSettings settings;
};

// A file taken from the image, waiting to be screened with the others of its batch.
struct Job {
  ImageFile where;             // bytes not valid here: the copy below holds them
  std::vector<uint8_t> bytes;
  std::vector<ScanResult> results;
};

struct Tally {
  uint64_t screened = 0, restricted = 0, review = 0, clean = 0, errors = 0, not_3d = 0;
};

// Whether a file too large to read whole could be a 3D file, from its first bytes and its size:
// a format recognised in the prefix (text formats, 3MF/zip, bgcode) or a binary STL whose triangle
// count matches the size. Such a file is reported as not screened; the others are not 3D.
bool could_be_3d(const ImageFile& f) {
  if (detect_format(f.bytes) != Format::kUnknown) return true;
  if (f.bytes.size() >= 84) {
    uint32_t n = 0;
    std::memcpy(&n, f.bytes.data() + 80, 4);
    if (84 + 50 * static_cast<uint64_t>(n) == f.size) return true;
  }
  return f.bytes.size() >= 4 && std::memcmp(f.bytes.data(), "PK\x03\x04", 4) == 0;
}

nlohmann::ordered_json where_json(const ImageFile& f) {
  nlohmann::ordered_json j;
  j["partition"] = f.partition >= 0 ? nlohmann::ordered_json(f.partition) : nlohmann::ordered_json(nullptr);
  j["file_system"] = f.file_system;
  j["fs_offset"] = f.fs_offset;
  j["inode"] = f.inode;
  j["deleted"] = f.deleted;
  j["size"] = f.size;
  return j;
}

class ImageScanner {
 public:
  ImageScanner(const Engine& engine, const Options& o) : engine_(engine), o_(o) {}

  // Screens one image; returns false when the image could not be walked (or only in part).
  bool scan(const std::string& image, Tally& t) {
    WalkOptions wo;
    wo.max_file_bytes = engine_.settings().limits.max_input_bytes;
    wo.deleted = !o_.no_deleted;
    WalkSummary sum;
    image_ = image;
    const std::string err = walk_disk_image(image, wo, [&](const ImageFile& f) { take(f); }, &sum);
    flush(t);
    std::string line = std::to_string(sum.file_systems) + " file system(s), " + std::to_string(sum.files) +
                       " files (" + std::to_string(sum.deleted) + " deleted; " + std::to_string(sum.reallocated) +
                       " deleted names whose metadata a live file reuses), " + std::to_string(t.screened) +
                       " screened: " + std::to_string(t.restricted) + " restricted, " + std::to_string(t.review) +
                       " review, " + std::to_string(t.clean) + " clean, " + std::to_string(t.errors) + " errors; " +
                       std::to_string(t.not_3d) + " not 3D";
    diagnose(image, line);
    if (!err.empty()) diagnose(image, err);
    return err.empty();
  }

  bool any_match() const { return any_match_; }
  bool any_error() const { return any_error_; }

 private:
  static constexpr size_t kBatchFiles = 256;
  static constexpr uint64_t kBatchBytes = 64ull << 20;

  void take(const ImageFile& f) {
    Job j;
    j.where = f;
    j.where.bytes = {};
    const std::string path = image_ + "!/" + f.path;
    if (!f.error.empty()) {
      j.results.push_back(unscreened_result(path, Verdict::kError, f.error));
    } else if (f.truncated) {
      if (could_be_3d(f))
        j.results.push_back(unscreened_result(path, Verdict::kError, "file of " + std::to_string(f.size) +
                                                   " bytes exceeds the max_input_bytes limit; not screened"));
      else
        j.results.push_back(unscreened_result(path, Verdict::kSkipped, "not a 3D file (larger than max_input_bytes, judged by its first bytes)"));
    } else {
      j.bytes.assign(f.bytes.begin(), f.bytes.end());
      batch_bytes_ += j.bytes.size();
    }
    batch_.push_back(std::move(j));
    if (batch_.size() >= kBatchFiles || batch_bytes_ >= kBatchBytes) flush(tally_);
  }

  // Screens the batch in parallel, then reports it in walk order.
  void flush(Tally& t) {
    tbb::parallel_for(size_t{0}, batch_.size(), [&](size_t i) {
      Job& j = batch_[i];
      if (!j.results.empty()) return;
      const std::string path = image_ + "!/" + j.where.path;
      if (j.bytes.empty()) {
        j.results.push_back(unscreened_result(path, Verdict::kSkipped, "empty file"));
        return;
      }
      try {
        scan_expanding_archives(engine_, j.bytes, path, j.results);
      } catch (const std::exception& e) {
        j.results.push_back(unscreened_result(path, Verdict::kError, std::string("internal error: ") + e.what()));
      }
    });
    for (const Job& j : batch_) {
      for (const ScanResult& r : j.results) {
        if (r.verdict == Verdict::kSkipped) {
          ++t.not_3d;
          if (!o_.all) continue;
        } else {
          ++t.screened;
        }
        switch (r.verdict) {
          case Verdict::kRestricted: ++t.restricted; any_match_ = true; break;
          case Verdict::kReview: ++t.review; any_match_ = true; break;
          case Verdict::kClean: ++t.clean; break;
          case Verdict::kError:
            ++t.errors;
            any_error_ = true;
            diagnose(r.path, r.error);
            break;
          default: break;
        }
        if (o_.json) {
          nlohmann::ordered_json line = scan_result_json(r);
          line["image_file"] = where_json(j.where);
          write_out(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
        } else {
          std::string text = scan_result_text(r);
          if (j.where.deleted)
            text += "  deleted file (inode " + std::to_string(j.where.inode) + ", " + j.where.file_system +
                    "), read from unallocated space\n";
          write_out(text);
        }
      }
    }
    batch_.clear();
    batch_bytes_ = 0;
    if (&t != &tally_) {  // the final flush of an image: add what earlier flushes counted
      t.screened += tally_.screened;
      t.restricted += tally_.restricted;
      t.review += tally_.review;
      t.clean += tally_.clean;
      t.errors += tally_.errors;
      t.not_3d += tally_.not_3d;
      tally_ = {};
    }
  }

  const Engine& engine_;
  const Options& o_;
  std::string image_;
  std::vector<Job> batch_;
  uint64_t batch_bytes_ = 0;
  Tally tally_;
  bool any_match_ = false, any_error_ = false;
};

int run(const Options& o) {
  std::string db = o.db;
  if (db.empty())
    if (const char* env = std::getenv("SCREEN3D_DB"); env && *env) db = env;
  if (db.empty()) db = S3D_DEMO_DB_PATH;
  if (db.empty()) {
    diagnose("screen3d-image", "no signature database: pass --db or set SCREEN3D_DB");
    return cli::kExitError;
  }
  std::unique_ptr<Engine> engine;
  try {
    engine = Engine::from_database(db, o.settings);
  } catch (const std::exception& e) {
    diagnose(db, e.what());
    return cli::kExitError;
  }
  std::unique_ptr<tbb::global_control> limit;
  if (o.threads > 0)
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, o.threads);
  ImageScanner scanner(*engine, o);
  bool image_error = false;
  for (const std::string& image : o.images) {
    Tally t;
    try {
      image_error |= !scanner.scan(image, t);
    } catch (const std::exception& e) {
      diagnose(image, std::string("internal error: ") + e.what());
      image_error = true;
    }
  }
  if (scanner.any_match()) return cli::kExitMatch;
  return (image_error || scanner.any_error()) ? cli::kExitError : cli::kExitOk;
}

}  // namespace
}  // namespace s3d::forensic

int main(int argc, char** argv) {
  using namespace s3d;
  forensic::Options o;
  CLI::App app{"screen3d-image: screens every file of disk images (allocated and deleted, zip members too) "
               "against a signature database.",
               "screen3d-image"};
  app.set_version_flag("--version", version_line());
  app.add_option("--db", o.db, "Signature database (default: $SCREEN3D_DB, then the demo database)");
  app.add_flag("--json", o.json, "One JSON object per screened file per line");
  app.add_option("--threads", o.threads, "Worker threads (default: all cores)");
  app.add_flag("--no-deleted", o.no_deleted, "Skip deleted files");
  app.add_flag("--all", o.all, "Also list the files that are not 3D (verdict skipped)");
  cli::add_screening_options(&app, o.settings);
  app.add_option("IMAGE", o.images, "Disk images: raw/dd, split raw, E01 and others libtsk reads")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? cli::kExitOk : cli::kExitError;
  }
  try {
    return forensic::run(o);
  } catch (const std::exception& e) {
    cli::diagnose("screen3d-image", std::string("internal error: ") + e.what());
    return cli::kExitError;
  }
}
