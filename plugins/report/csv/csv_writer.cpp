// CSV (RFC 4180) for spreadsheets and case-management imports: a header line, then one line per
// result in input order, whatever its verdict. File names come from the examined media, so a cell
// that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage return) gets
// a leading apostrophe (the OWASP advice against CSV injection); quotes, commas and line breaks are
// quoted as RFC 4180 says.
#include <ostream>
#include <string>

#include "plugins/report/report.h"

namespace s3d::report {
namespace {

std::string cell(const std::string& s) {
  std::string v = s;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) v.insert(0, 1, '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string q = "\"";
  for (char c : v) {
    if (c == '"') q += '"';
    q += c;
  }
  return q + "\"";
}

void write_csv(const ReportData& data, std::ostream& out) {
  out << "path,verdict,score,label,category,signature,coverage,scale,mirrored,format,sha256,error,"
         "partition,file_system,inode,deleted,carved,queue_action,queue_to,method,md5,sha1,"
         "carved_partial\r\n";
  for (const json& r : data.results) {
    const Row w = row_of(r);
    const std::string* cells[] = {&w.path,     &w.verdict,         &w.score,           &w.label,       &w.category,
                                  &w.signature, &w.coverage,       &w.scale,           &w.mirrored,    &w.format,
                                  &w.sha256,   &w.error,           &w.image_partition, &w.image_file_system,
                                  &w.image_inode, &w.image_deleted, &w.image_carved,   &w.queue_action, &w.queue_to,
                                  &w.method,   &w.md5,             &w.sha1,            &w.image_carved_partial};
    bool first = true;
    for (const std::string* c : cells) {
      if (!first) out << ',';
      first = false;
      out << cell(*c);
    }
    out << "\r\n";
  }
}

}  // namespace

extern const ReportWriter kCsvWriter{"csv", "one line per result, for spreadsheets (formula cells neutralised)", &write_csv};

}  // namespace s3d::report
