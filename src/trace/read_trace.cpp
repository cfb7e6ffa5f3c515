// Entry points of smaragdine/trace.h: bytes → RawTrace → dialect → Trace,
// and the merge of several files into one trace.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <tuple>

#include <fmt/format.h>

#include "common/huge_pages.h"
#include "common/io.h"
#include "smaragdine/trace.h"
#include "trace/chrome_json.h"
#include "trace/dialect.h"
#include "trace/xplane_reader.h"

namespace smaragdine {

namespace ti = trace_internal;

namespace trace_internal {

namespace {
bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}
}  // namespace

TraceFormat DetectDialect(const RawTrace& raw) {
  // ONNX Runtime: a bare array with a Node event timing a kernel, or a
  // Session event of a run. Its categories are capitalised ("Kernel"), so
  // Kineto's "kernel" below never matches them.
  if (raw.bare_array) {
    const StrId node = raw.strings.Find("Node"), session = raw.strings.Find("Session");
    const StrId model_run = raw.strings.Find("model_run");
    if (node != StringTable::kNoStr || session != StringTable::kNoStr) {
      for (const RawEvent& e : raw.events) {
        if (e.ph != 'X') continue;
        if (e.cat == session && e.name == model_run) return TraceFormat::kOnnxRuntime;
        if (e.cat == node && EndsWith(raw.Str(e.name), "_kernel_time"))
          return TraceFormat::kOnnxRuntime;
      }
    }
  }
  StrId cpu_functions = raw.strings.Find("CPU functions");
  if (raw.bare_array && cpu_functions != StringTable::kNoStr) {
    for (const RawEvent& e : raw.events)
      if (e.pid == cpu_functions) return TraceFormat::kPytorchLegacy;
  }
  if (raw.has_kineto_keys) return TraceFormat::kPytorch;
  for (const char* cat : {"cpu_op", "python_function", "kernel", "user_annotation",
                          "cuda_runtime", "gpu_memcpy"}) {
    if (raw.strings.Find(cat) != StringTable::kNoStr) {
      StrId id = raw.strings.Find(cat);
      for (const RawEvent& e : raw.events)
        if (e.cat == id) return TraceFormat::kPytorch;
    }
  }
  bool tf1 = false, tf2 = false;
  for (const RawEvent& e : raw.events) {
    if (e.ph == 'M' && raw.Str(e.name) == "process_name") {
      std::string_view p = raw.Str(e.arg_name);
      if (EndsWith(p, " Compute") || EndsWith(p, " Tensors")) {
        if (p.find("/job:") != std::string_view::npos || p.find("/gpu:") != std::string_view::npos ||
            p.find("/device:") != std::string_view::npos ||
            p.find("/cpu:") != std::string_view::npos)
          tf1 = true;
      } else if (p.substr(0, 6) == "/host:" || p.substr(0, 8) == "/device:") {
        tf2 = true;
      }
    } else if (e.ph == 'X') {
      if (e.flags & RawEvent::kLongName) tf2 = true;
      else if (e.arg_op != kEmptyStr) tf1 = true;
    }
  }
  if (tf1) return TraceFormat::kTf1;
  if (tf2) return TraceFormat::kTf2;
  return TraceFormat::kAuto;
}

}  // namespace trace_internal

