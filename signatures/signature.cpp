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

size_t listed_hash_bytes(ListedHash h) {
  switch (h) {
    case ListedHash::kSha256: return 32;
    case ListedHash::kMd5: return 16;
    case ListedHash::kSha1: return 20;
    case ListedHash::kNone: break;
  }
  return 0;
}

const char* listed_hash_name(ListedHash h) {
  switch (h) {
    case ListedHash::kSha256: return "sha256";
    case ListedHash::kMd5: return "md5";
    case ListedHash::kSha1: return "sha1";
    case ListedHash::kNone: break;
  }
  return "shape";
}

}  // namespace s3d
