// string_table.h — interned strings of a parsed trace.
//
// Every name, category, pid and tid of a trace is stored once and referred
// to by a 32-bit id, so a RawEvent stays small and fixed-size.
//
//   StringTable t;
//   StrId id = t.Intern("aten::mm");   // the same id for every later "aten::mm"
//   t.Get(id) == "aten::mm";
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace smaragdine::trace_internal {

using StrId = uint32_t;
constexpr StrId kEmptyStr = 0;  // the empty string, also "absent"

// Interned strings: each distinct string stored once; ids are stable and
// follow first use (the empty string is id 0). Intern runs for several
// fields of every event, so the index is an open-addressing table keyed by a
// cheap hash of the bytes (no allocation on a hit); distinct strings are few,
// so their storage is not the cost. Not thread-safe.
class StringTable {
 public:
  StringTable();
  // A copy views its own strings; a move keeps them where they are (a
  // deque's elements do not move with it).
  StringTable(const StringTable& o);
  StringTable& operator=(const StringTable& o);
  StringTable(StringTable&&) = default;
  StringTable& operator=(StringTable&&) = default;
  StrId Intern(std::string_view s);
  // Intern(s) when a caller can guess the answer: `expected` (any value; an
  // id is checked against the table) is compared first, a hash and a probe
  // only when it is not `s`. The same id and the same table state as Intern.
  StrId InternExpected(std::string_view s, StrId expected) {
    if (expected < views_.size() && Is(expected, s)) {
      Used(expected);
      return expected;
    }
    return Intern(s);
  }
  const std::string& Get(StrId id) const { return strings_[id]; }
  // Whether id's string is `s` (id < size()): no hash, no library call.
  bool Is(StrId id, std::string_view s) const {
    const std::string_view have = views_[id];
    return have.size() == s.size() && SameBytes(have.data(), s.data(), s.size());
  }
  // Whether n bytes at a and b are equal, in 8-byte words (no library call;
  // reads nothing outside either range).
  static bool SameBytes(const char* a, const char* b, size_t n) {
    if (n >= 8) {
      size_t i = 0;
      for (; i + 8 < n; i += 8) {
        uint64_t x, y;
        std::memcpy(&x, a + i, 8);
        std::memcpy(&y, b + i, 8);
        if (x != y) return false;
      }
      uint64_t x, y;
      std::memcpy(&x, a + n - 8, 8);
      std::memcpy(&y, b + n - 8, 8);
      return x == y;
    }
    if (n >= 4) {
      uint32_t x0, y0, x1, y1;
      std::memcpy(&x0, a, 4);
      std::memcpy(&y0, b, 4);
      std::memcpy(&x1, a + n - 4, 4);
      std::memcpy(&y1, b + n - 4, 4);
      return x0 == y0 && x1 == y1;
    }
    for (size_t k = 0; k < n; ++k)
      if (a[k] != b[k]) return false;
    return true;
  }
  // kNoStr when `s` was never interned.
  StrId Find(std::string_view s) const;
  static constexpr StrId kNoStr = 0xffffffffu;
  size_t size() const { return strings_.size(); }
  // Forgets the strings with ids >= n (n >= 1), as if they had never been
  // interned: the reader undoes a slice it has to parse again, the fast
  // scanner an event it declines. Costs the strings removed, not the table.
  void Truncate(size_t n);

 private:
  static uint64_t Hash(std::string_view s);
  // The slot holding `s`, or the empty slot where it would go.
  size_t Slot(std::string_view s, uint64_t h) const;
  void Grow();
  // id was returned: it goes first among the recent ids.
  void Used(StrId id) {
    if (recent_[0] != id) {
      for (size_t k = kRecent - 1; k > 0; --k) recent_[k] = recent_[k - 1];
      recent_[0] = id;
    }
  }
  // A slot: the hash's high half (compared before the bytes) and id + 1.
  static uint64_t SlotValue(uint64_t h, StrId id) {
    return (h & 0xffffffff00000000ull) | (uint64_t{id} + 1);
  }

  std::deque<std::string> strings_;     // a deque never moves its elements
  std::vector<std::string_view> views_;  // per id: strings_[id]'s bytes, for the probe
  std::vector<uint64_t> hashes_;        // per id
  std::vector<uint64_t> slots_;         // SlotValue; 0 = empty; size is a power of two
  static constexpr size_t kRecent = 2;
  StrId recent_[kRecent] = {};          // the ids Intern returned last, latest first
};

}  // namespace smaragdine::trace_internal
