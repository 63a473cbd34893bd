// screen3d-queue: the print-queue gateway. Jobs dropped into an inbox folder (a web upload folder, a
// network share) are screened one at a time and moved on: clean into the approved folder (the one a
// print host takes jobs from, e.g. OctoPrint's watched folder), restricted into the held folder with
// a JSON report beside it. See README.md in this folder for the policy options and the guarantees.
//
// Structure: the daemon keeps one worker process (this program run again with the hidden option
// --queue-worker) that loads the signature database once and screens the paths it is sent, one JSON
// result line each; a worker that crashes, hangs past --job-timeout or exits is replaced, and the
// job it had is an error result. A job is claimed by renaming it into a private folder
// (INBOX/.screen3d-queue/work/N/) first, so a job is taken once, a half-done job survives the daemon
// being killed (it is screened again at the next start) and a job that kills the daemon itself
// twice is held instead of looping.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/cli/command.h"
#include "engine/cli/file_moves.h"
#include "engine/cli/worker.h"
#include "engine/report_json.h"
#include "engine/scan.h"

namespace s3d::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr const char* kStateDir = ".screen3d-queue";  // inside the inbox: same file system, so claims are renames
constexpr const char* kAttempts = ".attempts";        // in a job's work folder; hidden, so no job has its name
constexpr int kMaxInterruptedScreenings = 2;          // a job that stopped the daemon this often is held

struct QueueOptions {
  std::string db, inbox, approved, held;
  std::string review = "approve";  // what a review verdict does: approve | hold
  std::string on_error = "hold";   // a job that cannot be screened: approve | hold
  bool once = false;
  bool json = false;
  double job_timeout = 60;  // seconds one job may take before its worker is stopped
  double settle = 2;        // seconds a file must stay unchanged when no "written and closed" event came
  int threads = 0;
  uint64_t worker_memory = default_worker_memory_mib();
  ScanSettings settings;
  bool worker = false;  // hidden: run as the screening worker
};

volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) { g_stop = 1; }