namespace {

// Dialect detection and the dialect's rules on a parsed file.
Result<Trace> BuildTrace(const std::string& name, ti::RawTrace raw,
                         const TraceReadOptions& options) {
  TraceFormat format = options.format;
  if (format == TraceFormat::kAuto) format = ti::DetectDialect(raw);
  Trace t;
  t.sources.push_back(name);
  // At most one event per raw event: reserving spares the copies of growth,
  // and the part never written is never resident.
  t.events.reserve(raw.events.size());
  AdviseHugePages(t.events.data(), t.events.capacity() * sizeof(Event));
  // Most raw events become events: their pages are wanted (PopulateForWrite).
  ti::PopulateForWrite(t.events.data(), t.events.capacity() * sizeof(Event));
  Status st;
  switch (format) {
    case TraceFormat::kAuto:
      return BadInput(name,
                      "unknown trace dialect; use --format "
                      "tf1|tf2|jax|pytorch|pytorch-legacy|onnxruntime|xplane");
    case TraceFormat::kTf1: st = ti::BuildTf1(name, raw, &t); break;
    // The trace viewer JSON of JAX has the TF2 layout: read with its rules.
    case TraceFormat::kTf2:
    case TraceFormat::kJax: st = ti::BuildTf2(name, raw, &t); break;
    case TraceFormat::kPytorch: st = ti::BuildPytorch(name, raw, &t); break;
    case TraceFormat::kPytorchLegacy: st = ti::BuildPytorchLegacy(name, raw, &t); break;
    case TraceFormat::kOnnxRuntime: st = ti::BuildOnnxRuntime(name, raw, &t); break;
    case TraceFormat::kXplane:
      return BadInput(name, "--format xplane, but this is a JSON trace, not an XPlane protobuf");
  }
  if (!st.ok()) return st.error();
  raw.diagnostics.Merge(t.diagnostics);
  t.diagnostics = std::move(raw.diagnostics);
  return t;
}

// An XPlane protobuf: the tf2 or jax rules (from --format, else from the
// content) on what the XPlane reader makes of it.
Result<Trace> BuildXPlane(const std::string& name, std::string_view bytes,
                          const TraceReadOptions& options) {
  TraceFormat format = options.format;
  if (format != TraceFormat::kAuto && format != TraceFormat::kXplane &&
      format != TraceFormat::kTf2 && format != TraceFormat::kJax)
    return BadInput(name, "is an XPlane protobuf (a TensorFlow 2 or JAX profile), which --format "
                          "reads as xplane, tf2 or jax only");
  if (!bytes.empty() && (bytes[0] == '{' || bytes[0] == '['))
    return BadInput(name, "--format xplane, but this is JSON text, not an XPlane protobuf", -1, 0);
  ti::RawTrace raw;
  ti::XSpaceInfo info;
  SMG_RETURN_IF_ERROR(ti::ParseXSpace(name, bytes, &raw, &info));
  if (format == TraceFormat::kAuto || format == TraceFormat::kXplane)
    format = info.jax ? TraceFormat::kJax : TraceFormat::kTf2;
  Trace t;
  t.sources.push_back(name);
  t.events.reserve(raw.events.size());
  Status st =
      format == TraceFormat::kJax ? ti::BuildJax(name, raw, &t) : ti::BuildTf2(name, raw, &t);
  if (!st.ok()) return st.error();
  if (info.profile_start_ns || info.absolute_times) {
    t.time_base = TimeBase::kRealtime;
  } else {
    t.diagnostics.Add("xplane.profile_start_not_recorded");
    t.diagnostics.Warn(fmt::format(
        "{} records no profile start time (no Task Environment plane with profile_start_time: "
        "written by an older profiler): its times are relative to the profiler's start; give "
        "--trace-start-ns to place them",
        name));
  }
  raw.diagnostics.Merge(t.diagnostics);
  t.diagnostics = std::move(raw.diagnostics);
  return t;
}

// The first bytes of a file, inflated when gzip: enough to tell an XPlane
// from JSON before either reader runs (the JSON path refuses binary data).
// Empty when the file cannot be read: the JSON path then says why.
std::string FileStart(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  std::string start(64 * 1024, '\0');
  ssize_t got;
  do {
    got = ::pread(fd, start.data(), start.size(), 0);
  } while (got < 0 && errno == EINTR);
  ::close(fd);
  start.resize(got > 0 ? static_cast<size_t>(got) : 0);
  if (LooksGzipped(start)) return ti::GunzipPrefix(start, 64);
  start.resize(std::min<size_t>(start.size(), 64));
  return start;
}

bool IsXPlane(std::string_view start, const TraceReadOptions& options) {
  return options.format == TraceFormat::kXplane || ti::LooksLikeXSpace(start);
}

// A protobuf is binary: no NUL check (ReadLimits::text_check_bytes), and a
// plain file is mapped read-only as it is (the reader never writes, and
// needs no padding).
Result<Trace> ReadXPlane(const std::string& path, const TraceReadOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd >= 0 && ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
    unsigned char magic[2] = {0, 0};
    if (::pread(fd, magic, 2, 0) == 2 && !(magic[0] == 0x1f && magic[1] == 0x8b)) {
      const size_t size = static_cast<size_t>(st.st_size);
      void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
      ::close(fd);
      if (map != MAP_FAILED) {
        Result<Trace> t = BuildXPlane(path, std::string_view(static_cast<const char*>(map), size),
                                      options);
        ::munmap(map, size);
        return t;
      }
      fd = -1;
    }
  }
  if (fd >= 0) ::close(fd);
  ReadLimits limits;
  limits.text_check_bytes = 0;
  SMG_ASSIGN_OR_RETURN(std::string bytes, ReadFileMaybeGzip(path, 0, limits));
  return BuildXPlane(path, bytes, options);
}

