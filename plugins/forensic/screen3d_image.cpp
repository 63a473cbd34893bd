// screen3d-image: screens every file of disk images -- allocated and deleted, whatever their names,
// zip members included -- against a signature database, for examiners working on seized media.
//
//   screen3d-image [--db DB] [--json] [--threads N] [--no-deleted] [--carve] [--all] [--report FILE [--hash-image]]
//                  [--stall-timeout S] [--image-timeout S] IMAGE...
//
// Output follows contract.md's `scan --json` line, one per screened file, with the path
// "IMAGE!/p2/dir/a.stl" (p<N> only when the image has a partition table) and one added field,
// "image_file": where the file lies in the image (partition, file system, inode, deleted, size).
// Files that are not 3D are counted, not listed (--all lists them as skipped). A summary line per
// image goes to stderr. Exit status as `scan`: 1 any restricted/review, else 2 any error, else 0.
// Images are opened read-only; nothing is written next to them.
//
// Each image is walked in a child process (this program run again as a worker for that image), so
// that a crash or a hang in libtsk on a hostile image costs that image only: the parent reports it,
// keeps what the worker had already reported, and goes on with the next image (--in-process turns
// this off; --image-timeout bounds a worker's time). A crash in one part of the walk (opening one
// file system, its directory walk, its carving), or a stall there past --stall-timeout, costs that
// part only: the next worker walks the rest.
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_group.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "engine/archive.h"
#include "engine/cli/command.h"
#include "engine/cli/worker.h"
#include "engine/report_json.h"
#include "engine/scan.h"
#include "engine/sha256.h"
#include "engine/version.h"
#include "plugins/forensic/disk_image.h"


namespace s3d::forensic {
namespace {

using cli::diagnose;
using cli::write_out;
using cli::run_worker;
using cli::make_worker_file;
using cli::worker_fault_point;
using cli::WorkerEnd;

struct Options {
  std::string db;
  bool json = false;
  bool all = false;
  bool no_deleted = false;
  bool hash_image = false;
  bool carve = false;
  std::string report;
  int threads = 0;
  bool in_process = false;
  double image_timeout = 0;  // seconds a worker may take for one image; 0: no limit
  double stall_timeout = 0;  // seconds a worker may go without progress; 0: no limit
  double progress = 0;       // seconds between progress lines on stderr; 0: none
  uint64_t worker_memory = cli::default_worker_memory_mib();  // each worker's data cap, MiB (0: none)
  std::vector<std::string> images;
  ScanSettings settings;
  // Worker mode (set by the parent, hidden from --help): screen images[worker_image] only and
  // stream the report records to worker_state.
  int worker_image = -1;
  std::string worker_state;
  // Resuming after a worker died: the first worker_skip files the walk offers are passed over (an
  // earlier worker reported them), and the next worker_careful are screened one at a time, each
  // announced first, so that a file that kills its process is known.
  uint64_t worker_skip = 0, worker_careful = 0;
  // Parts of the walk (WalkOptions::enter) in which an earlier worker died, as "INDEX:PART": the
  // worker passes over them, and the files after them take indexes from INDEX on (the first file
  // the dead worker did not report).
  std::vector<std::string> worker_skip_parts;
};

// A file taken from the image, waiting to be screened with the others of its batch.
struct Job {
  uint64_t index = 0;          // the walk's count of files offered before this one
  std::string path;            // "IMAGE!/dir/a.stl"
  ImageFile where;             // bytes not valid here: the copy below holds them
  std::vector<uint8_t> bytes;
  std::vector<ScanResult> results;
  bool unrecoverable = false;  // deleted, and its content could not be read
};

struct Tally {
  uint64_t screened = 0, restricted = 0, review = 0, clean = 0, errors = 0, not_3d = 0;
  uint64_t unrecoverable = 0;  // deleted files whose content cannot be read any more