// ---------------------------------------------------------------------------------------------------
// The worker side: load the database once, then for each NUL-terminated path on stdin write the
// path's results as JSON lines and "end".
int run_queue_worker(const QueueOptions& o) {
  cap_worker_memory(o.worker_memory);
  const std::unique_ptr<Engine> engine = open_database("screen3d-queue", o.db, o.settings);
  if (!engine) return kExitError;
  const auto limit = thread_limit(o.threads);
  write_out("ready\n");
  std::string path;
  while (std::getline(std::cin, path, '\0')) {
    std::string text;
    for (const ScanResult& r : screen_path(*engine, path, true))
      text += scan_result_json(r).dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    write_out(text + "end\n");
  }
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------------
// The daemon side of one worker process.
class ScreeningWorker {
 public:
  explicit ScreeningWorker(std::vector<std::string> args) : args_(std::move(args)) {}
  ~ScreeningWorker() { stop(); }
  ScreeningWorker(const ScreeningWorker&) = delete;
  ScreeningWorker& operator=(const ScreeningWorker&) = delete;

  // Starts the worker and waits (up to `timeout_s`) for it to have loaded the database.
  bool start(double timeout_s, std::string* why) {
    stop();
    int to_child[2], from_child[2];
    if (::pipe2(to_child, O_CLOEXEC) != 0) return fail_start(why, "cannot make a pipe");
    if (::pipe2(from_child, O_CLOEXEC) != 0) {
      ::close(to_child[0]);
      ::close(to_child[1]);
      return fail_start(why, "cannot make a pipe");
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, to_child[0], 0);  // dup2 clears close-on-exec on 0 and 1
    posix_spawn_file_actions_adddup2(&fa, from_child[1], 1);
    std::vector<std::string> copy = args_;
    std::vector<char*> argv;
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    ::close(to_child[0]);
    ::close(from_child[1]);
    if (rc != 0) {
      ::close(to_child[1]);
      ::close(from_child[0]);
      return fail_start(why, "cannot start a worker process: " + errno_text(rc));
    }
    pid_ = pid;
    to_ = to_child[1];
    from_ = from_child[0];
    buffer_.clear();
    std::string line;
    const Read r = read_line(timeout_s, &line);
    if (r == Read::kLine && line == "ready") return true;
    const std::string how = r == Read::kTimeout ? "did not load the database within " + seconds(timeout_s) : reap();
    stop();
    return fail_start(why, "the worker process " + how + " (see the message above)");
  }

  struct Outcome {
    bool screened = false;           // the worker answered
    std::vector<std::string> lines;  // its JSON result lines
    std::string how;                 // otherwise what happened to it
  };

  // Screens one path. A worker that dies or takes longer than `timeout_s` is stopped (start() again).
  Outcome screen(const std::string& path, double timeout_s) {
    Outcome out;
    std::string msg = path;
    msg.push_back('\0');
    if (!write_all(msg)) {
      out.how = reap();
      stop();
      return out;
    }
    for (;;) {
      std::string line;
      const Read r = read_line(timeout_s, &line);
      if (r == Read::kLine) {
        if (line == "end") {
          out.screened = true;
          return out;
        }
        out.lines.push_back(std::move(line));
        continue;
      }
      out.lines.clear();
      out.how = r == Read::kTimeout ? "was stopped after " + seconds(timeout_s) + " (--job-timeout)" : reap();
      stop();
      return out;
    }
  }

  bool running() const { return pid_ > 0; }

  void stop() {
    if (to_ >= 0) ::close(to_);
    if (from_ >= 0) ::close(from_);
    to_ = from_ = -1;
    // Its stdin is closed, so an idle worker ends by itself; one that is still busy is killed.
    if (pid_ > 0) wait_or_kill(100, "");
  }

 private:
  enum class Read { kLine, kEnd, kTimeout };

  static bool fail_start(std::string* why, const std::string& text) {
    *why = text;
    return false;
  }
  static std::string seconds(double s) {
    char b[32];
    std::snprintf(b, sizeof b, "%g s", s);
    return b;
  }

  bool write_all(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(to_, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;  // EPIPE: the worker is gone (SIGPIPE is ignored)
      }
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // One line from the worker within `timeout_s` (0: no limit).
  Read read_line(double timeout_s, std::string* line) {
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout_s));
    for (;;) {
      if (const size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        *line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return Read::kLine;
      }
      int wait_ms = -1;
      if (timeout_s > 0) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) return Read::kTimeout;
        wait_ms = static_cast<int>(std::min<long long>(left, 1000));
      }
      pollfd p{from_, POLLIN, 0};
      const int pr = ::poll(&p, 1, wait_ms);
      if (pr < 0 && errno != EINTR) return Read::kEnd;
      if (pr <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(from_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Read::kEnd;
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  // Waits for a worker whose output ended and says how it ended.
  std::string reap() {
    if (pid_ <= 0) return "is not running";
    return wait_or_kill(500, "closed its output and was stopped");  // it is ending: up to 5 s
  }

  // Waits up to `polls` x 10 ms for the worker to end, then kills it; how it ended (`if_killed` when
  // it had to be killed).
  std::string wait_or_kill(int polls, const char* if_killed) {
    int status = 0;
    for (int i = 0; i < polls; ++i) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return describe_worker_end(status);
      }
      if (r < 0 && errno != EINTR) {
        pid_ = -1;
        return "was lost (waitpid failed)";
      }
      ::usleep(10000);
    }
    ::kill(pid_, SIGKILL);
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return if_killed;
  }

  std::vector<std::string> args_;
  pid_t pid_ = -1;
  int to_ = -1, from_ = -1;
  std::string buffer_;
};

// ---------------------------------------------------------------------------------------------------
// The daemon.

// Names an uploader is still writing, or that are not jobs: hidden files, partial downloads, editor
// backups.
bool is_job_name(const std::string& n) {
  if (n.empty() || n[0] == '.') return false;
  for (const char* suffix : {".part", ".partial", ".tmp", ".crdownload", ".download", ".swp", "~"}) {
    const size_t k = std::strlen(suffix);
    if (n.size() >= k && n.compare(n.size() - k, k, suffix) == 0) return false;
  }
  return true;
}

// "name-1.gcode", "name-2.gcode", ...: the extension (everything from the first dot after the first
// character, so "a.gcode.3mf" keeps ".gcode.3mf") stays, so print hosts still recognise the job.
std::string numbered_name(const std::string& name, int k) {
  if (k == 0) return name;
  const size_t dot = name.find('.', 1);
  const std::string stem = dot == std::string::npos ? name : name.substr(0, dot);
  const std::string ext = dot == std::string::npos ? "" : name.substr(dot);
  return stem + "-" + std::to_string(k) + ext;
}

