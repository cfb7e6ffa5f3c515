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
  const std::string& Get(StrId id) const { return strings_[id]; }
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
  // A slot: the hash's high half (compared before the bytes) and id + 1.
  static uint64_t SlotValue(uint64_t h, StrId id) {
    return (h & 0xffffffff00000000ull) | (uint64_t{id} + 1);
  }

  std::deque<std::string> strings_;     // a deque never moves its elements
  std::vector<std::string_view> views_;  // per id: strings_[id]'s bytes, for the probe
  std::vector<uint64_t> hashes_;        // per id
  std::vector<uint64_t> slots_;         // SlotValue; 0 = empty; size is a power of two
  StrId recent_[2] = {0, 0};            // the ids Intern returned last, latest first
};

}  // namespace smaragdine::trace_internal
