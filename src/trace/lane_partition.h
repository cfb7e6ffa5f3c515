// lane_partition.h — the raw events' indices grouped by lane in one array,
// for the dialects' per-lane passes.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace smaragdine::trace_internal {

// Makes the pages of [p, p + bytes) resident and writable now, in one call,
// instead of one page fault each as they are first written: on a virtual
// machine a fault can cost more than zeroing its page. A hint (Linux >=
// 5.14); where it fails the pages fault in as before.
inline void PopulateForWrite(void* p, size_t bytes) {
#if defined(MADV_POPULATE_WRITE)
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(p) + bytes) & ~(page - 1);
  if (end > begin)
    (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_WRITE);
#else
  (void)p, (void)bytes;
#endif
}

// The indices of a trace's raw events, lane after lane, each lane's in file
// order (what a vector per lane, appended to in one pass, would hold): the
// pass notes each event's lane slot (Put), then Finish places the indices
// with a counting sort. Per-lane vectors grown by doubling were copied ~20
// times over and faulted in a fresh 4 KiB page at a time (about 1,400 of the
// 2,000 page faults of `account` on 1 M PyTorch events, several µs each on a
// virtual machine); the two arrays here are made resident in one call each.
class LanePartition {
 public:
  static constexpr uint32_t kNoSlot = UINT32_MAX;

  explicit LanePartition(size_t n_events)
      : n_(n_events), slot_of_(new uint32_t[n_events > 0 ? n_events : 1]) {
    PopulateForWrite(slot_of_.get(), n_ * sizeof(uint32_t));
  }

  // A new lane; its slot is what Put and Lane take.
  uint32_t AddSlot() {
    count_.push_back(0);
    return static_cast<uint32_t>(count_.size() - 1);
  }

  // Event `i` belongs to `slot`, or to no lane (kNoSlot): each of
  // 0 .. n_events - 1 once, in order.
  void Put(uint32_t i, uint32_t slot) {
    slot_of_[i] = slot;
    if (slot != kNoSlot) ++count_[slot];
  }

  // Called once, after every event was Put.
  void Finish() {
    begin_.assign(count_.size() + 1, 0);
    for (size_t s = 0; s < count_.size(); ++s) begin_[s + 1] = begin_[s] + count_[s];
    const size_t total = begin_.back();
    order_.reset(new uint32_t[total > 0 ? total : 1]);
    PopulateForWrite(order_.get(), total * sizeof(uint32_t));
    std::vector<size_t> next(begin_.begin(), begin_.end() - 1);
    for (uint32_t i = 0; i < n_; ++i) {
      const uint32_t s = slot_of_[i];
      if (s != kNoSlot) order_[next[s]++] = i;
    }
    slot_of_.reset();
  }

  // The lane's event indices, in file order until the caller reorders them.
  std::span<uint32_t> Lane(uint32_t slot) {
    return {order_.get() + begin_[slot], order_.get() + begin_[slot + 1]};
  }

 private:
  size_t n_;
  std::unique_ptr<uint32_t[]> slot_of_;
  std::unique_ptr<uint32_t[]> order_;
  std::vector<uint32_t> count_;
  std::vector<size_t> begin_;
};

}  // namespace smaragdine::trace_internal
