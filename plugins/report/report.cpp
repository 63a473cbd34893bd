#include "plugins/report/report.h"

#include <cstdio>

namespace s3d::report {

namespace {
std::string text_of(const json& j, const char* key) {
  if (!j.is_object() || !j.contains(key)) return {};
  const json& v = j[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return {};
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_float()) {
    char b[32];
    std::snprintf(b, sizeof b, "%.4g", v.get<double>());
    return b;
  }
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}
}  // namespace

Row row_of(const json& r) {
  Row row;
  row.path = text_of(r, "path");
  row.verdict = text_of(r, "verdict");
  row.score = text_of(r, "score");
  row.format = text_of(r, "format");
  row.sha256 = text_of(r, "sha256");
  row.md5 = text_of(r, "md5");
  row.sha1 = text_of(r, "sha1");
  row.error = text_of(r, "error");
  if (r.contains("matches") && r["matches"].is_array() && !r["matches"].empty()) {
    const json& m = r["matches"][0];
    row.label = text_of(m, "label");
    row.category = text_of(m, "category");
    row.signature = text_of(m, "signature");
    row.coverage = text_of(m, "coverage");
    row.scale = text_of(m, "scale");
    row.mirrored = text_of(m, "mirrored");
    row.method = text_of(m, "method");
  }
  if (r.contains("image_file") && r["image_file"].is_object()) {
    const json& f = r["image_file"];
    row.image_partition = text_of(f, "partition");
    row.image_file_system = text_of(f, "file_system");
    row.image_inode = text_of(f, "inode");
    row.image_deleted = text_of(f, "deleted");
    row.image_carved = text_of(f, "carved");
    row.image_carved_partial = text_of(f, "carved_partial");
  }
  if (r.contains("queue") && r["queue"].is_object()) {
    row.queue_action = text_of(r["queue"], "action");
    row.queue_to = text_of(r["queue"], "to");
  }
  return row;
}

int verdict_rank(std::string_view v) {
  if (v == "restricted") return 0;
  if (v == "review") return 1;
  if (v == "error") return 2;
  if (v == "clean") return 3;
  if (v == "skipped") return 4;
  return 5;
}

}  // namespace s3d::report
