// json_numbers.h — JSON number text into exact integers, and JSON blanks.
//
// Trace times are decimal µs with up to 19 significant digits (epoch µs plus
// a fraction); a double keeps 15–17, so they are parsed from the text into
// integer ns, never through floating point.
//
//   int64_t t_ns;
//   ParseMicrosToNs("1712169098533620.758", &t_ns);  // t_ns == 1712169098533620758
#pragma once

#include <cstdint>
#include <string_view>

namespace smaragdine::trace_internal {

// Parses JSON number text in µs (e.g. "1712169098533620.758", "-1.5e3") into
// ns, rounding half away from zero. Surrounding JSON blanks are ignored.
// False on malformed text or a result outside int64.
bool ParseMicrosToNs(std::string_view text, int64_t* out_ns);
// Parses an integer from JSON number or string text ("12", "-3", "0x1f";
// "12.7" keeps the integer part). False on malformed text or overflow.
bool ParseInt64(std::string_view text, int64_t* out);

// JSON's four blank characters.
inline bool IsJsonSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
inline std::string_view TrimJsonSpaceBack(std::string_view s) {
  while (!s.empty() && IsJsonSpace(s.back())) s.remove_suffix(1);
  return s;
}
inline std::string_view TrimJsonSpace(std::string_view s) {
  s = TrimJsonSpaceBack(s);
  while (!s.empty() && IsJsonSpace(s.front())) s.remove_prefix(1);
  return s;
}

}  // namespace smaragdine::trace_internal