  static constexpr const char* kNames[7] = {"screened", "restricted", "review", "clean", "errors", "not_3d",
                                            "deleted_unreadable"};
  uint64_t* field(int k) {
    uint64_t* f[7] = {&screened, &restricted, &review, &clean, &errors, &not_3d, &unrecoverable};
    return f[k];
  }
  // As report fields (the names above), and back.
  void put(nlohmann::ordered_json& j) {
    for (int k = 0; k < 7; ++k) j[kNames[k]] = *field(k);
  }
  void add(const nlohmann::ordered_json& j) {
    for (int k = 0; k < 7; ++k) *field(k) += j.value(kNames[k], uint64_t{0});
  }
  // The screening part of a summary line.
  std::string summary() const {
    return std::to_string(screened) + " screened: " + std::to_string(restricted) + " restricted, " +
           std::to_string(review) + " review, " + std::to_string(clean) + " clean, " + std::to_string(errors) +
           " errors; " + std::to_string(not_3d) + " not 3D; " + std::to_string(unrecoverable) +
           " deleted files unreadable";
  }
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
  j["carved"] = f.carved;
  if (f.carved) j["carved_partial"] = f.carved_partial;
  return j;
}

// SHA-256 of a whole file, read in 1 MiB pieces; null when it cannot be read.
nlohmann::ordered_json file_sha256(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return nullptr;
  Sha256Stream h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<size_t>(in.gcount());
    if (n) h.update({reinterpret_cast<const uint8_t*>(buf.data()), n});
  }
  if (in.bad()) return nullptr;
  return h.final_hex();
}

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char s[32];
  std::strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return s;
}

class ImageScanner {
 public:
  ImageScanner(const Engine& engine, const Options& o) : engine_(engine), o_(o) {}

  // Screens one image; returns false when the image could not be walked (or only in part).
  bool scan(const std::string& image) {
    WalkOptions wo;
    wo.max_file_bytes = engine_.settings().limits.max_input_bytes;
    wo.deleted = !o_.no_deleted;
    wo.carve = o_.carve;
    WalkSummary sum;
    image_ = image;
    tally_ = {};
    offered_ = 0;
    if (worker_) wo.enter = [this](const std::string& part) { return enter_part(part); };
    if (worker_ || o_.progress > 0)
      wo.progress = [this] {
        if (worker_) heartbeat();
        report_progress();
      };
    walk_started_ = last_progress_ = std::chrono::steady_clock::now();
    std::string err;
    try {
      err = walk_disk_image(image, wo, [&](const ImageFile& f) { take(f); }, &sum);
    } catch (...) {
      abandon();
      throw;
    }
    drain();
    const Tally& t = tally_;
    std::string line = std::to_string(sum.file_systems) + " file system(s), " + std::to_string(sum.files) +
                       " files (" + std::to_string(sum.deleted) + " deleted; " + std::to_string(sum.reallocated) +
                       " deleted names whose metadata a live file reuses), " + t.summary() +
                       (o_.carve ? "; carved " + std::to_string(sum.carved) + " (" + std::to_string(sum.carved_partial) +
                                       " G-code or OBJ cut short; " + std::to_string(sum.carve_dropped) +
                                       " candidates without an end)"
                                 : std::string());
    diagnose(image, line);
    if (!err.empty()) diagnose(image, err);
    if (!o_.report.empty()) {
      nlohmann::ordered_json j = image_entry(image, err);
      j["file_systems"] = sum.file_systems;
      j["files"] = sum.files;
      j["deleted"] = sum.deleted;
      j["reallocated_names"] = sum.reallocated;
      tally_.put(j);
      j["carved"] = o_.carve ? nlohmann::ordered_json(sum.carved) : nlohmann::ordered_json(nullptr);
      if (o_.carve) j["carved_partial"] = sum.carved_partial;
      record("image", j);
      images_.push_back(std::move(j));
    }
    return err.empty();
  }

  // An image's entry in the report, before its counts: path, size, SHA-256 (--hash-image), error.
  nlohmann::ordered_json image_entry(const std::string& image, const std::string& err) const {
    nlohmann::ordered_json j;
    j["path"] = image;
    std::error_code ec;
    const auto size = std::filesystem::file_size(image, ec);
    j["size"] = ec ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(size);
    j["sha256"] = o_.hash_image ? file_sha256(image) : nlohmann::ordered_json(nullptr);
    j["error"] = err.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(err);
    return j;
  }

  // The examiner's report (--report): tool and database identity, settings, times, each image's
  // counts (and SHA-256 with --hash-image), every restricted or review file, and the errors.
  nlohmann::ordered_json examiner_report(const std::string& db, const std::string& started) const {
    nlohmann::ordered_json r;
    r["tool"] = "screen3d-image";
    r["version"] = version_line();
    r["started"] = started;
    r["finished"] = utc_now();
    r["database"] = {{"path", db},
                     {"sha256", file_sha256(db)},
                     {"signatures", engine_.signature_count()},
                     {"listed_files", engine_.listed_file_count()}};  // of them, files known by a digest
    const MatchSettings& m = engine_.settings().match;
    r["settings"] = {{"restricted_threshold", m.restricted_threshold}, {"review_threshold", m.review_threshold},
                     {"min_scale", m.min_scale}, {"max_scale", m.max_scale},
                     {"max_bytes", engine_.settings().limits.max_input_bytes}, {"deleted_files", !o_.no_deleted}};
    r["images"] = images_;
    r["flagged"] = flagged_;
    r["errors"] = errors_;
    r["errors_not_listed"] = errors_not_listed_;
    return r;
  }

