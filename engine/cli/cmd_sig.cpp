// `screen3d sig add|list|remove`: edit and inspect a signature database.
//   sig add --db DB --label LABEL --category CATEGORY [--severity S] [--added-by NAME] [--no-checks] FILE...
//   sig add-hashes --db DB --category CATEGORY [--label LABEL] [--severity S] [--added-by NAME] LIST...
//   sig list --db DB [--json]
//   sig remove --db DB ID...
// --db defaults to $SCREEN3D_DB. Edits load the whole database, change it in memory and write it
// back atomically once (signatures/database.h), so a failed command leaves the file as it was.
// Files that fail (unreadable, duplicate reference) are reported and skipped; the others are still
// added and the exit status is 2. Results (new or removed ids, listings) go to stdout only after the
// database was written; diagnostics are one stderr line each. `sig add` also warns, without
// refusing, when a reference resembles an existing entry or is matched by a plain box, rod or pipe
// of its own size (engine/reference_checks.h). `sig add-hashes` adds listed files by a digest alone
// (SHA-256, SHA-1 or MD5: SignatureMeta::listed), from hash lists such as sha256sum writes: for operators
// given a list of known files rather than the files, and for files of any type (CAD sources,
// archives) that shape matching cannot read.
#include <time.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "engine/cli/command.h"
#include "engine/input.h"
#include "engine/reference_checks.h"
#include "engine/sha256.h"
#include "engine/version.h"
#include "geometry/canonical_hash.h"
#include "signatures/build_signature.h"
#include "signatures/database.h"