// Whether a process on this machine still has the file open for writing: Linux grants a read lease
// (F_SETLEASE) only on a file nobody has open for writing. A writer that paused for longer than
// --settle, or closed one of several descriptors, is waited for. Unknown (false) where leases are
// not available: a file system without them (NFS, SMB clients) or a file of another user without
// CAP_LEASE; the settle rule alone decides there.
bool open_for_writing(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC));
  if (fd.get() < 0) return false;
  if (::fcntl(fd.get(), F_SETLEASE, F_RDLCK) == 0) {
    ::fcntl(fd.get(), F_SETLEASE, F_UNLCK);
    return false;
  }
  return errno == EAGAIN;
}

struct Decision {
  Verdict verdict = Verdict::kClean;  // the job's verdict: the most serious of its results
  bool hold = false;
  std::string reason;                 // for the text line and the held report
};

class Queue {
 public:
  Queue(const QueueOptions& o, ScreeningWorker& worker, int approved_fd, int held_fd)
      : o_(o), worker_(worker), approved_fd_(approved_fd), held_fd_(held_fd) {
    work_ = (fs::path(o.inbox) / kStateDir / "work").string();
  }

  int exit_status() const {
    if (any_match_) return kExitMatch;
    return any_error_ ? kExitError : kExitOk;
  }

