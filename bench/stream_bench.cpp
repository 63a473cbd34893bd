// stream_bench: the streaming scan's memory and verdict on a file fed in 4 KiB chunks, as firmware
// would feed it (engine/stream.h). Prints the verdict, the layers seen, the bytes fed and the peak
// resident memory of the process (getrusage), so that two files of different length can be compared
// in one run (bench/stream_memory.sh). Also `stream_bench tube H OUT.stl` writes a tube of height H
// mm (a part whose G-code grows with its height while each layer stays the same).
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "engine/scan.h"
#include "engine/stream.h"
#include "geometry/shapes.h"
#include "geometry/write_mesh.h"

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "tube") == 0) {
    s3d::write_stl_binary(s3d::shapes::tube(12, 9, std::atof(argv[2]), 96), argv[3]);
    return 0;
  }
  if (argc != 4 || std::strcmp(argv[1], "feed") != 0) {
    std::fprintf(stderr, "usage: stream_bench feed DB FILE | stream_bench tube HEIGHT_MM OUT.stl\n");
    return 2;
  }
  const auto engine = s3d::Engine::from_database(argv[2]);
  std::ifstream in(argv[3], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "stream_bench: cannot open %s\n", argv[3]);
    return 2;
  }
  s3d::ScanStream stream(*engine, argv[3]);
  std::vector<char> buf(4096);
  size_t early_at = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const size_t n = static_cast<size_t>(in.gcount());
    if (n == 0) break;
    if (stream.feed({reinterpret_cast<const uint8_t*>(buf.data()), n}) == s3d::Verdict::kRestricted && early_at == 0)
      early_at = stream.bytes_fed();
  }
  const uint64_t fed = stream.bytes_fed();
  const uint32_t layers = stream.layers_seen();
  const s3d::ScanResult r = stream.finish();
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  std::printf("%s: %s score %.3f, %llu bytes, %u layers, early verdict at byte %zu, peak RSS %ld KiB%s%s\n", argv[3],
              s3d::verdict_name(r.verdict), r.score, static_cast<unsigned long long>(fed), layers, early_at, ru.ru_maxrss,
              r.error.empty() ? "" : ", error: ", r.error.c_str());
  return 0;
}