  bool any_match() const { return any_match_; }
  bool any_error() const { return any_error_; }

  // Worker side: every report record (flagged file, listed error, image counts) is also written to
  // `f` as one JSON line as soon as it is known, so a parent keeps them if the worker dies later.
  void stream_records(std::FILE* f) { records_ = f; }
  void set_worker() { worker_ = true; }
  // The worker's last record: it finished, with these outcomes.
  void finish_records(bool image_ok) {
    record("done", {{"ok", image_ok}, {"any_match", any_match_}, {"any_error", any_error_},
                    {"errors_not_listed", errors_not_listed_}});
  }

  // ---- parent side: one image screened by one or more workers --------------------------------

  // What one worker's records said.
  struct WorkerRecords {
    bool done = false, ok = false;
    uint64_t next = 0;              // the first file index it did not report
    std::string part;               // the part of the walk it entered last (WalkOptions::enter)
    bool pending = false;           // it announced a file ("begin") and died before reporting it
    nlohmann::ordered_json begin;   // that announcement: index, path, image_file
  };

  void begin_image() {
    image_tally_ = {};
    image_walk_ = nullptr;
    image_error_.clear();
    workers_ = 0;
  }

  // Takes in the records a worker streamed (it started at file index `skip`).
  WorkerRecords merge_worker(const std::string& state_path, uint64_t skip) {
    WorkerRecords w;
    w.next = skip;
    ++workers_;
    std::ifstream in(state_path, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::ordered_json rec;
      try {
        rec = nlohmann::ordered_json::parse(line);
      } catch (const std::exception&) {
        break;  // a record cut short by the worker's death
      }
      if (!rec.is_object() || rec.size() != 1) break;
      const auto it = rec.begin();
      const std::string kind = it.key();
      const nlohmann::ordered_json& v = it.value();
      if (kind == "flagged") {
        if (!o_.report.empty()) flagged_.push_back(v);
        any_match_ = true;
      } else if (kind == "error") {
        any_error_ = true;
        if (errors_.size() < kMaxListedErrors)
          errors_.push_back(v);
        else
          ++errors_not_listed_;
      } else if (kind == "file") {
        image_tally_.add(v);
        w.next = v.value("index", w.next) + 1;
        w.pending = false;
      } else if (kind == "begin") {
        w.pending = true;
        w.begin = v;
      } else if (kind == "part") {
        w.part = v.value("name", "");
      } else if (kind == "image") {
        image_walk_ = v;
      } else if (kind == "done") {
        w.done = true;
        w.ok = v.value("ok", false);
        any_match_ |= v.value("any_match", false);
        any_error_ |= v.value("any_error", false);
        errors_not_listed_ += v.value("errors_not_listed", uint64_t{0});
      }
    }
    return w;
  }

