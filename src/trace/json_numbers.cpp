#include "trace/json_numbers.h"

#include <limits>

namespace smaragdine::trace_internal {

namespace {

// The common shape, "1712169098533620.758": at most 16 integer and 3 fraction
// digits, so no rounding is needed. False means "not this shape":
// the general parser below decides.
bool ParsePlainMicros(std::string_view s, int64_t* out_ns) {
  size_t i = 0;
  const size_t n = s.size();
  const bool negative = n > 0 && s[0] == '-';
  if (negative) ++i;
  const size_t int_start = i;
  uint64_t v = 0;
  for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) v = v * 10 + static_cast<uint64_t>(s[i] - '0');
  if (i == int_start || i - int_start > 16) return false;  // with 3 more: < 1e19, no wrap
  int fraction_digits = 0;
  if (i < n && s[i] == '.') {
    ++i;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && fraction_digits < 3; ++i, ++fraction_digits)
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
    if (fraction_digits == 0) return false;
  }
  if (i != n) return false;  // more digits, an exponent, junk: the general path
  static constexpr uint64_t kScale[] = {1000, 100, 10, 1};
  // Up to 19 digits: the product may still pass the int64 range.
  if (__builtin_mul_overflow(v, kScale[fraction_digits], &v) ||
      v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return false;
  *out_ns = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

}  // namespace

bool ParseMicrosToNs(std::string_view text, int64_t* out_ns) {
  std::string_view s = TrimJsonSpace(text);
  if (s.empty()) return false;
  if (ParsePlainMicros(s, out_ns)) return true;
  size_t i = 0;
  bool negative = false;
  if (s[i] == '-' || s[i] == '+') negative = s[i++] == '-';
  // Mantissa digits accumulate into a 128-bit integer; beyond 36 significant
  // digits the rest only shifts the exponent (they are far below 1 ns).
  __int128 mantissa = 0;
  int significant = 0;
  int64_t exponent = 3;  // µs → ns
  bool any_digit = false;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    any_digit = true;
    if (significant < 36) {
      mantissa = mantissa * 10 + (s[i] - '0');
      if (mantissa != 0) ++significant;
    } else {
      ++exponent;
    }
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      any_digit = true;
      if (significant < 36) {
        mantissa = mantissa * 10 + (s[i] - '0');
        if (mantissa != 0) ++significant;
        --exponent;
      }
    }
  }
  if (!any_digit) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) exp_negative = s[i++] == '-';
    int64_t e = 0;
    bool exp_digit = false;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
      exp_digit = true;
      if (e < 100000) e = e * 10 + (s[i] - '0');
    }
    if (!exp_digit) return false;
    exponent += exp_negative ? -e : e;
  }
  if (i != s.size()) return false;
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  if (exponent >= 0) {
    for (int64_t k = 0; k < exponent && mantissa != 0; ++k) {
      mantissa *= 10;
      if (mantissa > kMax) return false;
    }
  } else {
    if (exponent < -38) {
      mantissa = 0;
    } else {
      __int128 divisor = 1;
      for (int64_t k = 0; k < -exponent; ++k) divisor *= 10;
      __int128 q = mantissa / divisor;
      __int128 r = mantissa % divisor;
      if (r * 2 >= divisor) ++q;  // half away from zero (sign applied below)
      mantissa = q;
    }
  }
  if (mantissa > kMax) return false;
  *out_ns = negative ? -static_cast<int64_t>(mantissa) : static_cast<int64_t>(mantissa);
  return true;
}

bool ParseInt64(std::string_view text, int64_t* out) {
  // The common case, a plain decimal of at most 18 digits ("External id"):
  // it cannot overflow, so no per-digit overflow test (a division) is needed.
  if (!text.empty() && text.size() <= 18) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i)
      v = v * 10 + static_cast<uint64_t>(text[i] - '0');
    if (i == text.size()) {
      *out = static_cast<int64_t>(v);
      return true;
    }
  }
  std::string_view s = TrimJsonSpace(text);
  if (s.empty()) return false;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '-' || s[0] == '+') negative = s[i++] == '-';
  int base = 10;
  if (s.size() > i + 1 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    base = 16;
    i += 2;
  }
  if (i == s.size()) return false;
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    int d;
    char c = s[i];
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else if (c == '.' && base == 10) break;  // "12.0": keep the integer part
    else return false;
    if (v > (std::numeric_limits<uint64_t>::max() - d) / base) return false;
    v = v * base + d;
  }
  if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
  *out = negative ? -static_cast<int64_t>(v) : static_cast<int64_t>(v);
  return true;
}

}  // namespace smaragdine::trace_internal
