#include "plugins/forensic/disk_image.h"

#include <tsk/libtsk.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <fstream>
#include <memory>
#include <vector>

namespace s3d::forensic {

namespace {

std::string tsk_message() {
  const char* m = tsk_error_get();
  std::string s = m && *m ? m : "unknown error";
  tsk_error_reset();
  // TSK messages span lines; results and diagnostics are one line each.
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// The image container, from its signature. TSK's own detection (TSK_IMG_TYPE_DETECT) tries the
// VMDK and VHD readers on every image, and those leak a little memory each time they refuse one
// (Debian's libvmdk/libvhdi, seen under LeakSanitizer); naming the type avoids the probing.
TSK_IMG_TYPE_ENUM image_type(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[512] = {}, tail[512] = {};
  in.read(head, sizeof head);
  const std::streamsize n = in.gcount();
  in.clear();
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size >= 512) {
    in.seekg(size - 512);
    in.read(tail, sizeof tail);
  }
  auto starts = [&](const char* magic, size_t len) {
    return n >= static_cast<std::streamsize>(len) && std::memcmp(head, magic, len) == 0;
  };
  if (starts("EVF\x09\x0d\x0a\xff\x00", 8) || starts("LVF\x09\x0d\x0a\xff\x00", 8) || starts("EVF2\r\n\x81\x00", 8))
    return TSK_IMG_TYPE_EWF_EWF;
  if (starts("KDMV", 4) || starts("# Disk DescriptorFile", 21)) return TSK_IMG_TYPE_VMDK_VMDK;
  if (starts("conectix", 8) || (size >= 512 && std::memcmp(tail, "conectix", 8) == 0)) return TSK_IMG_TYPE_VHD_VHD;
  if (starts("AFF10\r\n", 7)) return TSK_IMG_TYPE_AFF_ANY;
  return TSK_IMG_TYPE_RAW;  // raw: single, or split (.001, .002, ...)
}

struct Walk {
  const WalkOptions& opt;
  const std::function<void(const ImageFile&)>& fn;
  WalkSummary& summary;
  std::string prefix;  // "p2/" or ""
  std::string fs_name;
  int64_t partition = -1;
  uint64_t fs_offset = 0;
  std::vector<uint8_t> buf;
  std::exception_ptr failure;  // from fn: rethrown after the walk (never through TSK's C frames)
};

// Reads up to `want` bytes of the file's default data into w.buf; returns "" or why not.
std::string read_content(TSK_FS_FILE* f, uint64_t want, Walk& w) {
  w.buf.resize(want);
  uint64_t got = 0;
  while (got < want) {
    const size_t ask = static_cast<size_t>(std::min<uint64_t>(want - got, 1 << 20));
    const ssize_t n = tsk_fs_file_read(f, static_cast<TSK_OFF_T>(got), reinterpret_cast<char*>(w.buf.data() + got), ask,
                                       TSK_FS_FILE_READ_FLAG_NONE);
    if (n <= 0) {
      w.buf.clear();
      return n < 0 ? "cannot read the content: " + tsk_message()
                   : "content ends after " + std::to_string(got) + " of " + std::to_string(want) + " bytes";
    }
    got += static_cast<uint64_t>(n);
  }
  return {};
}

TSK_WALK_RET_ENUM on_entry(TSK_FS_FILE* f, const char* parent, void* ptr) {
  Walk& w = *static_cast<Walk*>(ptr);
  if (!f || !f->name || !f->meta || f->meta->type != TSK_FS_META_TYPE_REG) return TSK_WALK_CONT;
  const bool name_unalloc = (f->name->flags & TSK_FS_NAME_FLAG_UNALLOC) != 0;
  const bool meta_unalloc = (f->meta->flags & TSK_FS_META_FLAG_UNALLOC) != 0;
  if (name_unalloc && !meta_unalloc) {  // the metadata now belongs to a live file, offered under its own name
    ++w.summary.reallocated;
    return TSK_WALK_CONT;
  }
  ImageFile file;
  file.path = w.prefix + (parent ? parent : "") + (f->name->name ? f->name->name : "?");
  file.file_system = w.fs_name;
  file.partition = w.partition;
  file.fs_offset = w.fs_offset;
  file.inode = static_cast<uint64_t>(f->meta->addr);
  file.deleted = name_unalloc || meta_unalloc;
  file.size = f->meta->size > 0 ? static_cast<uint64_t>(f->meta->size) : 0;
  ++w.summary.files;
  w.summary.deleted += file.deleted;
  file.truncated = file.size > w.opt.max_file_bytes;
  const uint64_t want = file.truncated ? std::min(file.size, w.opt.prefix_bytes) : file.size;
  if (want > 0) {
    file.error = read_content(f, want, w);
    if (!file.error.empty() && file.deleted) file.error += " (a deleted file: its space may have been reused)";
    if (file.error.empty()) file.bytes = std::span<const uint8_t>(w.buf.data(), w.buf.size());
  }
  try {
    w.fn(file);
  } catch (...) {
    w.failure = std::current_exception();
    return TSK_WALK_STOP;
  }
  return TSK_WALK_CONT;
}

// Walks one opened file system; returns "" or why the walk failed.
std::string walk_fs(TSK_FS_INFO* fs, Walk& w) {
  const char* name = tsk_fs_type_toname(fs->ftype);
  w.fs_name = name ? name : "unknown";
  w.fs_offset = static_cast<uint64_t>(fs->offset);
  ++w.summary.file_systems;
  int flags = TSK_FS_DIR_WALK_FLAG_RECURSE | TSK_FS_DIR_WALK_FLAG_ALLOC;
  if (w.opt.deleted) flags |= TSK_FS_DIR_WALK_FLAG_UNALLOC;
  const uint8_t rc = tsk_fs_dir_walk(fs, fs->root_inum, static_cast<TSK_FS_DIR_WALK_FLAG_ENUM>(flags), on_entry, &w);
  if (w.failure) std::rethrow_exception(w.failure);
  return rc ? "file system walk stopped: " + tsk_message() : std::string();
}

struct ImgCloser {
  void operator()(TSK_IMG_INFO* p) const { tsk_img_close(p); }
};
struct VsCloser {
  void operator()(TSK_VS_INFO* p) const { tsk_vs_close(p); }
};
struct FsCloser {
  void operator()(TSK_FS_INFO* p) const { tsk_fs_close(p); }
};

}  // namespace

std::string walk_disk_image(const std::string& image_path, const WalkOptions& options,
                            const std::function<void(const ImageFile&)>& fn, WalkSummary* summary) {
  WalkSummary local;
  WalkSummary& sum = summary ? *summary : local;
  tsk_error_reset();
  std::unique_ptr<TSK_IMG_INFO, ImgCloser> img(tsk_img_open_utf8_sing(image_path.c_str(), image_type(image_path), 0));
  if (!img) return "cannot open the disk image: " + tsk_message();
  Walk w{options, fn, sum, {}, {}, -1, 0, {}, nullptr};

  std::unique_ptr<TSK_VS_INFO, VsCloser> vs(tsk_vs_open(img.get(), 0, TSK_VS_TYPE_DETECT));
  if (vs) {
    std::string problems;
    for (TSK_PNUM_T i = 0; i < vs->part_count; ++i) {
      const TSK_VS_PART_INFO* part = tsk_vs_part_get(vs.get(), i);
      if (!part || !(part->flags & TSK_VS_PART_FLAG_ALLOC)) continue;
      std::unique_ptr<TSK_FS_INFO, FsCloser> fs(tsk_fs_open_vol(part, TSK_FS_TYPE_DETECT));
      if (!fs) {  // swap, extended-partition containers, unformatted space: normal
        tsk_error_reset();
        continue;
      }
      w.prefix = std::string("p").append(std::to_string(part->addr)).append("/");
      w.partition = static_cast<int64_t>(part->addr);
      const std::string err = walk_fs(fs.get(), w);
      if (!err.empty()) {
        if (!problems.empty()) problems.append("; ");
        problems.append(w.prefix).append(": ").append(err);
      }
    }
    if (sum.file_systems == 0) return "the partition table lists no partition with a file system TSK reads";
    return problems;
  }
  tsk_error_reset();
  std::unique_ptr<TSK_FS_INFO, FsCloser> fs(tsk_fs_open_img(img.get(), 0, TSK_FS_TYPE_DETECT));
  if (!fs) return "no partition table or file system recognised: " + tsk_message();
  return walk_fs(fs.get(), w);
}

}  // namespace s3d::forensic