namespace s3d::cli {
namespace {

struct SigOptions {
  std::string db;
  // add
  std::string label;
  std::string category;
  int severity = 5;
  std::string added_by;
  std::vector<std::string> files;  // add: reference files; add-hashes: hash lists
  bool no_checks = false;
  // list
  bool json = false;
  // remove
  std::vector<std::string> ids;
};

// --db, else $SCREEN3D_DB (CLI11 fills it from the environment); empty means neither was given.
bool have_db(const SigOptions& o, const char* command) {
  if (!o.db.empty()) return true;
  diagnose(command, "no signature database given (use --db DB or set SCREEN3D_DB)");
  return false;
}

std::string iso8601_utc(int64_t unix_seconds) {
  const time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm{};
  char buf[40];
  if (static_cast<int64_t>(t) != unix_seconds || gmtime_r(&t, &tm) == nullptr ||
      std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return std::to_string(unix_seconds);  // outside what the C library can render
  return buf;
}

std::string hex64(uint64_t v) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string hex_lower(std::string_view s) {
  std::string r(s);
  for (char& c : r)
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
  return r;
}

// Hex digits to bytes; false when `s` is not exactly 2 x out.size() of them.
bool parse_hex(std::string_view s, std::span<uint8_t> out) {
  if (s.size() != 2 * out.size()) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

bool parse_sha256_hex(const std::string& s, std::array<uint8_t, 32>& out) { return parse_hex(s, out); }

// Labels in a database may be hostile: never let control characters reach a terminal.
std::string printable(std::string_view s) {
  std::string r;
  r.reserve(s.size());
  for (char c : s) r.push_back((static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c);
  return r;
}

std::string default_added_by() {
  for (const char* var : {"USER", "LOGNAME"})
    if (const char* v = std::getenv(var); v && *v) return v;
  return "";
}

// One reference file -> a complete Signature (everything but the id) and the mesh it was built
// from (for the checks), or a one-line reason.
bool signature_for_file(const std::string& path, const SigOptions& o, Category category, Signature& sig, Mesh& mesh_out,
                        std::string& error) {
  try {
    LoadedInput in = load_input(InputFile{path}, ReadOptions{});
    if (!in.ok()) {
      error = in.error;
      return false;
    }
    const Mesh& mesh = *in.mesh;
    sig = build_signature(mesh);
    sig.meta.label = o.label;
    sig.meta.category = category;
    sig.meta.severity = static_cast<uint8_t>(o.severity);
    if (!parse_sha256_hex(in.sha256, sig.meta.sha256)) {
      error = "internal error: no SHA-256 for the file";
      return false;
    }
    sig.meta.exact_hash = exact_geometry_hash(mesh);
    sig.meta.pose_hash = pose_invariant_hash(mesh);
    sig.meta.added_by = o.added_by;
    sig.meta.added_at = static_cast<int64_t>(std::time(nullptr));
    sig.meta.tool_version = engine_version();
    mesh_out = std::move(*in.mesh);  // `mesh` refers to it: last use above
    return true;
  } catch (const std::invalid_argument& e) {
    error = one_line(std::string("cannot build a signature: ") + e.what());
  } catch (const std::exception& e) {
    error = one_line(std::string("internal error: ") + e.what());
  }
  return false;
}

// What `sig add` and `sig add-hashes` check first: a database, the category and severity; then the
// database's contents (empty when the file does not exist yet). False after a diagnostic.
bool begin_adding(const SigOptions& o, const char* command, Category& category, DbContents& db) {
  if (!have_db(o, command)) return false;
  if (!parse_category(o.category, &category)) {
    diagnose(command, "unknown category '" + o.category + "' (expected receiver, frame, fire-control or other)");
    return false;
  }
  if (o.severity < 1 || o.severity > 10) {
    diagnose(command, "severity " + std::to_string(o.severity) + " out of range (expected 1..10)");
    return false;
  }
  try {
    db = load_contents_or_empty(o.db);
  } catch (const DbError& e) {
    diagnose(o.db, e.what());
    return false;
  }
  return true;
}

// Writes the edited database when something changed (`done`: the lines saying what, non-empty),
// then prints them; the exit status.
int finish_edit(const SigOptions& o, const DbContents& db, const std::string& done, bool any_error) {
  if (!done.empty()) {
    try {
      write_database(o.db, db);
    } catch (const DbError& e) {
      diagnose(o.db, e.what());
      return kExitError;
    }
    write_out(done);
  }
  return any_error ? kExitError : kExitOk;
}

int run_add(const SigOptions& o) {
  Category category{};
  DbContents db;
  if (!begin_adding(o, "sig add", category, db)) return kExitError;
  if (o.label.empty()) {
    diagnose("sig add", "empty --label");
    return kExitError;
  }

  bool any_error = false;
  std::string added;  // stdout, once the database is written
  for (const std::string& path : o.files) {
    Signature sig;
    Mesh mesh;
    std::string error;
    if (!signature_for_file(path, o, category, sig, mesh, error)) {
      diagnose(path, error);
      any_error = true;
      continue;
    }
    // What an operator should know before relying on the entry (reference_checks.h): warnings
    // only, the entry is added all the same.
    std::vector<std::string> warnings;
    if (!o.no_checks) {
      const MatchSettings ms;
      char buf[64];
      for (const MatchEvidence& m : resembling_entries(db.entries, mesh, ms)) {
        std::snprintf(buf, sizeof buf, "%.2f", m.score);
        warnings.push_back("warning: resembles " + m.signature_id + " '" + printable(m.label) + "' (score " + buf +
                           "): a variant or remeshed copy of a reference already in the database?");
      }
      const std::vector<StandInScore> plain = plain_stand_ins(sig, mesh, ms);
      // Stored with the entry: the matcher asks a shape match to beat it clearly (Signature::plain_match).
      sig.plain_match = plain_match_from(plain);
      size_t reaching = 0;
      for (const StandInScore& p : plain) reaching += p.score >= ms.review_threshold;
      if (reaching > 0) {
        std::snprintf(buf, sizeof buf, "%.2f", plain[0].score);
        std::string w = "warning: not distinctive: a plain " + plain[0].shape + " scores " + buf + " against it";
        if (reaching > 1) w += " (" + std::to_string(reaching) + " of " + std::to_string(plain.size()) + " plain solids tried reach review)";
        warnings.push_back(w + ", so plain parts of this size would be flagged");
      }
    }
    try {
      const std::string id = add_signature(db, std::move(sig));
      for (const std::string& w : warnings) diagnose(path, w);
      added += id + "\t" + printable(path) + "\n";
    } catch (const DbError& e) {  // DuplicateError names the existing id
      diagnose(path, e.what());
      any_error = true;
    }
  }
  return finish_edit(o, db, added, any_error);
}

// One line of a hash list: "HEX  NAME" or "HEX *NAME" (sha256sum, sha1sum, md5sum), "SHA256 (NAME) =
// HEX", "SHA1 (...)", "MD5 (...)" (BSD tools and `--tag`), or HEX alone. The digest is told by its
// length: 64 hex digits SHA-256, 40 SHA-1, 32 MD5. Blank lines and '#' comments give false with no
// reason.
bool parse_hash_line(std::string_view line, ListedHash& kind, std::array<uint8_t, 32>& digest, std::string& name,
                     std::string& why) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.remove_suffix(1);
  while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
  if (line.empty() || line.front() == '#') return false;
  name.clear();
  std::string_view hex;
  ListedHash tagged = ListedHash::kNone;
  for (const auto& [tag, k] : {std::pair<std::string_view, ListedHash>{"SHA256 (", ListedHash::kSha256},
                               {"SHA1 (", ListedHash::kSha1}, {"MD5 (", ListedHash::kMd5}})
    if (line.substr(0, tag.size()) == tag) tagged = k;
  if (tagged != ListedHash::kNone) {
    const size_t open = line.find('(');
    const size_t close = line.rfind(") = ");
    if (close == std::string_view::npos || close < open) {
      why = "expected \"SHA256 (NAME) = HEX\", \"SHA1 (...)\" or \"MD5 (...)\"";
      return false;
    }
    name = std::string(line.substr(open + 1, close - open - 1));
    hex = line.substr(close + 4);
  } else {
    const size_t sp = line.find_first_of(" \t");
    hex = line.substr(0, sp);
    if (sp != std::string_view::npos) {
      std::string_view rest = line.substr(sp);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      if (!rest.empty() && rest.front() == '*') rest.remove_prefix(1);  // the binary-mode mark
      name = std::string(rest);
    }
  }
  kind = hex.size() == 64 ? ListedHash::kSha256 : hex.size() == 40 ? ListedHash::kSha1 : hex.size() == 32 ? ListedHash::kMd5
                                                                                                      : ListedHash::kNone;
  digest = {};
  if (kind == ListedHash::kNone || (tagged != ListedHash::kNone && tagged != kind) ||
      !parse_hex(hex, std::span<uint8_t>(digest.data(), listed_hash_bytes(kind)))) {
    why = "not a SHA-256, SHA-1 or MD5 (64, 40 or 32 hexadecimal digits)";
    return false;
  }
  // The empty file's digests would make every empty file restricted: a list made by hashing a
  // folder holds one whenever the folder holds an empty file.
  static const std::string_view kEmpty[] = {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                            "da39a3ee5e6b4b0d3255bfef95601890afd80709",
                                            "d41d8cd98f00b204e9800998ecf8427e"};
  for (std::string_view e : kEmpty)
    if (hex.size() == e.size() && hex_lower(hex) == e) {
      why = "the digest of an empty file (every empty file would match it): not added";
      return false;
    }
  return true;
}

int run_add_hashes(const SigOptions& o) {
  Category category{};
  DbContents db;
  if (!begin_adding(o, "sig add-hashes", category, db)) return kExitError;
  bool any_error = false;
  std::vector<Signature> sigs;
  std::vector<std::string> origin;  // "LIST:LINE" of each
  constexpr std::streamsize kMaxLine = 1 << 16;
  std::vector<char> buf(static_cast<size_t>(kMaxLine) + 1);
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  for (const std::string& list : o.files) {
    std::ifstream file;
    if (list != "-") {
      file.open(list, std::ios::binary);
      if (!file) {
        diagnose(list, "cannot open the hash list");
        any_error = true;
        continue;
      }
    }
    std::istream& in = list == "-" ? std::cin : file;
    for (uint64_t n = 1;; ++n) {
      in.getline(buf.data(), kMaxLine + 1);
      const std::string where = list + ":" + std::to_string(n);
      if (in.fail() && !in.eof() && in.gcount() == kMaxLine) {  // longer than kMaxLine: skip its rest
        in.clear();
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
        diagnose(where, "line longer than " + std::to_string(kMaxLine) + " bytes: not added");
        any_error = true;
        continue;
      }
      if (in.gcount() == 0 && !in) break;
      std::array<uint8_t, 32> digest{};
      ListedHash kind = ListedHash::kNone;
      std::string name, why;
      if (!parse_hash_line(std::string_view(buf.data()), kind, digest, name, why)) {
        if (!why.empty()) {
          diagnose(where, why);
          any_error = true;
        }
        if (!in) break;
        continue;
      }
      Signature s;
      s.meta.listed = kind;
      s.meta.sha256 = digest;
      s.meta.label = !o.label.empty() ? o.label
                     : !name.empty()  ? name
                                      : std::string(listed_hash_name(kind)) + ":" + to_hex(std::span<const uint8_t>(digest.data(), 8));
      s.meta.category = category;
      s.meta.severity = static_cast<uint8_t>(o.severity);
      s.meta.added_by = o.added_by;
      s.meta.added_at = now;
      s.meta.tool_version = engine_version();
      sigs.push_back(std::move(s));
      origin.push_back(where);
      if (!in) break;
    }
  }
  std::vector<std::string> hexes;
  hexes.reserve(sigs.size());
  for (const Signature& s : sigs) hexes.push_back(to_hex(std::span<const uint8_t>(s.meta.sha256.data(), listed_hash_bytes(s.meta.listed))));
  const std::vector<AddOutcome> results = add_signatures(db, std::move(sigs));
  std::string added;  // stdout, once the database is written
  uint64_t present = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].id.empty()) {
      added += results[i].id + "\t" + hexes[i] + "\n";
    } else if (!results[i].duplicate_of.empty()) {
      ++present;  // a list merged again, or a file listed twice: nothing to do
    } else {
      diagnose(origin[i], results[i].error);
      any_error = true;
    }
  }
  if (present > 0)
    diagnose("sig add-hashes", std::to_string(present) + " listed file(s) already in the database (left as they are)");
  return finish_edit(o, db, added, any_error);
}

int run_list(const SigOptions& o) {
  if (!have_db(o, "sig list")) return kExitError;
  try {
    const SignatureDb db = SignatureDb::open(o.db);
    std::string out;
    for (size_t i = 0; i < db.size(); ++i) {
      const EntryRecord& r = db.record(i);
      // A listed file known by MD5 or SHA-1 holds that digest in the first 16 or 20 bytes.
      const auto kind = static_cast<ListedHash>(r.kind);
      const bool by_sha256 = kind == ListedHash::kNone || kind == ListedHash::kSha256;
      const std::string sha = to_hex(std::span<const uint8_t>(r.sha256, by_sha256 ? sizeof r.sha256 : listed_hash_bytes(kind)));
      const std::string when = iso8601_utc(r.added_at);
      const std::string category = category_name(db.category(i));
      if (o.json) {
        nlohmann::ordered_json j;
        j["id"] = std::string(db.id(i));
        j["label"] = std::string(db.label(i));
        j["category"] = category;
        j["severity"] = r.severity;
        j["sha256"] = by_sha256 ? nlohmann::ordered_json(sha) : nlohmann::ordered_json(nullptr);
        if (!by_sha256) j[listed_hash_name(kind)] = sha;
        j["added_at"] = when;
        j["added_by"] = std::string(db.added_by(i));
        j["tool_version"] = std::string(db.tool_version(i));
        j["points"] = r.point_count;
        // "shape", or the digest a listed file is known by ("sha256", "md5", "sha1": byte-identical files only)
        j["kind"] = listed_hash_name(kind);
        j["exact_hash"] = hex64(r.exact_hash);
        j["pose_hash"] = hex64(r.pose_hash);
        // The best plain look-alike's score, measured by `sig add` (null: added with --no-checks).
        const float pm = decode_plain_match(r.plain_match);
        j["plain_match"] = pm >= 0 ? nlohmann::ordered_json(std::round(double(pm) * 1000) / 1000) : nlohmann::ordered_json(nullptr);
        // Invalid UTF-8 in a label is replaced rather than aborting the listing.
        out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
      } else {
        char line[160];
        std::snprintf(line, sizeof line, "%-10s %-12s %2u  %-20s %5u  %s  ", std::string(db.id(i)).c_str(),
                      category.c_str(), static_cast<unsigned>(r.severity), when.c_str(),
                      static_cast<unsigned>(r.point_count), sha.c_str());
        out += line + printable(db.label(i)) + "\n";
      }
    }
    write_out(out);
  } catch (const DbError& e) {
    diagnose(o.db, e.what());
    return kExitError;
  }
  return kExitOk;
}

int run_remove(const SigOptions& o) {
  if (!have_db(o, "sig remove")) return kExitError;
  DbContents db;
  try {
    db = load_contents(SignatureDb::open(o.db));
  } catch (const DbError& e) {
    diagnose(o.db, e.what());
    return kExitError;
  }
  bool any_error = false;
  std::string removed;
  for (const std::string& id : o.ids) {
    try {
      remove_signature(db, id);
      removed += printable(id) + "\n";
    } catch (const DbError& e) {
      diagnose(o.db, e.what());
      any_error = true;
    }
  }
  return finish_edit(o, db, removed, any_error);
}

void add_db_option(CLI::App* sub, SigOptions& o) {
  sub->add_option("--db", o.db, "Signature database file (default: $SCREEN3D_DB)")->envname("SCREEN3D_DB");
}

}  // namespace

