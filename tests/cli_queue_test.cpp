// screen3d-queue, the print-queue gateway (plugins/queue), run as a program: --once over an inbox,
// the review and error policies, names that are never replaced, a crashing or hanging job, the
// watching daemon stopped by SIGTERM, and a daemon killed in the middle of a job.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/sha256.h"
#include "tests/support/cli_runner.h"
#include "tests/support/test_helpers.h"

extern char** environ;

namespace s3d {
namespace {

namespace fs = std::filesystem;
using test::run_program;

std::string example(const std::string& name) { return std::string(S3D_EXAMPLES_DIR) + "/" + name; }
std::string file_hash(const std::string& path) { return sha256_hex(test::read_bytes(path)); }

// inbox/, approved/ (made), held/ (left to the queue to create) under a fresh folder.
struct Folders {
  std::string root, inbox, approved, held;
  explicit Folders(const std::string& name) {
    root = test::temp_path(name);
    fs::remove_all(root);
    inbox = root + "/inbox";
    approved = root + "/approved";
    held = root + "/held";
    fs::create_directories(inbox);
    fs::create_directories(approved);
  }
  ~Folders() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  std::vector<std::string> args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> a = {"--db", S3D_DEMO_DB, "--inbox", inbox, "--approved", approved, "--held", held};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
  void put(const std::string& example_name, const std::string& as) const { fs::copy_file(example(example_name), inbox + "/" + as); }
};

// The names in a folder (hidden ones too).
std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) out.insert(it->path().filename().string());
  return out;
}

// The one held file whose name starts with `name` + "." and ends with ".held".
std::string held_file(const std::string& held, const std::string& name) {
  std::string found;
  for (const std::string& n : names_in(held))
    if (n.rfind(name + ".", 0) == 0 && n.size() > 5 && n.compare(n.size() - 5, 5, ".held") == 0) {
      EXPECT_TRUE(found.empty()) << "two held files for " << name;
      found = held + "/" + n;
    }
  return found;
}

// The --json lines by job name (the last path component of "path").
std::map<std::string, nlohmann::json> lines_by_job(const std::string& out) {
  std::map<std::string, nlohmann::json> m;
  for (const std::string& line : test::split_lines(out)) {
    const auto j = nlohmann::json::parse(line);
    m[fs::path(j["path"].get<std::string>()).filename().string()] = j;
  }
  return m;
}

std::string queue_exe() { return S3D_QUEUE_CLI_PATH; }

std::string slurp(const std::string& path) {
  const auto b = test::read_bytes(path);
  return std::string(b.begin(), b.end());
}

