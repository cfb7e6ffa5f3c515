// recorder.h — the RecordFunction callback behind live::Session (internal).
//
// Each thread that runs an operator while recording gets a ThreadBuffer on its
// first event: chunks of RawOp preallocated kChunkOps at a time, and a small
// stack of the events it has open. The callback writes only to its own
// thread's buffer (no lock) and allocates only when a chunk fills. The buffers
// are registered with the recorder (under a lock, once per thread) and read
// by Stop() after the callback is removed.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "smaragdine/torch/scope.h"
#include "smaragdine/trace.h"

namespace smaragdine::live::internal {

// kUserScope: a LibTorch user scope of other code (RECORD_USER_SCOPE);
// kOwnScope: a SMARAGDINE_SCOPE, whose node is its scope path.
enum class RawKind : uint8_t { kFunction = 0, kBackwardFunction = 1, kUserScope = 2, kOwnScope = 3 };
// PhaseGuard's value when no guard is open.
constexpr uint8_t kNoPhase = 0xff;

// start_ns/end_ns are the recorder's stamps (see Clock); ThreadBuffer::ToNs
// turns them into CLOCK_MONOTONIC ns.
struct RawOp {
  int64_t start_ns = 0;
  int64_t end_ns = -1;      // -1 while open
  int64_t seq = -1;         // LibTorch sequence number, -1 when none
  uint64_t fwd_tid = 0;     // backward functions: RecordFunction thread id of the forward op
  int32_t parent = -1;      // index in this thread's buffer of the enclosing record, -1 none
  uint32_t name = 0;        // id in the name table
  ScopeId scope = kNoScope; // the innermost scope open at the start
  RawKind kind = RawKind::kFunction;
  uint8_t phase = kNoPhase; // PhaseGuard at the start
};

constexpr size_t kChunkOps = 8192;

struct ThreadBuffer {
  uint64_t generation = 0;      // the recording this buffer belongs to
  uint64_t rf_thread_id = 0;    // RecordFunction::currentThreadId() of the thread
  pid_t os_tid = 0;
  std::vector<std::unique_ptr<RawOp[]>> chunks;
  std::atomic<size_t> size{0};  // records written (published with release)
  struct Open {
    uint64_t key;  // the RecordFunction's address (kScopeKey for a SMARAGDINE_SCOPE)
    uint32_t index;
  };
  std::vector<Open> open;       // open records, innermost last
  int64_t unmatched_ends = 0;   // end callbacks with no matching open record

  // The recorder's stamps → CLOCK_MONOTONIC ns, set by StopRecording: the
  // identity when stamps are clock_gettime's, a linear map when they are
  // TSC ticks. Converting on read keeps a late end stamp (an end callback
  // racing StopRecording) meaningful.
  bool stamps_are_ticks = false;
  int64_t ticks0 = 0, ns0 = 0;
  double ns_per_tick = 1.0;
  int64_t ToNs(int64_t stamp) const {
    if (!stamps_are_ticks || stamp < 0) return stamp;
    return ns0 + static_cast<int64_t>(std::llround(static_cast<double>(stamp - ticks0) * ns_per_tick));
  }

  RawOp& At(size_t i) { return chunks[i / kChunkOps][i % kChunkOps]; }
  const RawOp& At(size_t i) const { return chunks[i / kChunkOps][i % kChunkOps]; }

  // Ends the innermost open record with `key` at t_ns, looking at most
  // `max_depth` records down, and with it the records opened inside it whose
  // end never came (an async op ended elsewhere), counted as unmatched.
  // False when none of them has the key.
  bool CloseInnermost(uint64_t key, int64_t t_ns, size_t max_depth) {
    size_t k = open.size();
    for (size_t depth = 0; k > 0 && depth < max_depth; ++depth) {
      --k;
      if (open[k].key != key) continue;
      for (size_t j = k; j < open.size(); ++j) At(open[j].index).end_ns = t_ns;
      unmatched_ends += static_cast<int64_t>(open.size() - k - 1);
      open.resize(k);
      return true;
    }
    return false;
  }
};

// Starts recording: adds the global callback. Errors when already recording.
// Stamps are TSC ticks where the kernel's clocksource is the TSC (then
// CLOCK_MONOTONIC is computed from it, and a bare rdtsc costs less than half
// a vDSO clock_gettime), else CLOCK_MONOTONIC ns; SMARAGDINE_LIVE_CLOCK=
// monotonic forces the latter.
bool StartRecording();
// Removes the callback and hands over the buffers of this recording.
std::vector<std::unique_ptr<ThreadBuffer>> StopRecording();
bool Recording();
// In the child of a fork() while recording (Python's DataLoader workers,
// multiprocessing): the child's copy of the recording is never read, so the
// callback stops taking records there. Lock-free, because a lock another
// thread of the parent held at the fork stays held in the child forever; the
// callback stays registered (a disabled one returns at its first check).
void DisableAfterFork();

// A global callback registered exactly as the recorder's (same scopes, same
// options) whose start and end do nothing: what LibTorch charges for any
// callback, the floor under live accounting's cost (bench/torch_overhead_tool).
// Returns the handle RemoveBareCallback takes.
uint64_t AddBareCallback();
void RemoveBareCallback(uint64_t handle);

// Operator names, interned for the life of the process (thread-safe).
const std::string& NameOf(uint32_t id);

// The scope table (scope.cpp): parent and last name of a scope.
ScopeId ScopeParent(ScopeId id);
std::string ScopeName(ScopeId id);

// The thread's PhaseGuard value (kNoPhase when none).
uint8_t CurrentPhase();
// Around the USER_SCOPE RecordFunction of a SMARAGDINE_SCOPE: the callback
// skips it (the scope is already on the scope stack).
void EnterOwnScope();
void LeaveOwnScope();
// A SMARAGDINE_SCOPE opening and closing on this thread while recording:
// recorded like an operator (its interval, its scope id). Open returns the
// recording's generation (0: not recorded), which Close takes back.
uint64_t RecordScopeOpen(ScopeId id);
void RecordScopeClose(uint64_t generation);

}  // namespace smaragdine::live::internal
