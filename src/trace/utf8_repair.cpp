#include "trace/utf8_repair.h"

#include <algorithm>

namespace smaragdine::trace_internal {
namespace {

// Length of the well-formed sequence at s[i] (1..4), or 0 when ill-formed,
// with *maximal set to the length of its maximal subpart (>= 1): the bytes
// one U+FFFD stands for. Table 3-7 of the Unicode standard.
size_t WellFormedAt(std::string_view s, size_t i, size_t* maximal) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  *maximal = 1;
  if (c < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;  // bounds of the second byte
  if (c >= 0xC2 && c <= 0xDF) need = 1;
  else if (c == 0xE0) need = 2, lo = 0xA0;
  else if (c >= 0xE1 && c <= 0xEC) need = 2;
  else if (c == 0xED) need = 2, hi = 0x9F;  // no surrogates
  else if (c >= 0xEE && c <= 0xEF) need = 2;
  else if (c == 0xF0) need = 3, lo = 0x90;
  else if (c >= 0xF1 && c <= 0xF3) need = 3;
  else if (c == 0xF4) need = 3, hi = 0x8F;  // nothing past U+10FFFF
  else return 0;                            // 80..C1, F5..FF: never a lead byte
  for (size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return 0;
    const unsigned char x = b(i + k);
    const bool ok = k == 1 ? (x >= lo && x <= hi) : (x >= 0x80 && x <= 0xBF);
    if (!ok) return 0;
    *maximal = k + 1;
  }
  return need + 1;
}

}  // namespace

Utf8Repair RepairUtf8(std::string_view in, size_t spare) {
  Utf8Repair r;
  r.text.reserve(in.size() + in.size() / 8 + spare);
  size_t done = 0;  // bytes of `in` already copied
  int64_t added = 0;
  for (size_t i = 0; i < in.size();) {
    if (static_cast<unsigned char>(in[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t maximal;
    const size_t n = WellFormedAt(in, i, &maximal);
    if (n != 0) {
      i += n;
      continue;
    }
    r.text.append(in.data() + done, i - done);
    r.text.append("\xEF\xBF\xBD");
    ++r.replaced;
    i += maximal;
    done = i;
    added += 3 - static_cast<int64_t>(maximal);
    if (maximal != 3) r.growth.emplace_back(r.text.size(), added);
  }
  r.text.append(in.data() + done, in.size() - done);
  r.text.reserve(r.text.size() + spare);
  return r;
}

int64_t Utf8Repair::OriginalOffset(int64_t repaired) const {
  if (repaired < 0) return repaired;
  // The last replacement that ends at or before `repaired`.
  auto it = std::upper_bound(growth.begin(), growth.end(), static_cast<size_t>(repaired),
                             [](size_t at, const std::pair<size_t, int64_t>& g) { return at < g.first; });
  if (it == growth.begin()) return repaired;
  return repaired - std::prev(it)->second;
}

int64_t FirstInvalidUtf8(std::string_view in) {
  for (size_t i = 0; i < in.size();) {
    size_t maximal;
    const size_t n = WellFormedAt(in, i, &maximal);
    if (n == 0) return static_cast<int64_t>(i);
    i += n;
  }
  return -1;
}

}  // namespace smaragdine::trace_internal
