// The RecordFunction callback: per-thread buffers, no lock and no allocation
// per event (a chunk of kChunkOps records is allocated when one fills).
#include "torch/live/recorder.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include <ATen/record_function.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <limits>
#include <string_view>
#include <utility>
#include <unordered_map>

#include "common/clock.h"
#include "smaragdine/torch/live.h"

namespace smaragdine::live::internal {
namespace {

// Two stamps per operator are a large part of the callback's own work: on the
// development VM a vDSO clock_gettime(CLOCK_MONOTONIC) costs ~25 ns, a bare
// rdtsc ~10 ns. Where the kernel itself keeps time with the TSC, records are
// stamped in ticks and StopRecording gives each buffer the map to ns.
// Set before the callback is added, read by it (relaxed: a plain load).
std::atomic<bool> g_tsc{false};

inline int64_t Stamp() {
#if defined(__x86_64__)
  if (g_tsc.load(std::memory_order_relaxed)) return static_cast<int64_t>(__rdtsc());
#endif
  return MonotonicNowNs();
}

#if defined(__x86_64__)
// The TSC is used only when it is the kernel's clocksource: the kernel then
// found it invariant and in step across CPUs, and CLOCK_MONOTONIC is
// derived from it, so a linear map between the two is exact up to NTP's slow
// frequency slewing over the session.
bool KernelKeepsTimeWithTsc() {
  if (const char* force = std::getenv("SMARAGDINE_LIVE_CLOCK"))
    if (std::string_view(force) == "monotonic") return false;
  std::ifstream f("/sys/devices/system/clocksource/clocksource0/current_clocksource");
  std::string source;
  return static_cast<bool>(f >> source) && source == "tsc";
}
#endif

// A (ticks, ns) pair: ns read between two tick reads, so the pair is off by
// at most half their gap.
struct ClockPair {
  int64_t ticks = 0, ns = 0;
};
ClockPair SamplePair() {
  ClockPair p;
#if defined(__x86_64__)
  const auto t0 = static_cast<int64_t>(__rdtsc());
  p.ns = MonotonicNowNs();
  const auto t1 = static_cast<int64_t>(__rdtsc());
  p.ticks = t0 + (t1 - t0) / 2;
#endif
  return p;
}
ClockPair g_start_pair;  // under Reg().mu

// ---- names ----

// Interned for the life of the process: ids stay valid across sessions and
// the strings never move (deque), so per-thread caches may point into them.
struct NameTable {
  std::mutex mu;
  std::deque<std::string> names;
  std::unordered_map<std::string_view, uint32_t> index;
};

NameTable& Names() {
  static NameTable* table = new NameTable;  // never destroyed: callbacks may run at exit
  return *table;
}

uint32_t InternName(std::string_view name) {
  NameTable& t = Names();
  std::lock_guard lock(t.mu);
  auto it = t.index.find(name);
  if (it != t.index.end()) return it->second;
  t.names.emplace_back(name);
  const auto id = static_cast<uint32_t>(t.names.size() - 1);
  t.index.emplace(t.names.back(), id);
  return id;
}

// Per thread, two levels before the locked table. Operator names come from
// their schema (the same pointer every call), so a direct-mapped cache keyed
// by the pointer, checked against the interned text, answers most lookups
// with one compare. Autograd names are fresh std::strings each call: those
// go to a per-thread hash map keyed by content.
struct NameCache {
  struct Slot {
    const char* ptr = nullptr;
    const std::string* text = nullptr;
    uint32_t id = 0;
  };
  static constexpr size_t kSlots = 512;
  Slot slots[kSlots];
  std::unordered_map<std::string_view, uint32_t> by_text;

