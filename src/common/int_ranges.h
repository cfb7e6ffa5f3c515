// int_ranges.h — a list of integers as runs: "0-3, 5, 7-9".
//
// For messages that name ranks: a job of 1,000 ranks missing 500 of them
// would otherwise print 500 numbers.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include <fmt/format.h>

namespace smaragdine {

// Sorted, each value once, consecutive values joined as "first-last".
template <typename Int>
std::string IntRanges(std::vector<Int> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  std::string out;
  for (size_t i = 0; i < values.size();) {
    size_t j = i;
    while (j + 1 < values.size() && values[j + 1] == values[j] + 1) ++j;
    if (!out.empty()) out += ", ";
    out += j == i ? fmt::format("{}", values[i]) : fmt::format("{}-{}", values[i], values[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace smaragdine
