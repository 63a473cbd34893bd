#include <array>

#include "geometry/formats/reader.h"
#include "geometry/load_error.h"

namespace s3d {
namespace formats {
#define S3D_READER(ns, fmt)                                           \
  namespace ns {                                                      \
  int probe(std::span<const uint8_t> data);                           \
  Mesh read(std::span<const uint8_t> data, const ReadOptions& opt);   \
  }
#include "geometry/formats/format_list.h"
#undef S3D_READER
}  // namespace formats

namespace {
constexpr ReaderEntry kReaders[] = {
#define S3D_READER(ns, fmt) ReaderEntry{#ns, Format::fmt, &formats::ns::probe, &formats::ns::read},
#include "geometry/formats/format_list.h"
#undef S3D_READER
};
}  // namespace

std::span<const ReaderEntry> registered_readers() { return kReaders; }

Mesh read_mesh(std::span<const uint8_t> data, Format format, const ReadOptions& opt) {
  for (const ReaderEntry& r : kReaders)
    if (r.format == format) return r.read(data, opt);
  throw LoadError(ErrorCode::kUnsupported,
                  std::string("no mesh reader for format ") + std::string(format_name(format)));
}

}  // namespace s3d