Result<Trace> ParseOwned(const std::string& name, std::string bytes,
                         const TraceReadOptions& options) {
  SMG_ASSIGN_OR_RETURN(ti::RawTrace raw, ti::ParseChromeJson(name, std::move(bytes)));
  return BuildTrace(name, std::move(raw), options);
}

// False when the first ReadLimits::text_check_bytes of the file hold a NUL
// (no JSON does) or cannot be read: such a file is not mapped, so that
// ReadFileMaybeGzip judges it as it judges every other input (exit 2 "binary
// data: a NUL byte" after 64 KiB) instead of MAP_POPULATE bringing in all of
// it first (a 64 GiB sparse file) and the parser failing on it later.
bool StartsLikeText(int fd, uint64_t size) {
  std::string start(static_cast<size_t>(std::min<uint64_t>(size, ReadLimits{}.text_check_bytes)), '\0');
  size_t got = 0;
  while (got < start.size()) {
    const ssize_t r = ::pread(fd, start.data() + got, start.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return std::memchr(start.data(), '\0', got) == nullptr;
}

// A plain regular file mapped privately (copy-on-write: the parser may
// write into it) with kParsePadding zero bytes after it: no copy of the
// file, and its pages come from the page cache. nullopt when the file is
// not a plain regular file or cannot be mapped: the caller reads it instead.
std::optional<Result<Trace>> ParseMapped(const std::string& path,
                                         const TraceReadOptions& options) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  unsigned char magic[2] = {0, 0};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 2 ||
      ::pread(fd, magic, 2, 0) != 2 || (magic[0] == 0x1f && magic[1] == 0x8b) ||
      !StartsLikeText(fd, static_cast<uint64_t>(st.st_size))) {
    ::close(fd);
    return std::nullopt;
  }
  const size_t size = static_cast<size_t>(st.st_size);
  const size_t length = size + ti::kParsePadding;
  // Anonymous zero pages first, then the file over their start: the padding
  // stays mapped even when the file ends on a page boundary.
  void* region = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) {
    ::close(fd);
    return std::nullopt;
  }
  // Mapped read-only, then made writable: only the few pages the parser
  // writes get copied. Not populated: the fast scanner reads the events
  // through pread (ti::SourceFile), so the mapping is touched only where
  // simdjson reads (the top level, declined events), and a first touch of
  // each of its 4 KiB pages, populated or not, costs ~2 µs on a virtual
  // machine (0.23 s of CPU for a 470 MB trace).
  void* file = ::mmap(region, size, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 0);
  if (file == MAP_FAILED || ::mprotect(region, size, PROT_READ | PROT_WRITE) != 0) {
    ::close(fd);
    ::munmap(region, length);
    return std::nullopt;
  }
  ti::SourceFile source;
  source.fd = fd;
  auto raw = ti::ParseChromeJsonBuffer(path, static_cast<char*>(region), size, length,
                                       ti::kDefaultSliceBytes, source);
  ::close(fd);
  ::munmap(region, length);  // before the dialect: the file is no longer needed
  if (!raw.ok()) return Result<Trace>(raw.error());
  return BuildTrace(path, std::move(*raw), options);
}

}  // namespace

Result<Trace> ParseTrace(const std::string& name, std::string_view bytes,
                         const TraceReadOptions& options) {
  if (LooksGzipped(bytes)) {
    if (IsXPlane(ti::GunzipPrefix(bytes, 64), options)) {
      ReadLimits limits;
      limits.text_check_bytes = 0;  // a protobuf is binary
      SMG_ASSIGN_OR_RETURN(std::string plain, Gunzip(name, bytes, limits));
      return BuildXPlane(name, plain, options);
    }
    SMG_ASSIGN_OR_RETURN(std::string plain, Gunzip(name, bytes));
    return ParseOwned(name, std::move(plain), options);
  }
  if (IsXPlane(bytes.substr(0, 64), options)) return BuildXPlane(name, bytes, options);
  std::string owned;
  owned.reserve(bytes.size() + ti::kParsePadding);
  owned.assign(bytes);
  return ParseOwned(name, std::move(owned), options);
}