  // A file whose worker died while screening it (`begin`, its announcement): an error result in
  // walk order, counted and listed like any error.
  void crashed_file(const nlohmann::ordered_json& begin, const std::string& how) {
    const ScanResult r = unscreened_result(begin.value("path", image_), Verdict::kError,
                                           "not screened: the screening process " + how + " on this file");
    ++image_tally_.screened;
    ++image_tally_.errors;
    any_error_ = true;
    diagnose(r.path, r.error);
    const nlohmann::ordered_json where = begin.contains("image_file") ? begin["image_file"] : nlohmann::ordered_json(nullptr);
    if (o_.json) {
      nlohmann::ordered_json line = scan_result_json(r);
      line["image_file"] = where;
      write_out(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
    } else {
      write_out(scan_result_text(r));
    }
    if (!o_.report.empty()) {
      if (errors_.size() < kMaxListedErrors)
        errors_.push_back({{"path", r.path}, {"error", r.error}, {"image_file", where}});
      else
        ++errors_not_listed_;
    }
  }

  // The image could not be walked to its end (the walk itself died, or ran out of time).
  void image_stopped(const std::string& image, const std::string& how) {
    add_image_error(image, "the image walker " + how +
                               "; the files reported before this line were screened, the rest of the image was not");
  }

  // The walk died in `part` (a WalkOptions::enter name); the next worker passes over it.
  void part_stopped(const std::string& image, const std::string& part, const std::string& how) {
    add_image_error(image, "the image walker " + how + " in " + describe_part(part) +
                               "; the files of that part reported before this line were screened, the rest of that "
                               "part was not; the walk goes on with the rest of the image");
  }

  // "p2/:files" -> "the directory walk of p2/", and so on.
  static std::string describe_part(const std::string& part) {
    const size_t colon = part.rfind(':');
    const std::string where = colon == std::string::npos ? std::string() : part.substr(0, colon);
    const std::string what = colon == std::string::npos ? part : part.substr(colon + 1);
    const std::string of = where.empty() ? std::string(" of the image's file system") : " of " + where;
    if (what == "open") return "opening the file system" + (where.empty() ? std::string() : " of " + where);
    if (what == "files") return "the directory walk" + of;
    if (what == "carve") return "carving the free blocks" + of;
    return part;
  }

  // After the last worker of an image: a summary when it took more than one, and the report entry
  // (the walk's fields from the last worker that finished, the counts of all of them).
  void finish_image(const std::string& image) {
    const Tally& t = image_tally_;
    if (workers_ > 1)
      diagnose(image, "screened by " + std::to_string(workers_) + " worker processes (restarted after a crash); in all " +
                          t.summary());
    if (o_.report.empty()) return;
    nlohmann::ordered_json j = image_walk_.is_object() ? image_walk_ : image_entry(image, "");
    if (!image_error_.empty()) j["error"] = image_error_;
    image_tally_.put(j);
    images_.push_back(std::move(j));
  }

 private:
  static constexpr size_t kBatchFiles = 256;
  static constexpr uint64_t kBatchBytes = 64ull << 20;

  void add_image_error(const std::string& image, const std::string& why) {
    if (!image_error_.empty()) image_error_ += "; ";
    image_error_ += why;
    diagnose(image, why);
    any_error_ = true;
  }

  // Worker side, WalkOptions::enter: the part is recorded before libtsk works on it, so that the
  // parent knows where a worker that dies in the walk died; a part named by --worker-skip-part is
  // passed over.
  bool enter_part(const std::string& part) {
    record("part", {{"name", part}, {"index", offered_}});
    for (const std::string& s : o_.worker_skip_parts) {
      const size_t colon = s.find(':');
      if (colon == std::string::npos || s.compare(colon + 1, std::string::npos, part) != 0) continue;
      uint64_t index = 0;
      const auto r = std::from_chars(s.data(), s.data() + colon, index);
      if (r.ec == std::errc() && index > offered_) offered_ = index;
      return false;
    }
    return true;
  }

  // Worker side: a record at most once a second while the walk goes on, so that the parent's
  // --stall-timeout sees progress through long stretches without files to report (a large file
  // system's directories, carving, the files an earlier worker reported).
  // Any thread: the walk's, and the screening tasks' after each file (a batch of slow files after
  // the walk has ended is progress too).
  void heartbeat() const {
    {
      const std::lock_guard<std::mutex> lock(record_mu_);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_beat_ < std::chrono::seconds(1)) return;
      last_beat_ = now;
    }
    record("alive", {});
  }

  // --progress: a line on stderr every o_.progress seconds while the walk goes on (the walk's thread
  // only: it is the one that reports results, so the counts are its own).
  void report_progress() {
    if (!(o_.progress > 0)) return;
    const auto now = std::chrono::steady_clock::now();
    if (std::chrono::duration<double>(now - last_progress_).count() < o_.progress) return;
    last_progress_ = now;
    const Tally& t = tally_;
    char line[320];
    std::snprintf(line, sizeof line,
                  "walking: %llu files offered; %llu screened: %llu restricted, %llu review, %llu errors; %llu not 3D "
                  "(%.0f s)",
                  static_cast<unsigned long long>(offered_), static_cast<unsigned long long>(t.screened),
                  static_cast<unsigned long long>(t.restricted), static_cast<unsigned long long>(t.review),
                  static_cast<unsigned long long>(t.errors), static_cast<unsigned long long>(t.not_3d),
                  std::chrono::duration<double>(now - walk_started_).count());
    diagnose(image_, line);
  }