void register_sig(CLI::App& app, Context& ctx) {
  CLI::App* sig = app.add_subcommand("sig", "Edit and inspect a signature database: add, list, remove.");
  sig->require_subcommand(1);

  auto add = std::make_shared<SigOptions>();
  add->added_by = default_added_by();
  CLI::App* a = sig->add_subcommand("add", "Add one signature per reference file (creates the database if missing); "
                                           "prints the new id and the file per line.");
  add_db_option(a, *add);
  a->add_option("--label", add->label, "Name of the reference part")->required();
  a->add_option("--category", add->category, "receiver, frame, fire-control or other")->required();
  a->add_option("--severity", add->severity, "1 (low) .. 10 (high)")->capture_default_str();
  a->add_option("--added-by", add->added_by, "Who added it (default: $USER)");
  a->add_option("FILE", add->files, "Reference files (STL, 3MF, OBJ, ...)")->required();
  a->add_flag("--no-checks", add->no_checks,
              "Skip the warnings for a reference that resembles an existing entry or that plain boxes, rods and pipes "
              "of its size would match (about 0.5 s per file)");
  a->callback([add, &ctx] { ctx.exit_code = run_add(*add); });

  auto hashes = std::make_shared<SigOptions>();
  hashes->added_by = default_added_by();
  CLI::App* h = sig->add_subcommand(
      "add-hashes", "Add listed files by a digest alone, SHA-256, SHA-1 or MD5 (creates the database if "
                    "missing): each matches byte-identical files of any type. Reads lists as sha256sum, sha1sum "
                    "and md5sum write them (HEX  NAME), BSD lines (SHA256 (NAME) = HEX, SHA1 (...), MD5 (...)) "
                    "or one HEX per line; prints the new id and the digest per line.");
  add_db_option(h, *hashes);
  h->add_option("--label", hashes->label, "Label of every entry (default: the file name in the list, else "
                                          "sha256:, sha1: or md5: and the first 16 hex digits)");
  h->add_option("--category", hashes->category, "receiver, frame, fire-control or other")->required();
  h->add_option("--severity", hashes->severity, "1 (low) .. 10 (high)")->capture_default_str();
  h->add_option("--added-by", hashes->added_by, "Who added them (default: $USER)");
  h->add_option("LIST", hashes->files, "Hash lists (- for standard input)")->required();
  h->callback([hashes, &ctx] { ctx.exit_code = run_add_hashes(*hashes); });

  auto list = std::make_shared<SigOptions>();
  CLI::App* l = sig->add_subcommand("list", "List entries: id, category, severity, added-at (UTC), sample points, "
                                            "reference SHA-256, label.");
  add_db_option(l, *list);
  l->add_flag("--json", list->json, "One JSON object per entry per line");
  l->callback([list, &ctx] { ctx.exit_code = run_list(*list); });

  auto remove = std::make_shared<SigOptions>();
  CLI::App* r = sig->add_subcommand("remove", "Remove entries by id; removed ids are never reused.");
  add_db_option(r, *remove);
  r->add_option("ID", remove->ids, "Signature ids (s-NNNNNN)")->required();
  r->callback([remove, &ctx] { ctx.exit_code = run_remove(*remove); });
}

}  // namespace s3d::cli