  uint32_t Lookup(const char* name) {
    Slot& s = slots[(reinterpret_cast<uintptr_t>(name) >> 3) % kSlots];
    if (s.ptr == name && std::strncmp(name, s.text->c_str(), s.text->size() + 1) == 0) return s.id;
    const std::string_view text(name);
    uint32_t id;
    auto it = by_text.find(text);
    if (it != by_text.end()) {
      id = it->second;
    } else {
      id = InternName(text);
      by_text.emplace(NameOf(id), id);
    }
    s = Slot{name, &NameOf(id), id};
    return id;
  }
};

// ---- recording state ----

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<ThreadBuffer>> buffers;
  at::CallbackHandle handle = at::INVALID_CALLBACK_HANDLE;
};

Registry& Reg() {
  static Registry* r = new Registry;
  return *r;
}

// 0: not recording; otherwise the id of the current recording. A thread's
// buffer is used only while its generation is the current one, so late end
// callbacks of a finished recording touch nothing.
std::atomic<uint64_t> g_generation{0};
uint64_t g_next_generation = 1;  // under Reg().mu

thread_local ThreadBuffer* t_buf = nullptr;
thread_local uint64_t t_buf_generation = 0;
thread_local NameCache* t_names = nullptr;
thread_local uint8_t t_phase = kNoPhase;
thread_local int t_own_scope = 0;

ThreadBuffer* RegisterThread(uint64_t generation) {
  auto b = std::make_unique<ThreadBuffer>();
  b->generation = generation;
  b->rf_thread_id = at::RecordFunction::currentThreadId();
  b->os_tid = static_cast<pid_t>(syscall(SYS_gettid));
  b->chunks.reserve(64);
  b->chunks.push_back(std::make_unique<RawOp[]>(kChunkOps));
  b->open.reserve(128);
  ThreadBuffer* raw = b.get();
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  if (g_generation.load(std::memory_order_relaxed) != generation) return nullptr;  // stopped meanwhile
  r.buffers.push_back(std::move(b));
  return raw;
}

inline ThreadBuffer* Buffer(bool create) {
  const uint64_t gen = g_generation.load(std::memory_order_acquire);
  if (gen == 0) return nullptr;
  if (t_buf_generation == gen) return t_buf;
  if (!create) return nullptr;
  t_buf = RegisterThread(gen);
  t_buf_generation = gen;
  if (t_names == nullptr) t_names = new NameCache;  // one per thread, kept for later sessions
  return t_buf;
}

// A record's key while it is open: the RecordFunction's address. Two records
// open at once on a thread are two live objects, so their addresses differ;
// LibTorch's handles would do too, but asking for them (needsIds) costs an
// atomic increment on a process-wide counter for every operator.
inline uint64_t Key(const at::RecordFunction& rf) { return reinterpret_cast<uintptr_t>(&rf); }

std::unique_ptr<at::ObserverContext> OnStart(const at::RecordFunction& rf) {
  const at::RecordScope scope = rf.scope();
  // Our own SMARAGDINE_SCOPE is already on the scope stack.
  if (scope == at::RecordScope::USER_SCOPE && t_own_scope > 0) return nullptr;
  ThreadBuffer* b = Buffer(true);
  if (b == nullptr) return nullptr;
  const size_t i = b->size.load(std::memory_order_relaxed);
  if (i / kChunkOps == b->chunks.size()) b->chunks.push_back(std::make_unique<RawOp[]>(kChunkOps));
  RawOp& op = b->At(i);
  op.end_ns = -1;
  op.seq = rf.seqNr();
  op.fwd_tid = rf.forwardThreadId();
  op.parent = b->open.empty() ? -1 : static_cast<int32_t>(b->open.back().index);
  op.name = t_names->Lookup(rf.name());
  op.scope = CurrentScope();
  op.kind = scope == at::RecordScope::BACKWARD_FUNCTION ? RawKind::kBackwardFunction
            : scope == at::RecordScope::USER_SCOPE      ? RawKind::kUserScope
                                                        : RawKind::kFunction;
  op.phase = t_phase;
  b->open.push_back({Key(rf), static_cast<uint32_t>(i)});
  // Stamped last, so the callback's own work is not inside the operator.
  op.start_ns = Stamp();
  b->size.store(i + 1, std::memory_order_release);
  return nullptr;
}

void OnEnd(const at::RecordFunction& rf, at::ObserverContext*) {
  const int64_t t = Stamp();
  ThreadBuffer* b = Buffer(false);
  if (b == nullptr) return;
  const uint64_t h = Key(rf);
  // Ends come innermost first; a record whose end never came (an async op
  // ended elsewhere) is closed with its parent.
  if (b->CloseInnermost(h, t, 16)) return;
  if (rf.scope() != at::RecordScope::USER_SCOPE) ++b->unmatched_ends;
}

// The registration the recorder uses, shared with the bare callback so the
// benchmark's floor is registered exactly as live accounting is.
at::RecordFunctionCallback Registered(at::RecordFunctionCallback::StartCallback start,
                                      at::RecordFunctionCallback::EndCallback end) {
  return at::RecordFunctionCallback(start, end)
      .needsInputs(false)
      .needsOutputs(false)
      .needsIds(false)
      .scopes({at::RecordScope::FUNCTION, at::RecordScope::BACKWARD_FUNCTION,
               at::RecordScope::USER_SCOPE});
}

std::unique_ptr<at::ObserverContext> BareStart(const at::RecordFunction&) { return nullptr; }
void BareEnd(const at::RecordFunction&, at::ObserverContext*) {}

}  // namespace

