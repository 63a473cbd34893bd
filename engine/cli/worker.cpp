#include "engine/cli/worker.h"

#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace s3d::cli {

namespace {
long long file_size_or(const std::string& path, long long fallback) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<long long>(st.st_size) : fallback;
}
}  // namespace

WorkerEnd run_worker(const std::vector<std::string>& args, double timeout_s, const std::string& progress_file,
                     double total_s) {
  WorkerEnd end;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (std::string& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ) != 0) {
    end.how = "could not be started";
    return end;
  }
  end.started = true;
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  auto since = start;
  long long last_size = progress_file.empty() ? -1 : file_size_or(progress_file, -1);
  const bool timed = timeout_s > 0 || total_s > 0;
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, timed ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      end.how = "was lost (waitpid failed)";
      return end;
    }
    if (timed) {
      if (!progress_file.empty()) {
        const long long size = file_size_or(progress_file, last_size);
        if (size != last_size) {
          last_size = size;
          since = clock::now();
        }
      }
      const auto now = clock::now();
      const bool stall = timeout_s > 0 && std::chrono::duration<double>(now - since).count() > timeout_s;
      const bool over = total_s > 0 && std::chrono::duration<double>(now - start).count() > total_s;
      if (stall || over) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        char secs[32];
        std::snprintf(secs, sizeof secs, "%g", over ? total_s : timeout_s);
        end.timed_out = true;
        end.stalled = !over && !progress_file.empty();
        end.how = std::string("was stopped after ") + secs + " s" + (end.stalled ? " without progress" : "");
        return end;
      }
      if (r == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  end.exited = !WIFSIGNALED(status);
  end.exit_code = end.exited ? WEXITSTATUS(status) : 0;
  end.how = describe_worker_end(status);
  return end;
}

std::string describe_worker_end(int status) {
  if (WIFSIGNALED(status))
    return "stopped abnormally (signal " + std::to_string(WTERMSIG(status)) + ", " + strsignal(WTERMSIG(status)) + ")";
  return "exited with status " + std::to_string(WEXITSTATUS(status)) + " before it finished";
}

std::string make_worker_file(const char* stem) {
  std::error_code ec;
  const std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  std::string path = ((ec ? std::filesystem::path("/tmp") : dir) / (std::string(stem) + "-XXXXXX")).string();
  const int fd = mkstemp(path.data());
  if (fd < 0) return {};
  close(fd);
  return path;
}

void worker_fault_point(const std::string& item) {
  // $SCREEN3D_TEST_FAULT, read once: this runs for every file a worker screens.
  static const struct Spec {
    std::string kind, name;
    Spec() {
      const char* v = std::getenv("SCREEN3D_TEST_FAULT");
      const std::string spec = v ? v : "";
      const size_t colon = spec.find(':');
      if (colon == std::string::npos) return;
      kind = spec.substr(0, colon);
      name = spec.substr(colon + 1);
    }
  } spec;
  const std::string& name = spec.name;
  if (name.empty() || item.size() < name.size() || item.compare(item.size() - name.size(), name.size(), name) != 0) return;
  if (spec.kind == "crash") std::abort();
  if (spec.kind == "hang")
    for (;;) pause();
  if (spec.kind == "alloc") {
    static char* volatile sink = nullptr;  // volatile: the allocation may not be elided
    sink = new char[size_t{1} << 30];
    sink[0] = 1;
    delete[] sink;
  }
}

namespace {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(__SANITIZE_MEMORY__)
constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitizerBuild = true;
#else
constexpr bool kSanitizerBuild = false;
#endif
#else
constexpr bool kSanitizerBuild = false;
#endif
uint64_t g_cap_mib = 0;  // the cap in force, for out_of_memory_reason (0: none)
}  // namespace

void cap_worker_memory(uint64_t mib) {
  if (mib == 0 || kSanitizerBuild) return;
  const rlim_t bytes = static_cast<rlim_t>(mib) << 20;
  struct rlimit lim {};
  if (getrlimit(RLIMIT_DATA, &lim) != 0) return;
  if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < bytes) return;  // a lower hard limit already holds
  lim.rlim_cur = bytes;
  if (setrlimit(RLIMIT_DATA, &lim) == 0) g_cap_mib = mib;
}

std::string out_of_memory_reason() {
  if (g_cap_mib == 0) return "not screened: out of memory";
  return "not screened: it needs more memory than the worker's cap of " + std::to_string(g_cap_mib) +
         " MiB (--worker-memory)";
}

uint64_t default_worker_memory_mib() {
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) / 4 * 3 * static_cast<uint64_t>(page) >> 20;
}

std::string exact_number(double v) {
  char s[40];
  std::snprintf(s, sizeof s, "%.17g", v);
  return s;
}

}  // namespace s3d::cli
