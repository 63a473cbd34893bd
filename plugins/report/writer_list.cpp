// The report writers, one line each (their code: one folder each). --format takes their names.
#include "plugins/report/report.h"

namespace s3d::report {

extern const ReportWriter kCsvWriter;   // csv/
extern const ReportWriter kHtmlWriter;  // html/

const std::vector<const ReportWriter*>& report_writers() {
  static const std::vector<const ReportWriter*> list = {&kCsvWriter, &kHtmlWriter};
  return list;
}

}  // namespace s3d::report