const std::string& NameOf(uint32_t id) {
  NameTable& t = Names();
  std::lock_guard lock(t.mu);
  return t.names[id];
}

bool Recording() { return g_generation.load(std::memory_order_relaxed) != 0; }

void DisableAfterFork() { g_generation.store(0, std::memory_order_release); }

bool StartRecording() {
  Registry& r = Reg();
  std::lock_guard lock(r.mu);
  if (g_generation.load() != 0) return false;
  r.buffers.clear();
#if defined(__x86_64__)
  const bool tsc = KernelKeepsTimeWithTsc();
  g_tsc.store(tsc, std::memory_order_relaxed);
  if (tsc) g_start_pair = SamplePair();
#endif
  // A callback left registered by DisableAfterFork (a forked child starting
  // its own recording) would record every operator twice.
  if (r.handle != at::INVALID_CALLBACK_HANDLE) at::removeCallback(r.handle);
  g_generation.store(g_next_generation++, std::memory_order_release);
  r.handle = at::addGlobalCallback(Registered(&OnStart, &OnEnd));
  return true;
}

uint64_t AddBareCallback() { return at::addGlobalCallback(Registered(&BareStart, &BareEnd)); }
void RemoveBareCallback(uint64_t handle) { at::removeCallback(handle); }

std::vector<std::unique_ptr<ThreadBuffer>> StopRecording() {
  Registry& r = Reg();
  at::CallbackHandle handle;
  {
    std::lock_guard lock(r.mu);
    handle = r.handle;
    r.handle = at::INVALID_CALLBACK_HANDLE;
    g_generation.store(0, std::memory_order_release);
  }
  if (handle != at::INVALID_CALLBACK_HANDLE) at::removeCallback(handle);
  std::lock_guard lock(r.mu);
  std::vector<std::unique_ptr<ThreadBuffer>> buffers = std::exchange(r.buffers, {});
  if (g_tsc.load(std::memory_order_relaxed)) {
    const ClockPair stop = SamplePair();
    const ClockPair start = g_start_pair;
    const double ns_per_tick =
        stop.ticks > start.ticks
            ? static_cast<double>(stop.ns - start.ns) / static_cast<double>(stop.ticks - start.ticks)
            : 1.0;
    for (auto& b : buffers) {
      b->stamps_are_ticks = true;
      b->ticks0 = start.ticks;
      b->ns0 = start.ns;
      b->ns_per_tick = ns_per_tick;
    }
  }
  return buffers;
}

// Scope records take a key no RecordFunction's address can be.
constexpr uint64_t kScopeKey = ~uint64_t{0};

uint64_t RecordScopeOpen(ScopeId id) {
  ThreadBuffer* b = Buffer(true);
  if (b == nullptr) return 0;
  const size_t i = b->size.load(std::memory_order_relaxed);
  if (i / kChunkOps == b->chunks.size()) b->chunks.push_back(std::make_unique<RawOp[]>(kChunkOps));
  RawOp& op = b->At(i);
  op.end_ns = -1;
  op.seq = -1;
  op.fwd_tid = 0;
  op.parent = b->open.empty() ? -1 : static_cast<int32_t>(b->open.back().index);
  op.name = 0;
  op.scope = id;
  op.kind = RawKind::kOwnScope;
  op.phase = t_phase;
  b->open.push_back({kScopeKey, static_cast<uint32_t>(i)});
  op.start_ns = Stamp();
  b->size.store(i + 1, std::memory_order_release);
  return b->generation;
}

void RecordScopeClose(uint64_t generation) {
  const int64_t t = Stamp();
  ThreadBuffer* b = Buffer(false);
  if (b == nullptr || b->generation != generation) return;
  b->CloseInnermost(kScopeKey, t, std::numeric_limits<size_t>::max());
}

uint8_t CurrentPhase() { return t_phase; }
void EnterOwnScope() { ++t_own_scope; }
void LeaveOwnScope() { --t_own_scope; }

}  // namespace smaragdine::live::internal

namespace smaragdine::live {

PhaseGuard::PhaseGuard(Phase phase) : previous_(internal::t_phase) {
  internal::t_phase = static_cast<uint8_t>(phase);
}
PhaseGuard::~PhaseGuard() { internal::t_phase = previous_; }

}  // namespace smaragdine::live
