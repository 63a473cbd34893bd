// screen3d-report: renders scan results for people and other tools (README.md in this folder).
//   screen3d-report [--format csv|html] [--out FILE] [--all] INPUT...
// INPUT: a file of `scan --json` lines (from `screen3d scan`, `screen3d-image --json` or
// `screen3d-queue --json`), or a `screen3d-image --report` document; `-` is standard input.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "plugins/report/report.h"

namespace {

using s3d::report::json;
using s3d::report::ReportData;

constexpr size_t kMaxDocumentBytes = size_t{1} << 30;  // an examination report read whole

void diagnose(const std::string& where, const std::string& why) {
  std::string line = "screen3d-report: ";
  for (char c : where + ": " + why) line += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  std::fprintf(stderr, "%s\n", line.c_str());
}

// A result line: an object with a path; one without a verdict (an examination report's error
// entry) is an error.
bool take_result(json j, ReportData& data) {
  if (!j.is_object() || !j.contains("path") || !j["path"].is_string()) return false;
  if (!j.contains("verdict") || !j["verdict"].is_string()) j["verdict"] = "error";
  data.results.push_back(std::move(j));
  return true;
}

// Reads one input into `data`. Returns false when anything in it could not be used (named on stderr).
bool read_input(const std::string& name, std::istream& in, ReportData& data) {
  bool ok = true;
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (line == "{" || line == "{\r") {  // a pretty-printed document: an examination report
      std::string doc = line + "\n";
      std::string rest;
      while (std::getline(in, rest)) {
        doc += rest;
        doc += '\n';
        if (doc.size() > kMaxDocumentBytes) {
          diagnose(name, "a document larger than 1 GiB; not read");
          return false;
        }
      }
      const json j = json::parse(doc, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("flagged") || !j["flagged"].is_array()) {
        diagnose(name + ":" + std::to_string(n), "not a screen3d-image report (a JSON document with \"flagged\")");
        return false;
      }
      if (!data.examination.is_null()) diagnose(name, "a second examination report: its header is not shown, its files are");
      else {
        data.examination = j;
        data.examination.erase("flagged");
        data.examination.erase("errors");
      }
      for (const json& r : j["flagged"]) ok &= take_result(r, data);
      if (j.contains("errors") && j["errors"].is_array())
        for (const json& r : j["errors"]) ok &= take_result(r, data);
      if (!ok) diagnose(name, "some entries have no path; left out");
      return ok;
    }
    const json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !take_result(j, data)) {
      diagnose(name + ":" + std::to_string(n), "not a scan result line (a JSON object with a \"path\"); left out");
      ok = false;
    }
  }
  if (in.bad()) {
    diagnose(name, "read error");
    ok = false;
  }
  return ok;
}

std::string utc_now() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char b[32];
  std::strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace s3d::report;
  std::string format = "csv", out_path;
  bool all = false;
  std::vector<std::string> inputs;
  CLI::App app{"screen3d-report: scan results (scan --json lines, or a screen3d-image --report document) as CSV or HTML"};
  std::vector<std::string> names;
  std::string help_formats;
  for (const ReportWriter* w : report_writers()) {
    names.emplace_back(w->name);
    help_formats += "\n  " + std::string(w->name) + ": " + std::string(w->description);
  }
  app.add_option("--format", format, "Output format:" + help_formats)->check(CLI::IsMember(names))->capture_default_str();
  app.add_option("--out", out_path, "Write to this file (written whole, then renamed into place; default: stdout)");
  app.add_flag("--all", all, "HTML: list clean and skipped files too, not only findings and errors");
  app.add_option("INPUT", inputs, "Files of scan --json lines or a screen3d-image --report document; - for stdin")->required();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  ReportData data;
  data.generated = utc_now();
  data.all = all;
  bool ok = true;
  for (const std::string& name : inputs) {
    data.inputs.push_back(name);
    if (name == "-") {
      ok &= read_input("(stdin)", std::cin, data);
      continue;
    }
    if (!out_path.empty() && name == out_path) {
      diagnose(name, "is also the --out file; not read (it would be overwritten)");
      return 2;
    }
    std::ifstream in(name, std::ios::binary);
    if (!in) {
      diagnose(name, "cannot be read");
      ok = false;
      continue;
    }
    ok &= read_input(name, in, data);
  }
  const ReportWriter* writer = nullptr;
  for (const ReportWriter* w : report_writers())
    if (w->name == format) writer = w;
  std::ostringstream text;
  writer->write(data, text);
  if (out_path.empty()) {
    std::cout << text.str() << std::flush;
  } else {
    const std::string tmp = out_path + ".tmp";
    {
      std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
      o << text.str();
      o.close();
      if (!o) {
        diagnose(tmp, "cannot be written");
        std::remove(tmp.c_str());
        return 2;
      }
    }
    if (std::rename(tmp.c_str(), out_path.c_str()) != 0) {
      diagnose(out_path, "cannot be written");
      std::remove(tmp.c_str());
      return 2;
    }
  }
  return ok ? 0 : 2;
}
