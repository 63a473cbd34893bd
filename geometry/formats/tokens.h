#pragma once
// Whitespace tokens and numbers in text: the small helpers the format readers share (OBJ, OFF, the
// PLY header, and the XML text of AMF and 3MF).
#include <charconv>
#include <string>
#include <string_view>
#include <system_error>

namespace s3d::formats::text {

inline bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

// Splits the next whitespace-delimited token off `s`; empty when none is left.
inline std::string_view next_token(std::string_view& s) {
  size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  size_t j = i;
  while (j < s.size() && !is_space(s[j])) ++j;
  const std::string_view tok = s.substr(i, j - i);
  s.remove_prefix(j);
  return tok;
}

// `s` without leading and trailing whitespace (line breaks included).
inline std::string_view trim(std::string_view s) {
  while (!s.empty() && (is_space(s.front()) || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (is_space(s.back()) || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

// The whole token as a number of type T (an optional leading '+' allowed).
template <typename T>
bool parse_number(std::string_view tok, T& out) {
  if (!tok.empty() && tok.front() == '+') tok.remove_prefix(1);
  if (tok.empty()) return false;
  const auto [ptr, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), out);
  return ec == std::errc() && ptr == tok.data() + tok.size();
}

// At most 40 characters of `s` for a message, control characters blanked.
inline std::string shorten(std::string_view s) {
  std::string out(s.substr(0, 40));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  return out;
}

}  // namespace s3d::formats::text
