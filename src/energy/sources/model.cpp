// The CPU-time model: idle power plus per-core power × CPU time of a process tree.
#include "energy/sources/model.h"

#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

namespace smaragdine {
namespace {

constexpr const char* kDomain = "cpu:0/package";
constexpr const char* kSourceName = "model";
constexpr int kPreference = 100;

// Small procfs files: one read(2) is enough and avoids iostream overhead at 100 Hz.
std::optional<std::string> ReadSmallFile(const std::string& path, int* error = nullptr) {
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

// schedstat: "<ns on cpu> <ns waiting> <timeslices>\n".
std::optional<int64_t> ParseSchedstat(const std::string& text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 10);
  if (end == text.c_str()) return std::nullopt;
  return static_cast<int64_t>(v);
}

int64_t MonotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

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

void ProcessTreeCpuTime::Walk(pid_t pid, std::map<pid_t, int64_t>& now,
                              std::map<pid_t, bool>& visited,
                              std::multimap<pid_t, pid_t>* ppid_children) {
  if (visited[pid]) return;  // a loop only a fake or racing tree could make
  visited[pid] = true;
  const std::string task_dir = fmt::format("{}/{}/task", proc_, pid);
  std::vector<pid_t> kids;
  bool children_files = true;
  for (pid_t tid : NumericEntries(task_dir)) {
    const std::string base = fmt::format("{}/{}", task_dir, tid);
    // A thread that exits between the listing and this read is simply absent now.
    if (auto s = ReadSmallFile(base + "/schedstat")) {
      if (auto ns = ParseSchedstat(*s)) now[tid] = *ns;
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
  for (pid_t kid : kids) Walk(kid, now, visited, ppid_children);
}

int64_t ProcessTreeCpuTime::SampleNs(Diagnostics* diag) {
  std::map<pid_t, int64_t> now;
  if (root_ > 0) {
    std::map<pid_t, bool> visited;
    std::multimap<pid_t, pid_t> ppid_children;
    scanned_stat_ = false;
    Walk(root_, now, visited, &ppid_children);
  }
  // Threads gone since the last sample keep their last CPU time.
  for (const auto& [tid, ns] : last_ns_)
    if (!now.count(tid)) retired_ns_ += ns;
  for (const auto& [tid, ns] : now) {
    auto it = last_ns_.find(tid);
    if (it != last_ns_.end() && ns < it->second) {
      // The id now names a new thread: the old one's time is kept, the new one starts afresh.
      retired_ns_ += it->second;
      if (diag) diag->Add("model.tid_reused");
    }
  }
  last_ns_ = std::move(now);
  int64_t total = retired_ns_;
  for (const auto& [tid, ns] : last_ns_) total += ns;
  return total;
}

namespace {

DomainInfo ModelInfo() {
  DomainInfo info;
  info.name = kDomain;
  info.device = "CPU:0";
  info.source = kSourceName;
  info.quantity = Quantity::kEnergy;
  info.modeled = true;
  return info;
}

class ModelSession : public SamplingSession {
 public:
  ModelSession(const SourceOptions& o, std::function<int64_t()> now_ns)
      : core_w_(o.model_core_w),
        idle_w_(o.model_idle_w),
        tree_(o.roots.proc, o.model_pid),
        now_ns_(std::move(now_ns)),
        infos_{ModelInfo()} {
    t0_ns_ = now_ns_();
    cpu0_ns_ = tree_.SampleNs();
  }

  const std::vector<DomainInfo>& domains() const override { return infos_; }

  void Read(std::vector<double>& values, Diagnostics& diag) override {
    values.resize(1);
    const int64_t cpu_ns = tree_.SampleNs(&diag) - cpu0_ns_;
    const int64_t dt_ns = now_ns_() - t0_ns_;
    values[0] = idle_w_ * static_cast<double>(dt_ns) * 1e-9 +
                core_w_ * static_cast<double>(cpu_ns) * 1e-9;
  }

 private:
  double core_w_, idle_w_;
  ProcessTreeCpuTime tree_;
  std::function<int64_t()> now_ns_;
  std::vector<DomainInfo> infos_;
  int64_t t0_ns_ = 0, cpu0_ns_ = 0;
};

class ModelSource : public EnergySource {
 public:
  ModelSource(SourceOptions o, std::function<int64_t()> now_ns)
      : o_(std::move(o)), now_ns_(now_ns ? std::move(now_ns) : MonotonicNs) {}

  std::string Name() const override { return kSourceName; }
  RateClass Rate() const override { return RateClass::kSlow; }
  int Preference() const override { return kPreference; }

  std::vector<DomainProbe> Probe() override {
    DomainProbe p;
    p.info = ModelInfo();
    const std::string who = o_.model_pid > 0 ? std::to_string(o_.model_pid) : "self";
    const std::string path = fmt::format("{}/{}/schedstat", o_.roots.proc, who);
    p.location = fmt::format("{}/<pid>/task/<tid>/schedstat × {:g} W per busy core + {:g} W idle",
                             o_.roots.proc, o_.model_core_w, o_.model_idle_w);
    int error = 0;
    auto text = ReadSmallFile(path, &error);
    if (text && ParseSchedstat(*text)) {
      p.readable = true;
      p.reason = fmt::format(
          "a model, not a measurement: CPU time of the recorded processes × {:g} W per busy core "
          "+ {:g} W idle",
          o_.model_core_w, o_.model_idle_w);
    } else {
      p.reason = text ? fmt::format("{} does not hold a CPU time", path)
                      : fmt::format("cannot read {}: {}", path, std::strerror(error));
      p.fix = fmt::format("mount procfs at {} (a kernel with CONFIG_SCHED_INFO provides schedstat)",
                          o_.roots.proc);
    }
    return {p};
  }

  Result<std::unique_ptr<SamplingSession>> Open(const std::vector<std::string>& domains) override {
    for (const auto& d : domains)
      if (d != kDomain) return Nothing(fmt::format("{}: the model only offers {}", d, kDomain));
    if (domains.empty()) return Nothing("the model was asked for no domain");
    return std::unique_ptr<SamplingSession>(std::make_unique<ModelSession>(o_, now_ns_));
  }

 private:
  SourceOptions o_;
  std::function<int64_t()> now_ns_;
};

}  // namespace

std::unique_ptr<EnergySource> MakeModelSource(const SourceOptions& options,
                                              std::function<int64_t()> now_ns) {
  return std::make_unique<ModelSource>(options, std::move(now_ns));
}

}  // namespace smaragdine
