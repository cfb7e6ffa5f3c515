// CPU time from procfs: a process tree's threads (schedstat) and the machine (stat).
#include "energy/cputime.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "common/clock.h"
#include "common/io.h"
#include "energy/sampler.h"

namespace smaragdine {
namespace procfs {

std::optional<std::string> ReadSmallFile(const std::string& path, int* error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (error) *error = errno;
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      if (error) *error = errno;
      ::close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

std::vector<pid_t> NumericEntries(const std::string& dir) {
  std::vector<pid_t> ids;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ids;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long v = std::strtol(e->d_name, &end, 10);
    if (end != e->d_name && *end == '\0' && v > 0) ids.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  return ids;
}

std::optional<int64_t> ParseSchedstat(const std::string& text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return static_cast<int64_t>(v);
}

std::optional<int64_t> ParseMachineBusyNs(const std::string& text) {
  // "cpu  user nice system idle iowait irq softirq steal guest guest_nice" (ticks).
  if (text.rfind("cpu ", 0) != 0) return std::nullopt;
  unsigned long long f[8] = {};
  const int n = std::sscanf(text.c_str() + 4, "%llu %llu %llu %llu %llu %llu %llu %llu", &f[0],
                            &f[1], &f[2], &f[3], &f[4], &f[5], &f[6], &f[7]);
  if (n < 4) return std::nullopt;  // kernels before 2.6 had only four fields
  const unsigned long long busy_ticks = f[0] + f[1] + f[2] + f[5] + f[6] + f[7];
  static const long ticks_per_s = [] {
    long t = ::sysconf(_SC_CLK_TCK);
    return t > 0 ? t : 100;
  }();
  return static_cast<int64_t>(busy_ticks) * (1'000'000'000 / ticks_per_s);
}

std::optional<int64_t> ReadMachineBusyNs(const std::string& proc_root) {
  auto text = ReadSmallFile(proc_root + "/stat");
  if (!text) return std::nullopt;
  return ParseMachineBusyNs(*text);
}

}  // namespace procfs

using procfs::NumericEntries;
using procfs::ParseSchedstat;
using procfs::ReadSmallFile;

ProcessTreeCpuTime::ProcessTreeCpuTime(std::string proc_root, pid_t root)
    : proc_(std::move(proc_root)), root_(root) {}

std::multimap<pid_t, pid_t> ProcessTreeCpuTime::ScanParents() const {
  std::multimap<pid_t, pid_t> children;
  for (pid_t pid : NumericEntries(proc_)) {
    auto stat = ReadSmallFile(fmt::format("{}/{}/stat", proc_, pid));
    if (!stat) continue;  // exited while we scanned
    // "pid (comm) state ppid …": comm may hold spaces and ')', so parse after the last ')'.
    size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat->c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid > 0)
      children.emplace(static_cast<pid_t>(ppid), pid);
  }
  return children;
}

void ProcessTreeCpuTime::Walk(pid_t pid, pid_t parent, std::map<pid_t, Thread>& now,
                              std::map<pid_t, bool>& visited,
                              std::multimap<pid_t, pid_t>* ppid_children) {
  if (visited[pid]) return;  // a loop only a fake or racing tree could make
  visited[pid] = true;
  if (parent > 0) parents_[pid] = parent;
  const std::string task_dir = fmt::format("{}/{}/task", proc_, pid);
  std::vector<pid_t> kids;
  bool children_files = true;
  for (pid_t tid : NumericEntries(task_dir)) {
    const std::string base = fmt::format("{}/{}", task_dir, tid);
    // A thread that exits between the listing and this read is simply absent now.
    if (auto s = ReadSmallFile(base + "/schedstat")) {
      if (auto ns = ParseSchedstat(*s)) now[tid] = Thread{pid, *ns};
    }
    if (auto c = ReadSmallFile(base + "/children")) {
      const char* p = c->c_str();
      char* end = nullptr;
      for (long v = std::strtol(p, &end, 10); end != p; v = std::strtol(p, &end, 10)) {
        if (v > 0) kids.push_back(static_cast<pid_t>(v));
        p = end;
      }
    } else {
      children_files = false;
    }
  }
  if (!children_files) {
    if (ppid_children->empty()) *ppid_children = ScanParents();
    scanned_stat_ = true;
    auto [lo, hi] = ppid_children->equal_range(pid);
    for (auto it = lo; it != hi; ++it) kids.push_back(it->second);
  }
  for (pid_t kid : kids) Walk(kid, pid, now, visited, ppid_children);
}

int64_t ProcessTreeCpuTime::SampleNs(Diagnostics* diag) {
  std::map<pid_t, Thread> now;
  if (root_ > 0) {
    std::map<pid_t, bool> visited;
    std::multimap<pid_t, pid_t> ppid_children;
    scanned_stat_ = false;
    parents_.clear();
    Walk(root_, 0, now, visited, &ppid_children);
  }
  // Threads gone since the last sample keep their last CPU time.
  for (const auto& [tid, t] : last_)
    if (!now.count(tid)) retired_ns_ += t.cpu_ns;
  for (const auto& [tid, t] : now) {
    auto it = last_.find(tid);
    if (it != last_.end() && (t.cpu_ns < it->second.cpu_ns || t.pid != it->second.pid)) {
      // The id now names a new thread: the old one's time is kept, the new one starts afresh.
      retired_ns_ += it->second.cpu_ns;
      if (diag) diag->Add("model.tid_reused");
    }
  }
  last_ = std::move(now);
  int64_t total = retired_ns_;
  for (const auto& [tid, t] : last_) total += t.cpu_ns;
  return total;
}

// ---------------------------------------------------------------------------

CpuTimeRecorder::CpuTimeRecorder(std::string proc_root, pid_t root)
    : proc_(std::move(proc_root)), tree_(proc_, root) {}

Result<std::unique_ptr<CpuTimeRecorder>> CpuTimeRecorder::Start(
    std::string proc_root, pid_t root, const std::string& csv_path,
    const CpuTimeRecorderOptions& options) {
  if (!procfs::ReadMachineBusyNs(proc_root)) {
    return Nothing(fmt::format("cannot read the machine's CPU time from {}/stat", proc_root));
  }
  const int fd = ::open(csv_path.c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0)
    return BadInput(csv_path, fmt::format("cannot create the CPU-time log: {}", strerror(errno)));
  return Start(std::move(proc_root), root, fd, csv_path, options);
}

Result<std::unique_ptr<CpuTimeRecorder>> CpuTimeRecorder::Start(
    std::string proc_root, pid_t root, int csv_fd, const std::string& csv_path,
    const CpuTimeRecorderOptions& options) {
  if (!procfs::ReadMachineBusyNs(proc_root)) {
    ::close(csv_fd);
    return Nothing(fmt::format("cannot read the machine's CPU time from {}/stat", proc_root));
  }
  std::unique_ptr<CpuTimeRecorder> r(new CpuTimeRecorder(std::move(proc_root), root));
  r->options_ = options;
  r->csv_path_ = csv_path;
  r->log_ = std::make_unique<RowLog>(csv_fd);
  r->pending_ = "t_ns,thread,cpu_ns\n";
  r->SampleOnce();
  r->Flush();
  r->thread_ = std::thread([p = r.get()] { p->Loop(); });
  return r;
}

CpuTimeRecorder::~CpuTimeRecorder() {
  if (!stopped_) Stop();
}

void CpuTimeRecorder::SampleOnce() {
  const int64_t tree_ns = tree_.SampleNs(&stats_.diagnostics);
  const std::optional<int64_t> busy_ns = procfs::ReadMachineBusyNs(proc_);
  // Stamped after both reads; the tree walk is the slow part (tens of µs per thread).
  int64_t t_ns = MonotonicNowNs();
  if (t_ns <= last_t_ns_) t_ns = last_t_ns_ + 1;  // one sample per t_ns, strictly increasing
  if (!busy_ns) {
    stats_.diagnostics.Add("cputime.unreadable_sample");
    return;
  }
  last_t_ns_ = t_ns;
  ++stats_.samples;
  fmt::format_to(std::back_inserter(pending_), "{},machine,{}\n", t_ns, *busy_ns);
  // Before its threads: a reader can tell whose a process is from its first row on.
  for (const auto& [pid, parent] : tree_.parents()) {
    auto [it, fresh] = written_parent_.try_emplace(pid, parent);
    if (!fresh && it->second == parent) continue;
    it->second = parent;
    fmt::format_to(std::back_inserter(pending_), "{},parent:{},{}\n", t_ns, pid, parent);
  }
  for (const auto& [tid, t] : tree_.threads()) {
    auto it = written_.find(tid);
    if (it != written_.end() && it->second.pid == t.pid && it->second.cpu_ns == t.cpu_ns) continue;
    written_[tid] = t;
    if (seen_.emplace(std::pair{t.pid, tid}, true).second) ++stats_.threads;
    fmt::format_to(std::back_inserter(pending_), "{},{}/{},{}\n", t_ns, t.pid, tid, t.cpu_ns);
  }
  if (first_tree_ns_ < 0) {
    first_tree_ns_ = tree_ns;
    first_busy_ns_ = *busy_ns;
  }
  last_tree_ns_ = tree_ns;
  last_busy_ns_ = *busy_ns;
}

void CpuTimeRecorder::Flush() {
  if (pending_.empty()) return;
  log_->Append(pending_);
  pending_.clear();
}

void CpuTimeRecorder::Loop() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  int64_t deadline_ns = MonotonicNowNs();
  int64_t next_flush_ns = deadline_ns + options_.flush_period_ns;
  while (!stop_.load(std::memory_order_relaxed)) {
    deadline_ns += options_.period_ns;
    const int64_t now_ns = MonotonicNowNs();
    if (deadline_ns <= now_ns) {
      ++stats_.overruns;
      deadline_ns = now_ns;
    } else {
      SleepUntilMonotonicNs(deadline_ns);
    }
    if (stop_.load(std::memory_order_relaxed)) break;
    SampleOnce();
    if (MonotonicNowNs() >= next_flush_ns) {
      Flush();
      next_flush_ns = MonotonicNowNs() + options_.flush_period_ns;
    }
  }
}

CpuTimeStats CpuTimeRecorder::Stop() {
  if (stopped_) return stats_;
  stopped_ = true;
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  SampleOnce();  // closes the last interval
  Flush();
  log_->Close();
  stats_.tree_cpu_ns = first_tree_ns_ < 0 ? 0 : last_tree_ns_ - first_tree_ns_;
  stats_.machine_busy_ns = first_busy_ns_ < 0 ? 0 : last_busy_ns_ - first_busy_ns_;
  log_->ReportFailures(stats_.diagnostics, "cputime.write_failed", csv_path_, "CPU-time log");
  return stats_;
}

}  // namespace smaragdine