  void take(const ImageFile& f) {
    report_progress();
    if (worker_) {
      worker_fault_point(image_);  // the tests' stand-in for libtsk dying in the walk...
      worker_fault_point(image_ + "!/" + f.path + "#walk");  // ...and dying at one file of it
    }
    const uint64_t index = offered_++;
    if (index < o_.worker_skip) return;  // an earlier worker reported it
    Job j;
    j.index = index;
    j.where = f;
    j.where.bytes = {};
    j.path = image_ + "!/" + f.path;
    const std::string& path = j.path;
    if (!f.error.empty() && f.deleted) {
      // Most deleted files are not 3D, and the space of many is reused: listing each unreadable one
      // as an error would bury the findings, so they are counted (and listed with --all).
      j.results.push_back(unscreened_result(path, Verdict::kSkipped, f.error));
      j.unrecoverable = true;
    } else if (!f.error.empty()) {
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
    if (index - o_.worker_skip < o_.worker_careful) {  // one at a time, announced first
      record("begin", {{"index", index}, {"path", j.path}, {"image_file", where_json(j.where)}});
      std::vector<Job> one;
      one.push_back(std::move(j));
      batch_bytes_ = 0;
      screen(one);
      write_results(one);
      return;
    }
    batch_.push_back(std::move(j));
    if (batch_.size() >= kBatchFiles || batch_bytes_ >= kBatchBytes) launch();
  }

  // A batch being screened on TBB's threads while the walk goes on.
  struct Batch {
    std::vector<Job> jobs;
    tbb::task_group tasks;
  };

  // Starts screening the collected batch; reports the oldest batches in flight beyond kInFlight. A
  // batch's slowest files then overlap the next batch's work instead of idling the other threads,
  // and results still come out in walk order. Memory: at most kInFlight + 1 batches.
  void launch() {
    auto b = std::make_unique<Batch>();
    b->jobs = std::move(batch_);
    batch_.clear();
    batch_bytes_ = 0;
    Batch* raw = b.get();
    raw->tasks.run([this, raw] { screen(raw->jobs); });
    in_flight_.push_back(std::move(b));
    while (in_flight_.size() > kInFlight) report_oldest();
  }

  void report_oldest() {
    in_flight_.front()->tasks.wait();
    write_results(in_flight_.front()->jobs);
    in_flight_.pop_front();
  }

  // The end of an image: everything screened and reported.
  void drain() {
    if (!batch_.empty()) launch();
    while (!in_flight_.empty()) report_oldest();
  }

  // After a failed walk: waits for the batches in flight (their results are dropped).
  void abandon() {
    for (auto& b : in_flight_) {
      try {
        b->tasks.wait();
      } catch (...) {
      }
    }
    in_flight_.clear();
    batch_.clear();
    batch_bytes_ = 0;
  }

  // Screens the jobs in parallel (any thread; touches only the jobs and the engine).
  void screen(std::vector<Job>& jobs) const {
    tbb::parallel_for(size_t{0}, jobs.size(), [&](size_t i) {
      Job& j = jobs[i];
      if (!j.results.empty()) return;
      const std::string& path = j.path;
      if (j.bytes.empty()) {
        if (worker_) worker_fault_point(path);
        j.results.push_back(unscreened_result(path, Verdict::kSkipped, "empty file"));
        return;
      }
      try {
        if (worker_) worker_fault_point(path);
        scan_expanding_archives(engine_, j.bytes, path, j.results);
      } catch (const std::bad_alloc&) {
        j.results.clear();
        j.results.push_back(unscreened_result(path, Verdict::kError, cli::out_of_memory_reason()));
      } catch (const std::exception& e) {
        j.results.push_back(unscreened_result(path, Verdict::kError, std::string("internal error: ") + e.what()));
      }
      // A carved candidate that does not parse was most likely not a file at all (a signature in
      // free space, a fragmented file): not an error.
      if (j.where.carved)
        for (ScanResult& r : j.results)
          if (r.verdict == Verdict::kError) {
            r.verdict = Verdict::kSkipped;
            r.error = "carved candidate that does not parse: " + r.error;
          }
      std::vector<uint8_t>().swap(j.bytes);  // screened: its memory goes back now
      if (worker_) heartbeat();
    });
  }

  // Reports screened jobs in walk order (the calling thread only).
  void write_results(const std::vector<Job>& jobs) {
    Tally& t = tally_;
    for (const Job& j : jobs) {
      Tally before = t;
      for (const ScanResult& r : j.results) {
        if (r.verdict == Verdict::kSkipped) {
          ++(j.unrecoverable ? t.unrecoverable : t.not_3d);
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
        const bool flagged = r.verdict == Verdict::kRestricted || r.verdict == Verdict::kReview;
        if (o_.json || flagged) {
          nlohmann::ordered_json line = scan_result_json(r);
          line["image_file"] = where_json(j.where);
          if (o_.json) write_out(line.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n");
          if (flagged) {
            record("flagged", line);  // a worker's parent needs it for the exit status even without a report
            if (!o_.report.empty()) flagged_.push_back(std::move(line));
          }
        }
        if (!o_.report.empty() && r.verdict == Verdict::kError) {
          if (errors_.size() < kMaxListedErrors) {
            nlohmann::ordered_json e = {{"path", r.path}, {"error", r.error}, {"image_file", where_json(j.where)}};
            record("error", e);
            errors_.push_back(std::move(e));
          } else {
            ++errors_not_listed_;
          }
        }
        if (!o_.json) {
          std::string text = scan_result_text(r);
          if (j.where.carved)
            text += "  carved from unallocated space (" + j.where.file_system + "), no directory entry" +
                    (j.where.carved_partial ? "; its end was not found: screened as far as it goes\n" : "\n");
          else if (j.where.deleted)
            text += "  deleted file (inode " + std::to_string(j.where.inode) + ", " + j.where.file_system +
                    (j.unrecoverable ? "), content not recoverable\n" : "), read from unallocated space\n");
          write_out(text);
        }
      }
      if (records_) {  // the job is reported: the parent learns how far the worker got, and its counts
        Tally delta;
        for (int k = 0; k < 7; ++k) *delta.field(k) = *t.field(k) - *before.field(k);
        nlohmann::ordered_json rec = {{"index", j.index}};
        delta.put(rec);
        record("file", rec);
      }
    }
  }

  const Engine& engine_;
  const Options& o_;
  std::string image_;
  std::vector<Job> batch_;  // being collected
  uint64_t batch_bytes_ = 0;
  static constexpr size_t kInFlight = 2;
  std::deque<std::unique_ptr<Batch>> in_flight_;
  Tally tally_;  // of the image being walked
  uint64_t offered_ = 0;  // files the walk has offered so far
  bool any_match_ = false, any_error_ = false;
  static constexpr size_t kMaxListedErrors = 10000;  // the report's error list; the rest are counted
  nlohmann::ordered_json images_ = nlohmann::ordered_json::array();
  nlohmann::ordered_json flagged_ = nlohmann::ordered_json::array();
  nlohmann::ordered_json errors_ = nlohmann::ordered_json::array();
  uint64_t errors_not_listed_ = 0;
  std::FILE* records_ = nullptr;  // worker mode: where report records go (see stream_records)
  // Parent side, the image being screened by workers (begin_image .. finish_image).
  Tally image_tally_;
  nlohmann::ordered_json image_walk_;  // the last "image" record
  std::string image_error_;
  int workers_ = 0;
  std::chrono::steady_clock::time_point walk_started_, last_progress_;  // --progress
  mutable std::mutex record_mu_;  // records_ and last_beat_: heartbeats come from the screening tasks too
  mutable std::chrono::steady_clock::time_point last_beat_ = std::chrono::steady_clock::now();
  bool worker_ = false;  // a worker process: the test fault hook (worker.h) is armed

  void record(const char* kind, const nlohmann::ordered_json& v) const {
    if (!records_) return;
    nlohmann::ordered_json rec;
    rec[kind] = v;
    const std::string text = rec.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    const std::lock_guard<std::mutex> lock(record_mu_);
    std::fwrite(text.data(), 1, text.size(), records_);
    std::fflush(records_);
  }
};

// Runs this program again as the worker for image k: the same arguments, with the worker options
// in front of them (so a "--" among them changes nothing). Returns how it ended.
WorkerEnd run_image_worker(int argc, char** argv, size_t k, const std::string& state, const Options& o, uint64_t skip,
                           uint64_t careful, const std::vector<std::string>& skip_parts) {
  std::vector<std::string> args = {argv[0], "--worker-image", std::to_string(k), "--worker-state", state,
                                   "--worker-skip", std::to_string(skip), "--worker-careful", std::to_string(careful)};
  for (const std::string& p : skip_parts) {
    args.emplace_back("--worker-skip-part");
    args.push_back(p);
  }
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  // The state file grows with every record: the progress --stall-timeout watches.
  return run_worker(args, o.stall_timeout, o.stall_timeout > 0 ? state : std::string(), o.image_timeout);
}

std::unique_ptr<Engine> load_engine(const Options& o, std::string* db) {
  return cli::open_database("screen3d-image", o.db, o.settings, db);
}

// Worker mode: one image, its report records streamed to the state file.
int run_worker_mode(const Options& o) {
  cli::cap_worker_memory(o.worker_memory);
  if (o.worker_image < 0 || static_cast<size_t>(o.worker_image) >= o.images.size()) {
    diagnose("screen3d-image", "--worker-image is out of range");
    return cli::kExitError;
  }
  std::string db;
  const std::unique_ptr<Engine> engine = load_engine(o, &db);
  if (!engine) return cli::kExitError;
  const auto limit = cli::thread_limit(o.threads);
  std::FILE* records = std::fopen(o.worker_state.c_str(), "wb");
  if (!records) {
    diagnose(o.worker_state, "cannot write the worker's records");
    return cli::kExitError;
  }
  const std::string& image = o.images[static_cast<size_t>(o.worker_image)];
  ImageScanner scanner(*engine, o);
  scanner.stream_records(records);
  scanner.set_worker();
  bool ok = false;
  try {
    ok = scanner.scan(image);
  } catch (const std::exception& e) {
    diagnose(image, std::string("internal error: ") + e.what());
  }
  scanner.finish_records(ok);
  std::fclose(records);
  if (scanner.any_match()) return cli::kExitMatch;
  return (!ok || scanner.any_error()) ? cli::kExitError : cli::kExitOk;
}

int run(const Options& o, int argc, char** argv) {
  if (!o.worker_state.empty()) return run_worker_mode(o);
  std::string db;
  const std::unique_ptr<Engine> engine = load_engine(o, &db);
  if (!engine) return cli::kExitError;
  const auto limit = cli::thread_limit(o.threads);
  for (const std::string& image : o.images) {
    std::error_code ec;
    if (!o.report.empty() && std::filesystem::equivalent(image, o.report, ec)) {
      diagnose(o.report, "the report would overwrite an image given to screen; nothing done");
      return cli::kExitError;
    }
  }
  const std::string started = utc_now();
  ImageScanner scanner(*engine, o);
  bool image_error = false;
  for (size_t k = 0; k < o.images.size(); ++k) {
    const std::string& image = o.images[k];
    if (!o.in_process) {
      // Workers until one finishes the walk. After a worker dies, the next one passes over the files
      // already reported and screens the next kCareful one at a time, announcing each: if it dies on
      // one, that file becomes an error result and the one after starts the next worker. A worker
      // that dies between files (in libtsk's walk itself) costs the part of the walk it was in (a
      // file system's opening, directory walk or carving): the next one passes over that part and
      // walks the rest of the image. A worker that runs out of time, or dies in no known part (or
      // in one already passed over), ends the image.
      constexpr uint64_t kCareful = 3 * 256 + 1;  // the files a worker can have in hand (batches in flight)
      constexpr int kMaxWorkers = 1000;
      uint64_t skip = 0, careful = 0;
      std::vector<std::string> skip_parts, skipped;  // "INDEX:PART" for the workers, and the PARTs
      bool spawned = true;
      scanner.begin_image();
      for (int n = 1;; ++n) {
        const std::string state = make_worker_file("screen3d-image");
        if (state.empty()) {
          spawned = n > 1;
          break;
        }
        const WorkerEnd end = run_image_worker(argc, argv, k, state, o, skip, careful, skip_parts);
        if (!end.started) {
          std::error_code ec;
          std::filesystem::remove(state, ec);
          spawned = n > 1;
          if (spawned) {
            scanner.image_stopped(image, end.how);
            image_error = true;
          }
          break;
        }
        const auto w = scanner.merge_worker(state, skip);
        std::error_code ec;
        std::filesystem::remove(state, ec);
        if (w.done) {
          image_error |= !w.ok;
          break;
        }
        // Out of --image-timeout ends the image; a stall (--stall-timeout) is handled as a crash: the
        // file or the part of the walk it happened in is passed over.
        const bool out_of_time = end.timed_out && !end.stalled;
        const std::string how = out_of_time   ? end.how + " (--image-timeout)"
                                : end.stalled ? end.how + " (--stall-timeout)"
                                              : end.how;
        const bool in_careful = careful > 0 && w.next < skip + careful;  // it died within the careful files
        const uint64_t careful_end = skip + careful;
        if (!out_of_time && n < kMaxWorkers && in_careful && !w.pending && !w.part.empty() &&
            std::find(skipped.begin(), skipped.end(), w.part) == skipped.end()) {  // in the walk, in a known part
          scanner.part_stopped(image, w.part, how);
          image_error = true;
          skipped.push_back(w.part);
          skip_parts.push_back(std::to_string(w.next) + ":" + w.part);
          skip = w.next;
          careful = careful_end > skip ? careful_end - skip : 0;
          continue;
        }
        if (out_of_time || n >= kMaxWorkers || (in_careful && !w.pending)) {
          scanner.image_stopped(image, how);
          image_error = true;
          break;
        }
        if (in_careful) {  // it died on the file it announced
          scanner.crashed_file(w.begin, how);
          const uint64_t next = w.begin.value("index", skip) + 1;
          careful = careful_end > next ? careful_end - next : 0;
          skip = next;
        } else {
          skip = w.next;
          careful = kCareful;
        }
      }
      if (spawned) {
        scanner.finish_image(image);
        continue;
      }
      diagnose(image, "cannot start a worker process for this image; screening it in this process");
    }
    try {
      image_error |= !scanner.scan(image);
    } catch (const std::exception& e) {
      diagnose(image, std::string("internal error: ") + e.what());
      image_error = true;
    }
  }
  if (!o.report.empty()) {
    // Written beside, then renamed over the target: a reader never sees half a report.
    const std::string tmp = o.report + ".tmp";
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << scanner.examiner_report(db, started).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    out.close();
    std::error_code ec;
    if (!out || (std::filesystem::rename(tmp, o.report, ec), ec)) {
      std::filesystem::remove(tmp, ec);
      diagnose(o.report, "cannot write the report");
      return cli::kExitError;
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
  app.add_flag("--carve", o.carve, "Also cut STL, 3MF, zip, 7z and G-code files out of unallocated space (reads all free "
                                   "blocks, and as raw sectors space no file system describes: a wiped or unreadable "
                                   "file system, the gaps between partitions)");
  app.add_flag("--all", o.all, "Also list the files that are not 3D (verdict skipped)");
  app.add_option("--report", o.report, "Write an examiner's report (JSON): tool, database, settings, times, "
                                       "each image's counts, every flagged file, the errors");
  app.add_flag("--hash-image", o.hash_image, "Put each image's SHA-256 in the report (reads the image once more)");
  app.add_flag("--in-process", o.in_process, "Walk the images in this process (default: one worker process per "
                                            "image, so a crash or hang on a hostile image costs that image only)");
  app.add_option("--image-timeout", o.image_timeout, "Seconds a worker may spend on one image before it is stopped "
                                                     "and the image reported as not screened whole (default: no limit)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--stall-timeout", o.stall_timeout,
                 "Seconds a worker may go without progress (a file reported, a part of the walk begun, or a "
                 "second of walking or screening) before it is stopped; the file or the part of the walk it was in is "
                 "reported and the walk goes on (default: no limit; set it above the time the largest file "
                 "takes to read and screen)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--progress", o.progress, "Print a progress line to stderr every SECONDS while an image is "
                                          "walked: files offered, and the counts so far (default: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--worker-memory", o.worker_memory, "Each worker process's data memory cap in MiB; a file that "
                                                    "needs more is an error result (default: three quarters of the "
                                                    "physical memory; 0: no cap)")
      ->capture_default_str();
  app.add_option("--worker-image", o.worker_image)->group("");  // set by the parent for its workers
  app.add_option("--worker-state", o.worker_state)->group("");
  app.add_option("--worker-skip", o.worker_skip)->group("");
  app.add_option("--worker-careful", o.worker_careful)->group("");
  app.add_option("--worker-skip-part", o.worker_skip_parts)->group("");
  cli::add_screening_options(&app, o.settings);
  app.add_option("IMAGE", o.images, "Disk images: raw/dd, split raw, E01 and others libtsk reads")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? cli::kExitOk : cli::kExitError;
  }
  try {
    return forensic::run(o, argc, argv);
  } catch (const std::exception& e) {
    cli::diagnose("screen3d-image", std::string("internal error: ") + e.what());
    return cli::kExitError;
  }
}