namespace {

// Each process a file names came from that file.
Result<Trace> WithProcessSources(Result<Trace> t, const std::string& path) {
  if (t.ok())
    for (Process& p : t->processes) p.source = path;
  return t;
}

Result<Trace> ReadTraceFile(const std::string& path, const TraceReadOptions& options) {
  if (IsXPlane(FileStart(path), options)) return ReadXPlane(path, options);
  if (auto mapped = ParseMapped(path, options)) return std::move(*mapped);
  SMG_ASSIGN_OR_RETURN(std::string bytes, ReadFileMaybeGzip(path, ti::kParsePadding));
  return ParseOwned(path, std::move(bytes), options);
}

// Where a file's processes go in the merged trace: one already there with the
// same host, pid and rank (another file of the same process: a profiler
// schedule writes one per cycle), else a new one.
std::vector<int32_t> MergeProcesses(const std::vector<Process>& from, std::vector<Process>& into) {
  std::vector<int32_t> map(from.size(), -1);
  for (size_t p = 0; p < from.size(); ++p) {
    const Process& x = from[p];
    for (size_t q = 0; q < into.size() && map[p] < 0; ++q)
      if (into[q].host == x.host && into[q].pid == x.pid && into[q].rank == x.rank)
        map[p] = static_cast<int32_t>(q);
    if (map[p] < 0) {
      map[p] = static_cast<int32_t>(into.size());
      into.push_back(x);
    }
  }
  return map;
}

// Events without steps are one step spanning them all, numbered `index`.
// With `assign`, every event is put in it.
Step OneStep(std::vector<Event>& events, int32_t index, bool assign) {
  Step s{fmt::format("step {}", index), 0, 0};
  bool first = true;
  for (auto& e : events) {
    s.start_ns = first ? e.start_ns : std::min(s.start_ns, e.start_ns);
    s.end_ns = first ? e.end_ns : std::max(s.end_ns, e.end_ns);
    first = false;
    if (assign) e.step = index;
  }
  return s;
}

// The same file twice (also under another path: a link, "./a.json") would
// count every event twice: refused, naming both.
Status CheckDistinctFiles(const std::vector<std::string>& paths) {
  std::map<std::pair<dev_t, ino_t>, const std::string*> seen_files;
  for (const std::string& path : paths) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) continue;  // ReadTrace says why
    auto [it, fresh] = seen_files.emplace(std::make_pair(st.st_dev, st.st_ino), &path);
    if (!fresh) {
      return BadInput(path, fmt::format("is the same file as {}, given twice: each trace counts "
                                        "once",
                                        *it->second));
    }
  }
  return Status();
}

// The traces of several files as one: nodes by path, processes by host, pid
// and rank, lanes by device, name and process, steps by name across ranks.
class TraceMerger {
 public:
  explicit TraceMerger(const std::vector<std::string>& paths) : paths_(paths) {}

  Status Add(size_t f, Trace t) {
    SMG_RETURN_IF_ERROR(CheckMergeable(f, t));
    merged_.sources.push_back(paths_[f]);
    merged_.diagnostics.Merge(t.diagnostics);
    // Parents always have smaller ids than their children, so one pass maps.
    std::vector<NodeId> node_map(t.nodes.size(), kRootNode);
    for (NodeId id = 1; id < t.nodes.size(); ++id)
      node_map[id] = merged_.nodes.Child(node_map[t.nodes.Parent(id)], t.nodes.Name(id),
                                         t.nodes.Kind(id));
    const std::vector<int32_t> process_map = MergeProcesses(t.processes, merged_.processes);
    const std::vector<uint32_t> lane_map = MapLanes(t, process_map);
    const int32_t step_base = static_cast<int32_t>(merged_.steps.size());
    const bool own_steps = !t.steps.empty();
    // The file's steps as merged steps (own_steps only).
    std::vector<int32_t> step_map;
    if (own_steps) {
      step_map = MapSteps(t, process_map);
    } else {
      step_process_.push_back(-1);
      // A file without steps (TF1: one file per session.run) is one step.
      merged_.steps.push_back(OneStep(t.events, step_base, false));
    }
    merged_.events.reserve(merged_.events.size() + t.events.size());
    for (Event e : t.events) {
      e.node = node_map[e.node];
      e.lane = lane_map[e.lane];
      e.step = own_steps ? (e.step < 0 || static_cast<size_t>(e.step) >= step_map.size()
                                ? -1
                                : step_map[static_cast<size_t>(e.step)])
                         : step_base;
      merged_.events.push_back(e);
    }
    for (const auto& [from, to] : t.dataflow)
      merged_.dataflow.emplace_back(node_map[from], node_map[to]);
    return Status();
  }

  Trace Finish() {
    // Files repeat the same graph (one per session.run): each edge once.
    std::sort(merged_.dataflow.begin(), merged_.dataflow.end());
    merged_.dataflow.erase(std::unique(merged_.dataflow.begin(), merged_.dataflow.end()),
                           merged_.dataflow.end());
    if (paths_.size() > 1 && merged_.time_base == TimeBase::kRelative) {
      merged_.diagnostics.Warn(
          "several trace files with relative times were merged: each starts at its own "
          "profiler start, so their times overlap");
    }
    return std::move(merged_);
  }

