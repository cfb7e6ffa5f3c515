// diagnostics.h — named counters for anomalies inside otherwise good input.
//
// An unmatched end event, a counter that went backwards, a partly overlapping
// event: these are data, not errors. Each stage counts them under a stable
// snake_case name; every report prints the non-zero ones.
//
//   Diagnostics d;
//   d.Add("trace.unmatched_end_event");
//   d.Warn("gpu:0 has no GPU:0 lanes in the trace; its energy stays in (idle)");
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace smaragdine {

class Diagnostics {
 public:
  void Add(std::string_view name, int64_t n = 1) {
    if (n != 0) counts_[std::string(name)] += n;
  }
  // A sentence for the user, printed with every report (deduplicated).
  void Warn(std::string message);
  void Merge(const Diagnostics& other);
  int64_t Count(std::string_view name) const;

  const std::map<std::string, int64_t>& counts() const { return counts_; }
  const std::vector<std::string>& warnings() const { return warnings_; }
  bool empty() const { return counts_.empty() && warnings_.empty(); }

 private:
  std::map<std::string, int64_t> counts_;
  std::vector<std::string> warnings_;
};

}  // namespace smaragdine
