#pragma once
// Report writers: scan results (the `scan --json` lines of `screen3d scan`, `screen3d-image` and
// `screen3d-queue`, or a `screen3d-image --report` document) rendered for people and other tools.
// Each writer lives in a folder of its own and is listed once in writer_list.cpp (YARA's module
// list): adding a format is adding a folder and a line. Depends on nothing but nlohmann-json.
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace s3d::report {

using json = nlohmann::ordered_json;

struct ReportData {
  std::vector<std::string> inputs;  // the files the results were read from, as given
  std::string generated;            // UTC time of this report
  json examination;                 // a screen3d-image --report document's header (tool, version, times,
                                    // database, settings, images, errors_not_listed); null otherwise
  std::vector<json> results;        // one scan line each, in input order (verdict set on every one)
  bool all = false;                 // --all: list clean and skipped files too, not only the findings
};

// One result's fields as text, the same for every writer. Missing fields are empty.
struct Row {
  std::string path, verdict, score, label, category, signature, coverage, scale, mirrored, format, sha256, error;
  std::string image_partition, image_file_system, image_inode, image_deleted, image_carved;  // screen3d-image
  std::string image_carved_partial;  // carved G-code whose end was not found
  std::string queue_action, queue_to;                                                      // screen3d-queue
  std::string method;     // the best match's: shape, sha256, geometry-hash, pose-hash, md5, sha1
  std::string md5, sha1;  // when the database lists files by them (sig add-hashes)
};
Row row_of(const json& result);

// Whether a verdict is a finding (restricted, review) and the order findings are listed in.
int verdict_rank(std::string_view verdict);  // restricted 0, review 1, error 2, clean 3, skipped 4, other 5

struct ReportWriter {
  std::string_view name;         // --format NAME
  std::string_view description;  // for --help
  void (*write)(const ReportData& data, std::ostream& out);
};

// The writers, from writer_list.cpp.
const std::vector<const ReportWriter*>& report_writers();

}  // namespace s3d::report