 private:
  // The first file sets the dialect and clock; the others must have them.
  Status CheckMergeable(size_t f, const Trace& t) {
    if (f == 0) {
      merged_.dialect = t.dialect;
      merged_.time_base = t.time_base;
    } else if (t.dialect != merged_.dialect) {
      return BadInput(paths_[f], fmt::format("is a {} trace; cannot merge it with the {} trace {}",
                                             t.dialect, merged_.dialect, paths_[0]));
    } else if (t.time_base != merged_.time_base) {
      // One dialect, two clocks: an XPlane that records its start (realtime)
      // and one, or a JSON twin, that does not (relative).
      return BadInput(paths_[f], fmt::format("has {} times; cannot merge it with {}, whose times "
                                             "are {}: give the files one at a time",
                                             ToString(t.time_base), paths_[0],
                                             ToString(merged_.time_base)));
    }
    return Status();
  }

  // Lanes merge by device, name and process: two ranks' "stream 7" on one
  // GPU stay two lanes.
  std::vector<uint32_t> MapLanes(const Trace& t, const std::vector<int32_t>& process_map) {
    std::vector<uint32_t> lane_map(t.lanes.size());
    for (size_t l = 0; l < t.lanes.size(); ++l) {
      Lane lane = t.lanes[l];
      if (lane.process >= 0) lane.process = process_map[static_cast<size_t>(lane.process)];
      auto key = std::make_tuple(lane.device, lane.name, lane.process);
      auto it = lane_index_.find(key);
      if (it == lane_index_.end()) {
        it = lane_index_.emplace(key, static_cast<uint32_t>(merged_.lanes.size())).first;
        merged_.lanes.push_back(std::move(lane));
      }
      lane_map[l] = it->second;
    }
    return lane_map;
  }

  // Steps of different processes with one name (each rank's
  // "ProfilerStep#6") are one step of the job: merged, spanning all of them.
  // One process per file (Kineto) is what makes a step of another file with
  // the same name another rank's part of the same step.
  std::vector<int32_t> MapSteps(Trace& t, const std::vector<int32_t>& process_map) {
    std::vector<int32_t> step_map;
    const int32_t file_process = process_map.size() == 1 ? process_map[0] : -1;
    for (Step& s : t.steps) {
      auto named = step_of_name_.find(s.name);
      if (file_process >= 0 && named != step_of_name_.end() &&
          step_process_[static_cast<size_t>(named->second)] != file_process) {
        Step& into = merged_.steps[static_cast<size_t>(named->second)];
        into.start_ns = std::min(into.start_ns, s.start_ns);
        into.end_ns = std::max(into.end_ns, s.end_ns);
        step_map.push_back(named->second);
        continue;
      }
      const int32_t id = static_cast<int32_t>(merged_.steps.size());
      step_of_name_.emplace(s.name, id);
      step_process_.push_back(file_process);
      step_map.push_back(id);
      merged_.steps.push_back(std::move(s));
    }
    return step_map;
  }

  const std::vector<std::string>& paths_;
  Trace merged_;
  std::map<std::tuple<std::string, std::string, int32_t>, uint32_t> lane_index_;
  std::map<std::string, int32_t> step_of_name_;
  std::vector<int32_t> step_process_;  // per merged step: its process, -1 when unknown
};

}  // namespace

Result<Trace> ReadTrace(const std::string& path, const TraceReadOptions& options) {
  return WithProcessSources(ReadTraceFile(path, options), path);
}

Result<Trace> ReadTraces(const std::vector<std::string>& paths, const TraceReadOptions& options) {
  if (paths.empty()) return UsageError("no trace files given");
  // The raw events freed after each file, and the accounting after them,
  // reuse memory instead of faulting in fresh pages (common/huge_pages.h).
  KeepFreedMemory();
  if (paths.size() == 1) {
    // One file: what the merge below would do, in place (its node and lane
    // maps are the identity), without a second copy of the events.
    SMG_ASSIGN_OR_RETURN(Trace t, ReadTrace(paths[0], options));
    if (t.steps.empty()) t.steps.push_back(OneStep(t.events, 0, true));
    return t;
  }
  SMG_RETURN_IF_ERROR(CheckDistinctFiles(paths));
  TraceMerger merger(paths);
  for (size_t f = 0; f < paths.size(); ++f) {
    SMG_ASSIGN_OR_RETURN(Trace t, ReadTrace(paths[f], options));
    SMG_RETURN_IF_ERROR(merger.Add(f, std::move(t)));
  }
  return merger.Finish();
}

}  // namespace smaragdine
