#include "signatures/signature.h"

namespace s3d {

const char* category_name(Category c) {
  switch (c) {
    case Category::kReceiver: return "receiver";
    case Category::kFrame: return "frame";
    case Category::kFireControl: return "fire-control";
    case Category::kOther: return "other";
  }
  return "other";
}

bool parse_category(const std::string& s, Category* out) {
  for (Category c : {Category::kReceiver, Category::kFrame, Category::kFireControl, Category::kOther}) {
    if (s == category_name(c)) {
      if (out) *out = c;
      return true;
    }
  }
  return false;
}

}  // namespace s3d
