// A self-contained HTML page for a case file or a member of staff: what was examined and with what
// (the database's path, SHA-256 and size, the settings, each image's hash and counts, when the input
// is a screen3d-image --report), the counts by verdict, then the findings (restricted first, then
// review, best score first) with their evidence, the errors, and with --all every other file. No
// script, no external resource; every string from the input is HTML-escaped (file names come from
// the examined media).
#include <algorithm>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "plugins/report/report.h"

namespace s3d::report {
namespace {

std::string esc(const std::string& s) {
  std::string o;
  o.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&#39;"; break;
      default: o += (static_cast<unsigned char>(c) < 0x20 && c != '\t') ? '?' : c;
    }
  }
  return o;
}

std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

void table(std::ostream& out, const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  out << "<table><tr>";
  for (const auto& h : head) out << "<th>" << esc(h) << "</th>";
  out << "</tr>\n";
  for (const auto& row : rows) {
    out << "<tr>";
    for (const auto& c : row) out << "<td>" << esc(c) << "</td>";
    out << "</tr>\n";
  }
  out << "</table>\n";
}

void write_html(const ReportData& data, std::ostream& out) {
  out << "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>screen3d report</title>\n"
         "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1.5em}"
         "td,th{border:1px solid #999;padding:3px 6px;text-align:left;vertical-align:top;font-size:90%}"
         "th{background:#eee}.restricted{color:#a00;font-weight:bold}.review{color:#a60}</style></head><body>\n"
         "<h1>screen3d report</h1>\n";
  std::vector<std::vector<std::string>> about = {{"generated", data.generated}};
  for (const auto& in : data.inputs) about.push_back({"input", in});
  const json& x = data.examination;
  if (x.is_object()) {
    for (const char* k : {"tool", "version", "started", "finished"})
      if (x.contains(k)) about.push_back({k, text(x[k])});
    if (x.contains("database") && x["database"].is_object())
      for (const char* k : {"path", "sha256", "signatures"})
        if (x["database"].contains(k)) about.push_back({std::string("database ") + k, text(x["database"][k])});
    if (x.contains("settings") && x["settings"].is_object())
      for (auto it = x["settings"].begin(); it != x["settings"].end(); ++it) about.push_back({"setting " + it.key(), text(it.value())});
  }
  table(out, {"", ""}, about);

  if (x.is_object() && x.contains("images") && x["images"].is_array() && !x["images"].empty()) {
    out << "<h2>Images</h2>\n";
    std::vector<std::string> head = {"path", "size", "sha256", "error"};
    for (const char* k : {"screened", "restricted", "review", "clean", "errors", "not_3d", "deleted", "carved"}) head.push_back(k);
    std::vector<std::vector<std::string>> rows;
    for (const json& im : x["images"]) {
      std::vector<std::string> row;
      for (const auto& h : head) row.push_back(im.is_object() && im.contains(h) ? text(im[h]) : "");
      rows.push_back(std::move(row));
    }
    table(out, head, rows);
  }

  std::map<std::string, size_t> counts;
  for (const json& r : data.results) ++counts[r.value("verdict", std::string("error"))];
  out << "<h2>Results in this report</h2>\n";
  std::vector<std::vector<std::string>> crow;
  for (const char* v : {"restricted", "review", "error", "clean", "skipped"}) crow.push_back({v, std::to_string(counts[v])});
  table(out, {"verdict", "files"}, crow);
  if (x.is_object() && x.contains("images"))
    out << "<p>An examination report lists only its findings and errors; the per-image counts above cover every file.</p>\n";

  std::vector<const json*> findings, errors, others;
  for (const json& r : data.results) {
    const int k = verdict_rank(r.value("verdict", std::string("error")));
    (k <= 1 ? findings : k == 2 ? errors : others).push_back(&r);
  }
  std::stable_sort(findings.begin(), findings.end(), [](const json* a, const json* b) {
    const int ka = verdict_rank(a->value("verdict", std::string())), kb = verdict_rank(b->value("verdict", std::string()));
    if (ka != kb) return ka < kb;
    return a->value("score", 0.0) > b->value("score", 0.0);
  });
  out << "<h2>Findings</h2>\n";
  if (findings.empty()) out << "<p>None.</p>\n";
  for (const json* r : findings) {
    const Row w = row_of(*r);
    out << "<h3 class=\"" << esc(w.verdict) << "\">" << esc(w.verdict) << ": " << esc(w.path) << "</h3>\n";
    std::vector<std::vector<std::string>> ev = {{"score", w.score}, {"format", w.format}, {"sha256", w.sha256}};
    if (!w.md5.empty()) ev.push_back({"md5", w.md5});
    if (!w.sha1.empty()) ev.push_back({"sha1", w.sha1});
    if (!w.image_inode.empty() || !w.image_file_system.empty())
      ev.push_back({"in the image", "partition " + w.image_partition + ", " + w.image_file_system + ", inode " + w.image_inode +
                                        (w.image_deleted == "true" ? ", deleted" : "") + (w.image_carved == "true" ? ", carved" : "") +
                                        (w.image_carved_partial == "true" ? " (its end not found)" : "")});
    if (!w.queue_action.empty()) ev.push_back({"queue", w.queue_action + " " + w.queue_to});
    table(out, {"", ""}, ev);
    std::vector<std::vector<std::string>> ms;
    if (r->contains("matches") && (*r)["matches"].is_array())
      for (const json& m : (*r)["matches"]) {
        std::vector<std::string> row;
        for (const char* k : {"signature", "label", "category", "score", "coverage", "scale", "mirrored", "method", "bodies"})
          row.push_back(m.is_object() && m.contains(k) ? text(m[k]) : "");
        ms.push_back(std::move(row));
      }
    if (!ms.empty()) table(out, {"signature", "label", "category", "score", "coverage", "scale", "mirrored", "method", "bodies"}, ms);
  }
  out << "<h2>Errors</h2>\n";
  if (errors.empty()) out << "<p>None.</p>\n";
  std::vector<std::vector<std::string>> erows;
  for (const json* r : errors) {
    const Row w = row_of(*r);
    erows.push_back({w.path, w.error});
  }
  if (!erows.empty()) table(out, {"path", "reason"}, erows);
  if (x.is_object() && x.value("errors_not_listed", 0) > 0)
    out << "<p>" << x.value("errors_not_listed", 0) << " more errors were counted but not listed.</p>\n";
  if (data.all) {
    out << "<h2>Other files</h2>\n";
    std::vector<std::vector<std::string>> orows;
    for (const json* r : others) {
      const Row w = row_of(*r);
      orows.push_back({w.path, w.verdict, w.score, w.format, w.sha256});
    }
    if (orows.empty()) out << "<p>None.</p>\n";
    else table(out, {"path", "verdict", "score", "format", "sha256"}, orows);
  }
  out << "</body></html>\n";
}

}  // namespace

extern const ReportWriter kHtmlWriter{"html", "a self-contained page: what was examined, counts, findings with evidence, errors",
                                      &write_html};

}  // namespace s3d::report
