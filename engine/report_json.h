#pragma once
// The `scan --json` line (contract.md): one object per input, fields in contract order, extra
// fields appended (never renamed or removed).
#include <nlohmann/json.hpp>
#include <string>

#include "engine/scan.h"

namespace s3d {

nlohmann::ordered_json scan_result_json(const ScanResult& r);
std::string scan_result_text(const ScanResult& r);  // one human line per input (plus evidence lines)

}  // namespace s3d
