#pragma once
// Worker processes for the command-line programs: a program runs itself again on part of its work
// so that a crash or a hang inside a parser (Assimp, libtsk, libzip on hostile input) costs that
// part only. Linux: the program is re-run through /proc/self/exe. The worker writes its results to
// the inherited stdout/stderr itself and its progress, one line per step, to a state file the
// parent reads once it has ended.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace s3d::cli {

struct WorkerEnd {
  bool started = false;   // the process could be created
  bool exited = false;    // it exited by itself (exit_code valid); false: killed by a signal or stopped
  bool timed_out = false; // stopped by one of run_worker's time limits
  bool stalled = false;   // of them, by the one counted from the last progress
  int exit_code = 0;
  std::string how;        // for a diagnostic: "stopped abnormally (signal 11, Segmentation fault)", ...
};

// Runs this program with `args` (args[0] is its argv[0]) and waits. With timeout_s > 0 the worker is
// killed once it has run that long -- counted from its last progress when `progress_file` is given
// (the file grew; `stalled` is then set), else from its start. With total_s > 0 it is also killed
// once it has run that long in all.
WorkerEnd run_worker(const std::vector<std::string>& args, double timeout_s, const std::string& progress_file = {},
                     double total_s = 0);

// What ended a worker, from its waitpid status: "stopped abnormally (signal 11, Segmentation fault)"
// or "exited with status 2 before it finished".
std::string describe_worker_end(int status);

// An empty, private file in the temporary directory for a worker's state ("" if none can be made).
std::string make_worker_file(const char* stem);

// Test hook for the workers: when $SCREEN3D_TEST_FAULT is "crash:NAME", "hang:NAME" or "alloc:NAME"
// and `item` ends with NAME, aborts the process, stops it forever, or allocates 1 GiB (untouched)
// -- what a parser crash, an endless loop or a runaway allocation on hostile input does. The tests
// use it to check the supervising parent and the memory cap; it does nothing otherwise.
void worker_fault_point(const std::string& item);

// Caps this process's data memory at `mib` MiB (RLIMIT_DATA: heap and private writable mappings,
// which is what a runaway parser allocates; the memory-mapped input does not count), so that an
// allocation past it fails with std::bad_alloc -- an error result for that file -- instead of
// driving the machine into swap or the OOM killer. 0: no cap. Workers call it first. Sets nothing
// in sanitizer builds (their shadow memory would count).
void cap_worker_memory(uint64_t mib);
// The default cap of a worker: three quarters of the physical memory, in MiB (0 when unknown).
uint64_t default_worker_memory_mib();
// The reason given for a file whose screening ran out of memory (names the cap when one is set).
std::string out_of_memory_reason();

// printf("%.17g"): a double that reads back to the same value, for passing options to a worker.
std::string exact_number(double v);

}  // namespace s3d::cli