  // Jobs a stopped daemon left half done: screened again, or held when they stopped it too often.
  void recover() {
    std::vector<std::pair<long long, std::string>> slots;
    std::error_code ec;
    for (fs::directory_iterator it(work_, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string n = it->path().filename().string();
      char* e = nullptr;
      const long long v = std::strtoll(n.c_str(), &e, 10);
      if (e && *e == '\0' && v > 0) slots.emplace_back(v, it->path().string());
    }
    std::sort(slots.begin(), slots.end());
    for (const auto& [n, slot] : slots) {
      next_slot_ = std::max(next_slot_, n + 1);
      std::string job;
      for (fs::directory_iterator it(slot, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().filename() != kAttempts) job = it->path().filename().string();
      if (job.empty()) {
        remove_slot(slot);
        continue;
      }
      process_slot(slot, job, read_attempts(slot));
    }
  }

  // One look at the inbox: takes the jobs that are complete. `closed`: names the kernel reported as
  // written and closed (or moved in) since the last look; they are taken at once.
  void look(std::set<std::string>& closed, bool take_all) {
    std::vector<std::pair<fs::file_time_type, std::string>> ready;
    std::map<std::string, Seen> now_seen;
    const auto now = fs::file_time_type::clock::now();
    std::error_code ec;
    for (fs::directory_iterator it(o_.inbox, ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!is_job_name(name)) continue;
      std::error_code e2;
      const fs::file_status st = it->symlink_status(e2);
      if (e2) continue;
      if (!fs::is_regular_file(st)) {
        if (warned_.insert(name).second)
          diagnose(it->path().string(), "not a regular file (a folder, link or device); left in the inbox");
        continue;
      }
      const auto size = it->file_size(e2);
      const auto mtime = it->last_write_time(e2);
      if (e2) continue;
      const Seen s{size, mtime};
      const bool settled = now - mtime >= std::chrono::duration_cast<fs::file_time_type::duration>(std::chrono::duration<double>(o_.settle));
      const auto prev = seen_.find(name);
      const bool unchanged = prev != seen_.end() && prev->second == s;
      const bool complete = take_all || closed.count(name) || (settled && (unchanged || first_look_));
      if (complete && !open_for_writing(it->path().string())) {
        ready.emplace_back(mtime, name);
      } else {
        if (complete && take_all) diagnose(it->path().string(), "still open for writing; left in the inbox");
        now_seen[name] = s;
      }
    }
    if (ec) diagnose(o_.inbox, "cannot list the inbox: " + ec.message());
    first_look_ = false;
    closed.clear();
    seen_ = std::move(now_seen);
    std::sort(ready.begin(), ready.end());
    for (const auto& r : ready) {
      if (g_stop) return;
      claim_and_process(r.second);
    }
  }

 private:
  struct Seen {
    uintmax_t size;
    fs::file_time_type mtime;
    bool operator==(const Seen&) const = default;
  };

  static int read_attempts(const std::string& slot) {
    std::ifstream in(fs::path(slot) / kAttempts);
    int n = 0;
    in >> n;
    return std::max(0, n);
  }

  static void remove_slot(const std::string& slot) {
    std::error_code ec;
    fs::remove(fs::path(slot) / kAttempts, ec);
    fs::remove(slot, ec);  // only when empty: a job never goes with it
  }

  void claim_and_process(const std::string& name) {
    std::string slot;  // the work folder itself is made at start-up (run_queue)
    for (int tries = 0; tries < 1000; ++tries) {
      slot = (fs::path(work_) / std::to_string(next_slot_++)).string();
      if (::mkdir(slot.c_str(), 0700) == 0) break;
      if (errno != EEXIST) {
        diagnose(o_.inbox, "cannot claim jobs: cannot create " + slot + ": " + errno_text(errno));
        return;
      }
      slot.clear();
    }
    if (slot.empty()) return;
    const std::string from = (fs::path(o_.inbox) / name).string();
    const std::string to = (fs::path(slot) / name).string();
    if (::rename(from.c_str(), to.c_str()) != 0) {  // the slot is new and empty: nothing is replaced
      const int e = errno;
      remove_slot(slot);
      if (e != ENOENT && warned_.insert(name).second)
        diagnose(from, "cannot take the job (" + errno_text(e) + "); left in the inbox");
      return;
    }
    process_slot(slot, name, 0);
  }

  void process_slot(const std::string& slot, const std::string& name, int attempts) {
    const std::string job = (fs::path(slot) / name).string();
    const std::string shown = (fs::path(o_.inbox) / name).string();  // the path the user knows
    std::vector<json> results;
    if (attempts >= kMaxInterruptedScreenings) {
      results.push_back(scan_result_json(unscreened_result(
          shown, Verdict::kError,
          "not screened: the queue was stopped " + std::to_string(attempts) + " times while screening this job")));
    } else {
      {
        std::ofstream(fs::path(slot) / kAttempts, std::ios::trunc) << attempts + 1 << "\n";
      }
      std::optional<std::vector<json>> r = screen(job, shown);
      if (!r) {  // the queue is stopping and the worker went with it: screened again at the next start
        diagnose(shown, "not finished: the queue is stopping; the job stays in " + job + " and is screened at the next start");
        return;
      }
      results = std::move(*r);
    }
    const Decision d = decide(results);
    deliver(slot, job, name, shown, results, d);
  }

  // The results for one job, with paths as the user knows them (the inbox, not our work folder).
  // nullopt: the worker went away because the queue is being stopped (a Ctrl-C reaches it too).
  std::optional<std::vector<json>> screen(const std::string& job, const std::string& shown) {
    std::string why;
    if (!worker_.running() && !worker_.start(o_.job_timeout > 0 ? std::max(o_.job_timeout, 60.0) : 0, &why)) {
      return std::vector<json>{scan_result_json(unscreened_result(shown, Verdict::kError, "not screened: " + why))};
    }
    const ScreeningWorker::Outcome out = worker_.screen(job, o_.job_timeout);
    if (!out.screened && g_stop) return std::nullopt;
    if (!out.screened)
      return std::vector<json>{scan_result_json(
          unscreened_result(shown, Verdict::kError, "not screened: the screening process " + out.how + " on this job"))};
    std::vector<json> results;
    for (const std::string& line : out.lines) {
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;
      if (j.contains("path") && j["path"].is_string()) {
        const std::string p = j["path"].get<std::string>();
        if (p.rfind(job, 0) == 0) j["path"] = shown + p.substr(job.size());
      }
      results.push_back(std::move(j));
    }
    if (results.empty())
      results.push_back(scan_result_json(unscreened_result(shown, Verdict::kError, "not screened: no result from the worker")));
    return results;
  }

  Decision decide(const std::vector<json>& results) const {
    auto rank = [](const std::string& v) {
      if (v == "restricted") return 4;
      if (v == "review") return 3;
      if (v == "error") return 2;
      if (v == "clean") return 1;
      return 0;  // skipped
    };
    std::string worst = "skipped";
    const json* first = nullptr;
    for (const json& r : results) {
      const std::string v = r.value("verdict", "error");
      if (!first || rank(v) > rank(worst)) {
        worst = v;
        first = &r;
      }
    }
    Decision d;
    if (worst == "restricted") d.verdict = Verdict::kRestricted;
    else if (worst == "review") d.verdict = Verdict::kReview;
    else if (worst == "clean") d.verdict = Verdict::kClean;
    else d.verdict = worst == "error" ? Verdict::kError : Verdict::kSkipped;
    switch (d.verdict) {
      case Verdict::kRestricted: d.hold = true; break;
      case Verdict::kReview: d.hold = o_.review == "hold"; break;
      case Verdict::kClean: d.hold = false; break;
      default: d.hold = o_.on_error != "approve"; break;
    }
    if (first) {
      if (first->contains("matches") && (*first)["matches"].is_array() && !(*first)["matches"].empty()) {
        const json& m = (*first)["matches"][0];
        char score[32];
        std::snprintf(score, sizeof score, "%.2f", m.value("score", 0.0));
        d.reason = worst + ": " + m.value("label", std::string("?")) + " (" + m.value("category", std::string("?")) + ", score " +
                   score + ")";
      } else if ((*first).contains("error") && (*first)["error"].is_string()) {
        d.reason = worst + ": " + (*first)["error"].get<std::string>();
      } else {
        d.reason = worst;
      }
    }
    return d;
  }

  void deliver(const std::string& slot, const std::string& job, const std::string& name, const std::string& shown,
               std::vector<json>& results, const Decision& d) {
    if (d.verdict == Verdict::kRestricted || d.verdict == Verdict::kReview) any_match_ = true;
    if (d.verdict == Verdict::kError || d.verdict == Verdict::kSkipped) any_error_ = true;
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    Moved m;
    if (d.hold) {
      m = move_stamped(job, held_fd_, o_.held, name, utc_stamp(now, true), ".held");
    } else {
      m = move_into(job, approved_fd_, o_.approved, [&](int k) { return numbered_name(name, k); });
    }
    const char* action = d.hold ? "held" : "approved";
    json q;
    q["action"] = m.moved ? action : "left";
    q["job"] = shown;
    q["to"] = m.moved ? json(m.dest) : json(nullptr);
    q["at"] = utc_stamp(now, false);
    for (json& r : results) r["queue"] = q;
    if (m.moved && d.hold) {
      std::string report;
      for (const json& r : results) report += r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
      if (const std::string bad = write_new_file(m.dest + ".json", report); !bad.empty())
        diagnose(shown, "held, but " + bad);
    }
    for (const json& r : results) {
      if (r.value("verdict", "") != "error") continue;
      const bool has_reason = r.contains("error") && r["error"].is_string();
      diagnose(r.value("path", shown), has_reason ? r["error"].get<std::string>() : std::string("not screened"));
    }
    if (o_.json) {
      std::string text;
      for (const json& r : results) text += r.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
      write_out(text);
    } else {
      write_out(printable(shown) + ": " + printable(d.reason) + " -> " + (m.moved ? std::string(action) + " " + printable(m.dest) : "NOT moved") + "\n");
    }
    if (!m.moved) {
      diagnose(shown, std::string("cannot move the job to the ") + action + " folder: " + m.failure + "; it stays in " + job +
                          " and is screened again when the queue restarts");
      std::error_code ec;
      fs::remove(fs::path(slot) / kAttempts, ec);
      return;
    }
    remove_slot(slot);
  }

  const QueueOptions& o_;
  ScreeningWorker& worker_;
  int approved_fd_, held_fd_;
  std::string work_;
  long long next_slot_ = 1;
  bool first_look_ = true;
  bool any_match_ = false, any_error_ = false;
  std::map<std::string, Seen> seen_;
  std::set<std::string> warned_;
};

bool same_folder(const std::string& a, const std::string& b) {
  std::error_code e1, e2;
  return fs::equivalent(a, b, e1) && !e1 && !e2;
}

int run_queue(const QueueOptions& o) {
  auto fatal = [](const std::string& what, const std::string& why) {
    diagnose(what, why);
    return kExitError;
  };
  std::error_code ec;
  if (!fs::is_directory(o.inbox, ec)) return fatal(o.inbox, "the inbox is not a folder");
  if (!fs::is_directory(o.approved, ec)) return fatal(o.approved, "the approved folder is not a folder");
  if (same_folder(o.inbox, o.approved)) return fatal(o.approved, "the approved folder is the inbox");
  std::string why;
  Fd held_fd(open_destination_dir(o.held, false, &why));
  if (held_fd.get() < 0) return fatal(o.held, why);
  if (same_folder(o.inbox, o.held) || same_folder(o.approved, o.held))
    return fatal(o.held, "the held folder must differ from the inbox and the approved folder");
  Fd approved_fd(::open(o.approved.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (approved_fd.get() < 0) return fatal(o.approved, "cannot open the approved folder: " + errno_text(errno));
  const fs::path state = fs::path(o.inbox) / kStateDir;
  if (::mkdir(state.c_str(), 0700) != 0 && errno != EEXIST) return fatal(state.string(), "cannot create: " + errno_text(errno));
  if (::mkdir((state / "work").c_str(), 0700) != 0 && errno != EEXIST)
    return fatal((state / "work").string(), "cannot create: " + errno_text(errno));
  // One queue per inbox: a second one would take the first one's jobs in hand for interrupted ones.
  // The lock goes with the process, however it ends.
  Fd lock(::open((state / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (lock.get() < 0) return fatal((state / "lock").string(), "cannot open: " + errno_text(errno));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0)
    return fatal(o.inbox, errno == EWOULDBLOCK ? "another screen3d-queue is serving this inbox" : "cannot lock: " + errno_text(errno));

  std::vector<std::string> args = {"screen3d-queue", "--queue-worker", "--worker-memory", std::to_string(o.worker_memory),
                                   "--threads", std::to_string(o.threads)};
  if (!o.db.empty()) {
    args.push_back("--db");
    args.push_back(o.db);
  }
  for (std::string& a : screening_args(o.settings)) args.push_back(std::move(a));
  ScreeningWorker worker(args);
  if (!worker.start(0, &why)) return fatal("screen3d-queue", "cannot screen: " + why);

  Queue queue(o, worker, approved_fd.get(), held_fd.get());
  queue.recover();
  std::set<std::string> closed;
  if (o.once) {
    queue.look(closed, true);
    return queue.exit_status();
  }
  const int in = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0 || ::inotify_add_watch(in, o.inbox.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_ONLYDIR) < 0)
    diagnose(o.inbox, "cannot watch the inbox for new files (" + errno_text(errno) + "); looking every second instead");
  write_err("screen3d-queue: watching " + printable(o.inbox) + "\n");
  while (!g_stop) {
    queue.look(closed, false);
    if (g_stop) break;
    pollfd p{in, POLLIN, 0};
    const int pr = ::poll(&p, in >= 0 ? 1 : 0, 1000);
    if (pr > 0) {
      alignas(inotify_event) char buf[16384];
      for (;;) {
        const ssize_t n = ::read(in, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t off = 0; off < n;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
          if (ev->len > 0) closed.insert(ev->name);
          off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
        }
      }
    }
  }
  if (in >= 0) ::close(in);
  write_err("screen3d-queue: stopped\n");
  return kExitOk;
}

}  // namespace
}  // namespace s3d::cli

int main(int argc, char** argv) {
  using namespace s3d::cli;
  QueueOptions o;
  CLI::App app{"screen3d-queue: a print-queue gateway. Jobs dropped into the inbox are screened and moved: clean to the "
               "approved folder (where the print host takes jobs), restricted to the held folder with a JSON report."};
  app.add_option("--db", o.db, "Signature database (default: $SCREEN3D_DB, then the demo database)");
  app.add_option("--inbox", o.inbox, "Folder jobs arrive in");
  app.add_option("--approved", o.approved, "Folder clean jobs are moved to (must exist)");
  app.add_option("--held", o.held, "Folder held jobs and their reports are moved to (created 0700 if missing)");
  app.add_option("--review", o.review, "A job whose verdict is review: approve (noted in the log) or hold")
      ->check(CLI::IsMember({"approve", "hold"}))
      ->capture_default_str();
  app.add_option("--on-error", o.on_error, "A job that cannot be screened (unreadable, not a 3D file, a crash): approve or hold")
      ->check(CLI::IsMember({"approve", "hold"}))
      ->capture_default_str();
  app.add_flag("--once", o.once, "Screen the jobs in the inbox now, then exit (exit status as scan)");
  app.add_flag("--json", o.json, "One scan JSON line per job, with a \"queue\" object (action, job, to, at)");
  app.add_option("--job-timeout", o.job_timeout, "Seconds one job may take before it is stopped and becomes an error (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--settle", o.settle,
                 "Seconds a file must stay unchanged before it is taken when no write-and-close event was seen (network shares)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Worker threads per job (default: all cores)");
  app.add_option("--worker-memory", o.worker_memory, "The screening process's data memory cap in MiB (0: no cap)")
      ->capture_default_str();
  add_screening_options(&app, o.settings);
  app.add_flag("--queue-worker", o.worker)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitError;
  }
  if (o.worker) {
    // Stopping is the daemon's business: it finishes the job in hand, then closes our input.
    std::signal(SIGINT, SIG_IGN);
    std::signal(SIGTERM, SIG_IGN);
    return run_queue_worker(o);
  }
  if (o.inbox.empty() || o.approved.empty() || o.held.empty()) {
    write_err("screen3d-queue: --inbox, --approved and --held are required (see --help)\n");
    return kExitError;
  }
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  return run_queue(o);
}
