#include "trace/string_table.h"

#include <algorithm>
#include <cstring>

namespace smaragdine::trace_internal {

StringTable::StringTable() : slots_(64, 0) { Intern(""); }

uint64_t StringTable::Hash(std::string_view s) {
  // 8 bytes at a time, multiply-xorshift mixing: names are short and few
  // distinct, so this only has to spread them, not resist attacks.
  uint64_t h = 0x9E3779B97F4A7C15ull ^ s.size();
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
  }
  if (i < s.size()) {
    uint64_t w = 0;
    std::memcpy(&w, s.data() + i, s.size() - i);
    h = (h ^ w) * 0x94D049BB133111EBull;
    h ^= h >> 29;
  }
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

size_t StringTable::Slot(std::string_view s, uint64_t h) const {
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    StrId id = slots_[i];
    if (id == 0) return i;
    if (hashes_[id - 1] == h && strings_[id - 1] == s) return i;
  }
}

void StringTable::Grow() {
  std::vector<StrId> bigger(slots_.size() * 2, 0);
  const size_t mask = bigger.size() - 1;
  for (StrId id = 0; id < strings_.size(); ++id) {
    size_t i = hashes_[id] & mask;
    while (bigger[i] != 0) i = (i + 1) & mask;
    bigger[i] = id + 1;
  }
  slots_ = std::move(bigger);
}

StrId StringTable::Intern(std::string_view s) {
  const uint64_t h = Hash(s);
  size_t slot = Slot(s, h);
  if (slots_[slot] != 0) return slots_[slot] - 1;
  StrId id = static_cast<StrId>(strings_.size());
  strings_.emplace_back(s);
  hashes_.push_back(h);
  slots_[slot] = id + 1;
  if (strings_.size() * 2 > slots_.size()) Grow();  // load factor <= 1/2
  return id;
}

void StringTable::Truncate(size_t n) {
  if (n >= strings_.size()) return;
  strings_.resize(n);
  hashes_.resize(n);
  std::fill(slots_.begin(), slots_.end(), 0);
  const size_t mask = slots_.size() - 1;
  for (StrId id = 0; id < n; ++id) {
    size_t i = hashes_[id] & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = id + 1;
  }
}

StrId StringTable::Find(std::string_view s) const {
  size_t slot = Slot(s, Hash(s));
  return slots_[slot] == 0 ? kNoStr : slots_[slot] - 1;
}

}  // namespace smaragdine::trace_internal
