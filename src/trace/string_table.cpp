#include "trace/string_table.h"

#include <algorithm>
#include <cstring>

namespace smaragdine::trace_internal {

StringTable::StringTable() : slots_(64, 0) {
  // The empty string is id 0 (recent_ starts pointing at it).
  const uint64_t h = Hash("");
  views_.push_back(strings_.emplace_back());
  hashes_.push_back(h);
  slots_[h & (slots_.size() - 1)] = SlotValue(h, 0);
}

StringTable::StringTable(const StringTable& o)
    : strings_(o.strings_), hashes_(o.hashes_), slots_(o.slots_) {
  for (size_t k = 0; k < kRecent; ++k) recent_[k] = o.recent_[k];
  views_.assign(strings_.begin(), strings_.end());  // this table's bytes, not o's
}

StringTable& StringTable::operator=(const StringTable& o) {
  if (this != &o) *this = StringTable(o);
  return *this;
}

uint64_t StringTable::Hash(std::string_view s) {
  // 8 bytes at a time, multiply-xorshift mixing: names are short and few
  // distinct, so this only has to spread them, not resist attacks. Long
  // names (TF1's scoped node names, 40-80 bytes) go 16 bytes a round in two
  // independent lanes, half the chain of multiplies. The last 1-7 bytes:
  // one load overlapping the bytes before when the string has 8, else two
  // overlapping 4-byte loads or a byte loop (no memcpy call).
  const size_t n = s.size();
  const char* d = s.data();
  uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
  size_t i = 0;
  if (n >= 32) {
    uint64_t g = 0xC2B2AE3D27D4EB4Full;
    for (; i + 16 <= n; i += 16) {
      uint64_t w, x;
      std::memcpy(&w, d + i, 8);
      std::memcpy(&x, d + i + 8, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      g = (g ^ x) * 0x94D049BB133111EBull;
      h ^= h >> 31;
      g ^= g >> 29;
    }
    h ^= g * 0x9E3779B97F4A7C15ull;
  }
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, d + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  if (i < n) {
    uint64_t w = 0;
    if (n >= 8) {
      std::memcpy(&w, d + n - 8, 8);
    } else if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, d, 4);
      std::memcpy(&b, d + n - 4, 4);
      w = (uint64_t{a} << 32) | b;
    } else {
      for (size_t k = 0; k < n; ++k) w = (w << 8) | static_cast<unsigned char>(d[k]);
    }
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}


size_t StringTable::Slot(std::string_view s, uint64_t h) const {
  const size_t mask = slots_.size() - 1;
  const uint64_t tag = h & 0xffffffff00000000ull;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const uint64_t v = slots_[i];
    if (v == 0) return i;
    if ((v & 0xffffffff00000000ull) == tag) {
      const std::string_view have = views_[static_cast<uint32_t>(v) - 1];
      if (have.size() == s.size() && SameBytes(have.data(), s.data(), s.size())) return i;
    }
  }
}

void StringTable::Grow() {
  std::vector<uint64_t> bigger(slots_.size() * 2, 0);
  const size_t mask = bigger.size() - 1;
  for (StrId id = 0; id < strings_.size(); ++id) {
    size_t i = hashes_[id] & mask;
    while (bigger[i] != 0) i = (i + 1) & mask;
    bigger[i] = SlotValue(hashes_[id], id);
  }
  slots_ = std::move(bigger);
}

StrId StringTable::Intern(std::string_view s) {
  // The strings interned last first: a trace repeats them side by side (a
  // TF1 node's type as its args.op and name, its args.name as the next
  // node's input0, three strings later), and a compare is cheaper than a
  // hash and a probe.
  for (StrId id : recent_) {
    const std::string_view have = views_[id];
    if (have.size() == s.size() && SameBytes(have.data(), s.data(), s.size())) return id;
  }
  const uint64_t h = Hash(s);
  size_t slot = Slot(s, h);
  StrId id;
  if (slots_[slot] != 0) {
    id = static_cast<StrId>(slots_[slot]) - 1;
  } else {
    id = static_cast<StrId>(strings_.size());
    const std::string& kept = strings_.emplace_back(s);
    views_.push_back(kept);
    hashes_.push_back(h);
    slots_[slot] = SlotValue(h, id);
    if (strings_.size() * 2 > slots_.size()) Grow();  // load factor <= 1/2
  }
  Used(id);
  return id;
}

void StringTable::Truncate(size_t n) {
  if (n >= strings_.size()) return;
  // Slots are filled in id order (Intern, and Grow re-inserts by id), so no
  // remaining string's probe passes through the slot of a later one: freeing
  // the removed ids' slots, the latest first, leaves every lookup as it was.
  // A cost in the strings removed, not in the table (the fast scanner undoes
  // the few strings of an event it declines).
  const size_t mask = slots_.size() - 1;
  for (size_t id = strings_.size(); id-- > n;) {
    size_t i = hashes_[id] & mask;
    while (static_cast<uint32_t>(slots_[i]) != id + 1) i = (i + 1) & mask;
    slots_[i] = 0;
  }
  strings_.resize(n);
  views_.resize(n);
  hashes_.resize(n);
  for (StrId& id : recent_)
    if (id >= n) id = 0;  // the empty string, id 0, is never removed
}

StrId StringTable::Find(std::string_view s) const {
  size_t slot = Slot(s, Hash(s));
  return slots_[slot] == 0 ? kNoStr : static_cast<StrId>(slots_[slot]) - 1;
}

}  // namespace smaragdine::trace_internal