TEST(QueueCli, OnceSortsTheInboxIntoApprovedAndHeld) {
  const Folders f("once");
  f.put("bracket_reposed.stl", "bracket.stl");    // restricted
  f.put("print_plate.3mf", "plate.3mf");          // restricted (a gear hub among other parts)
  f.put("bracket_70pct.obj", "small.obj");        // review
  f.put("pipe.stl", "pipe.stl");                  // clean
  f.put("gear_30t.stl", "gear.stl");              // clean
  f.put("truncated.stl", "truncated.stl");        // error
  f.put("gear_30t.stl", "attempts");              // clean, under a name the queue's own files must not take
  std::ofstream(f.inbox + "/notes.txt") << "not a model\n";  // skipped: not a 3D file
  f.put("bracket_reposed.stl", ".upload-1.stl");  // being uploaded: hidden
  f.put("bracket_reposed.stl", "b2.stl.part");    // being uploaded: partial
  const std::string bracket_hash = file_hash(example("bracket_reposed.stl"));

  const auto r = run_program(queue_exe(), f.args({"--once", "--json"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;  // matches found (scan's exit convention)
  const auto jobs = lines_by_job(r.out);
  ASSERT_EQ(jobs.size(), 8u) << r.out;
  const std::map<std::string, std::pair<std::string, std::string>> expect = {
      {"bracket.stl", {"restricted", "held"}}, {"plate.3mf", {"restricted", "held"}}, {"small.obj", {"review", "approved"}},
      {"pipe.stl", {"clean", "approved"}},     {"gear.stl", {"clean", "approved"}},   {"truncated.stl", {"error", "held"}},
      {"notes.txt", {"skipped", "held"}},      {"attempts", {"clean", "approved"}}};
  for (const auto& [name, va] : expect) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(jobs.count(name));
    const auto& j = jobs.at(name);
    EXPECT_EQ(j["verdict"], va.first);
    EXPECT_EQ(j["path"], f.inbox + "/" + name);  // the path the user knows, not the queue's work folder
    EXPECT_EQ(j["queue"]["action"], va.second);
    EXPECT_EQ(j["queue"]["job"], f.inbox + "/" + name);
    const std::string to = j["queue"]["to"];
    EXPECT_TRUE(fs::exists(to)) << to;
    if (va.second == "approved") EXPECT_EQ(to, f.approved + "/" + name);
    else EXPECT_EQ(to, held_file(f.held, name));
  }
  EXPECT_EQ(jobs.at("bracket.stl")["matches"][0]["label"], "demo-bracket");
  EXPECT_NE(jobs.at("truncated.stl")["error"].get<std::string>().find("binary STL header declares"), std::string::npos);

  // Approved: the clean and review jobs, byte for byte. Held: the others, each with its report.
  EXPECT_EQ(names_in(f.approved), (std::set<std::string>{"small.obj", "pipe.stl", "gear.stl", "attempts"}));
  EXPECT_EQ(file_hash(f.approved + "/attempts"), file_hash(example("gear_30t.stl")));
  EXPECT_EQ(file_hash(f.approved + "/pipe.stl"), file_hash(example("pipe.stl")));
  const std::string held_bracket = held_file(f.held, "bracket.stl");
  EXPECT_EQ(file_hash(held_bracket), bracket_hash);
  const auto report = nlohmann::json::parse(std::ifstream(held_bracket + ".json"));
  EXPECT_EQ(report["verdict"], "restricted");
  EXPECT_EQ(report["queue"]["action"], "held");
  EXPECT_EQ(report["queue"]["to"], held_bracket);
  EXPECT_EQ(names_in(f.held).size(), 8u);  // four jobs, four reports
  EXPECT_EQ(fs::status(f.held).permissions() & fs::perms::all, fs::perms::owner_all);

  // Left in the inbox: the uploads in progress, and the queue's own (empty) state folder.
  EXPECT_EQ(names_in(f.inbox), (std::set<std::string>{".upload-1.stl", "b2.stl.part", ".screen3d-queue"}));
  EXPECT_TRUE(names_in(f.inbox + "/.screen3d-queue/work").empty());
  EXPECT_EQ(file_hash(f.inbox + "/b2.stl.part"), bracket_hash);

  // Text output: a line per job naming the verdict and where the job went.
  f.put("bracket_reposed.stl", "again.stl");
  const auto t = run_program(queue_exe(), f.args({"--once"}));
  EXPECT_EQ(t.exit_code, 1);
  ASSERT_EQ(t.out_lines().size(), 1u) << t.out;
  EXPECT_NE(t.out.find("again.stl: restricted: demo-bracket"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("-> held " + held_file(f.held, "again.stl")), std::string::npos) << t.out;
}

TEST(QueueCli, ReviewAndErrorPoliciesAreOptions) {
  const Folders f("policy");
  f.put("bracket_70pct.obj", "small.obj");
  f.put("truncated.stl", "truncated.stl");
  f.put("pipe.stl", "pipe.stl");
  const auto r = run_program(queue_exe(), f.args({"--once", "--json", "--review", "hold", "--on-error", "approve"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto jobs = lines_by_job(r.out);
  ASSERT_EQ(jobs.size(), 3u);
  EXPECT_EQ(jobs.at("small.obj")["queue"]["action"], "held");
  EXPECT_EQ(jobs.at("truncated.stl")["queue"]["action"], "approved");
  EXPECT_EQ(names_in(f.approved), (std::set<std::string>{"truncated.stl", "pipe.stl"}));
  EXPECT_FALSE(held_file(f.held, "small.obj").empty());

  const auto bad = run_program(queue_exe(), f.args({"--once", "--review", "maybe"}));
  EXPECT_EQ(bad.exit_code, 2);
}

TEST(QueueCli, NothingInTheApprovedFolderIsEverReplaced) {
  const Folders f("noreplace");
  std::ofstream(f.approved + "/pipe.stl") << "an earlier job of the same name";
  std::ofstream(f.approved + "/plate.gcode.3mf") << "another earlier job";
  f.put("pipe.stl", "pipe.stl");
  std::ofstream(f.inbox + "/plate.gcode.3mf") << "not a zip at all";  // an error, approved by the policy below
  const auto r = run_program(queue_exe(), f.args({"--once", "--on-error", "approve"}));
  EXPECT_EQ(r.exit_code, 2) << r.err;  // an error and no match
  EXPECT_EQ(names_in(f.approved), (std::set<std::string>{"pipe.stl", "pipe-1.stl", "plate.gcode.3mf", "plate-1.gcode.3mf"}));
  EXPECT_EQ(test::read_bytes(f.approved + "/pipe.stl").size(), std::string("an earlier job of the same name").size());
  EXPECT_EQ(file_hash(f.approved + "/pipe-1.stl"), file_hash(example("pipe.stl")));
}

TEST(QueueCli, AJobThatCrashesOrHangsItsScreeningCostsThatJobOnly) {
  const Folders f("fault");
  f.put("pipe.stl", "a.stl");
  f.put("gear_30t.stl", "b.stl");
  f.put("bracket_reposed.stl", "c.stl");
  {
    const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "crash:b.stl");
    const auto r = run_program(queue_exe(), f.args({"--once", "--json"}));
    EXPECT_EQ(r.exit_code, 1) << r.err;
    const auto jobs = lines_by_job(r.out);
    ASSERT_EQ(jobs.size(), 3u) << r.out;
    EXPECT_EQ(jobs.at("a.stl")["verdict"], "clean");
    EXPECT_EQ(jobs.at("b.stl")["verdict"], "error");
    EXPECT_NE(jobs.at("b.stl")["error"].get<std::string>().find("stopped abnormally (signal 6"), std::string::npos);
    EXPECT_EQ(jobs.at("b.stl")["queue"]["action"], "held");
    EXPECT_EQ(jobs.at("c.stl")["verdict"], "restricted");  // screened by a new worker
    EXPECT_EQ(file_hash(held_file(f.held, "b.stl")), file_hash(example("gear_30t.stl")));
  }
  f.put("gear_30t.stl", "h.stl");
  f.put("pipe.stl", "i.stl");
  const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "hang:h.stl");
  const auto start = std::chrono::steady_clock::now();
  const auto r = run_program(queue_exe(), f.args({"--once", "--json", "--job-timeout", "2"}));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  const auto jobs = lines_by_job(r.out);
  ASSERT_EQ(jobs.size(), 2u) << r.out;
  EXPECT_NE(jobs.at("h.stl")["error"].get<std::string>().find("was stopped after 2 s (--job-timeout)"), std::string::npos);
  EXPECT_EQ(jobs.at("h.stl")["queue"]["action"], "held");
  EXPECT_EQ(jobs.at("i.stl")["queue"]["action"], "approved");
}

// The queue as a daemon: started in its own process group, output to files.
class Daemon {
 public:
  Daemon(const std::vector<std::string>& args, const std::string& out, const std::string& err) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    std::vector<std::string> store = {queue_exe()};
    store.insert(store.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : store) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, store[0].c_str(), &fa, &at, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
  }
  ~Daemon() {
    if (pid_ > 0) kill_all();
  }
  // SIGTERM to the daemon alone; its exit status (-1 if it did not end within 60 s).
  int stop() {
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 600; ++i) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  // SIGKILL to the daemon and its worker: what a power cut or the OOM killer does.
  void kill_all() {
    ::kill(-pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// Whether the file system under `dir` grants read leases (F_SETLEASE), which the queue's
// open-for-writing check needs.
bool leases_supported(const std::string& dir) {
  const std::string probe = dir + "/lease-probe";
  std::ofstream(probe) << "x";
  const int fd = ::open(probe.c_str(), O_RDONLY);
  bool ok = false;
  if (fd >= 0) {
    ok = ::fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
    if (ok) ::fcntl(fd, F_SETLEASE, F_UNLCK);
    ::close(fd);
  }
  std::error_code ec;
  fs::remove(probe, ec);
  return ok;
}

// Waits up to 60 s for `pred`.
template <class Pred>
bool eventually(Pred pred) {
  for (int i = 0; i < 600; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

TEST(QueueCli, TheDaemonTakesJobsAsTheyArriveAndStopsOnSigterm) {
  const Folders f("daemon");
  f.put("pipe.stl", "waiting.stl");  // there before the daemon starts
  const std::string out = f.root + "/out.txt", err = f.root + "/err.txt";
  Daemon d(f.args({"--json", "--settle", "0.2"}), out, err);
  ASSERT_TRUE(eventually([&] { return fs::exists(f.approved + "/waiting.stl"); })) << slurp(err);
  // One queue per inbox.
  const auto second = run_program(queue_exe(), f.args({"--once"}));
  EXPECT_EQ(second.exit_code, 2);
  EXPECT_NE(second.err.find("another screen3d-queue is serving this inbox"), std::string::npos) << second.err;

  // A job written in place (the kernel reports it written and closed), and one renamed in from the
  // same file system (the usual way uploaders finish a file).
  {
    std::ofstream o(f.inbox + "/written.stl", std::ios::binary);
    const auto b = test::read_bytes(example("gear_30t.stl"));
    o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  }
  fs::copy_file(example("bracket_reposed.stl"), f.inbox + "/.incoming.tmp");
  fs::rename(f.inbox + "/.incoming.tmp", f.inbox + "/moved-in.stl");
  ASSERT_TRUE(eventually([&] { return fs::exists(f.approved + "/written.stl") && !held_file(f.held, "moved-in.stl").empty(); }));

  // A job still open for writing is not taken, however long its writer pauses (--settle 0.2 here):
  // the kernel refuses a read lease on it. Closed, it is taken. (Only where the file system grants
  // leases at all: elsewhere the queue has the settle rule alone, as its README says.)
  if (leases_supported(f.root)) {
    {
      std::ofstream o(f.inbox + "/slow.stl", std::ios::binary);
      const auto b = test::read_bytes(example("pipe.stl"));
      o.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size() / 2));
      o.flush();
      std::this_thread::sleep_for(std::chrono::seconds(2));
      EXPECT_TRUE(fs::exists(f.inbox + "/slow.stl"));
      o.write(reinterpret_cast<const char*>(b.data()) + b.size() / 2, static_cast<std::streamsize>(b.size() - b.size() / 2));
    }
  } else {
    std::printf("no file leases on %s: the open-for-writing check is not exercised\n", f.root.c_str());
    fs::copy_file(example("pipe.stl"), f.root + "/slow.tmp");
    fs::rename(f.root + "/slow.tmp", f.inbox + "/slow.stl");
  }
  ASSERT_TRUE(eventually([&] { return fs::exists(f.approved + "/slow.stl"); })) << slurp(err);
  EXPECT_EQ(file_hash(f.approved + "/slow.stl"), file_hash(example("pipe.stl")));

  EXPECT_EQ(d.stop(), 0);
  const auto jobs = lines_by_job(slurp(out));
  ASSERT_EQ(jobs.size(), 4u);
  EXPECT_EQ(jobs.at("slow.stl")["verdict"], "clean");
  EXPECT_EQ(jobs.at("waiting.stl")["verdict"], "clean");
  EXPECT_EQ(jobs.at("written.stl")["verdict"], "clean");
  EXPECT_EQ(jobs.at("moved-in.stl")["verdict"], "restricted");
  EXPECT_TRUE(names_in(f.inbox + "/.screen3d-queue/work").empty());
}

TEST(QueueCli, AJobInterruptedByAKilledDaemonIsScreenedAtTheNextStartOrHeldAfterTwo) {
  const Folders f("killed");
  f.put("bracket_reposed.stl", "r.stl");
  const std::string work = f.inbox + "/.screen3d-queue/work";
  auto job_in_work = [&] {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(work, ec), end; !ec && it != end; it.increment(ec))
      if (it->path().filename() == "r.stl") return true;
    return false;
  };
  {
    // The daemon is killed (with its worker) while the job hangs: the job waits in the work folder.
    const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "hang:r.stl");
    Daemon d(f.args(), f.root + "/out1.txt", f.root + "/err1.txt");
    ASSERT_TRUE(eventually(job_in_work));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    d.kill_all();
  }
  EXPECT_TRUE(job_in_work());
  EXPECT_FALSE(fs::exists(f.inbox + "/r.stl"));
  // The next start screens it.
  const auto r = run_program(queue_exe(), f.args({"--once", "--json"}));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  auto jobs = lines_by_job(r.out);
  ASSERT_EQ(jobs.size(), 1u) << r.out;
  EXPECT_EQ(jobs.at("r.stl")["verdict"], "restricted");
  EXPECT_EQ(jobs.at("r.stl")["path"], f.inbox + "/r.stl");
  EXPECT_FALSE(job_in_work());

  // A job that stops the daemon every time it is screened is held after the second time.
  f.put("bracket_reposed.stl", "r.stl");
  for (int i = 0; i < 2; ++i) {
    const test::ScopedEnv fault("SCREEN3D_TEST_FAULT", "hang:r.stl");
    Daemon d(f.args(), f.root + "/out2.txt", f.root + "/err2.txt");
    ASSERT_TRUE(eventually(job_in_work));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    d.kill_all();
  }
  const auto held = run_program(queue_exe(), f.args({"--once", "--json"}));
  EXPECT_EQ(held.exit_code, 2) << held.err;
  jobs = lines_by_job(held.out);
  ASSERT_EQ(jobs.size(), 1u) << held.out;
  EXPECT_EQ(jobs.at("r.stl")["verdict"], "error");
  EXPECT_NE(jobs.at("r.stl")["error"].get<std::string>().find("stopped 2 times while screening"), std::string::npos);
  EXPECT_EQ(jobs.at("r.stl")["queue"]["action"], "held");
}

TEST(QueueCli, BadFoldersAreRefusedWithTheirName) {
  const Folders f("bad");
  auto r = run_program(queue_exe(), {"--db", S3D_DEMO_DB, "--inbox", f.root + "/missing", "--approved", f.approved, "--held",
                                     f.held, "--once"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find(f.root + "/missing: the inbox is not a folder"), std::string::npos) << r.err;
  r = run_program(queue_exe(), {"--db", S3D_DEMO_DB, "--inbox", f.inbox, "--approved", f.inbox + "/.", "--held", f.held, "--once"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("the approved folder is the inbox"), std::string::npos) << r.err;
  r = run_program(queue_exe(), {"--db", f.root + "/no.s3db", "--inbox", f.inbox, "--approved", f.approved, "--held", f.held, "--once"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no.s3db"), std::string::npos) << r.err;
  r = run_program(queue_exe(), {"--inbox", f.inbox});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--inbox, --approved and --held are required"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace s3d
