#include "energy/sources/sysfs_util.h"
#include "common/clock.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace smaragdine {
namespace {

int LibcOpen(const char* path, int flags) { return ::open(path, flags | O_CLOEXEC); }
int64_t MonotonicNsImpl() { return MonotonicNowNs(); }

const char* ErrnoName(int err) {
  switch (err) {
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EIO: return "EIO";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case ENODATA: return "ENODATA";
    case EINVAL: return "EINVAL";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EBUSY: return "EBUSY";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    default: return nullptr;
  }
}

}  // namespace

SysIo::SysIo()
    : open(&LibcOpen), pread(&::pread), close(&::close), now_ns(&MonotonicNsImpl),
      open_batch(&OpenUringReadBatch) {}

FileText ReadFileText(const SysIo& io, const std::string& path) {
  FileText out;
  int fd = io.open(path.c_str(), O_RDONLY);
  if (fd < 0) {
    out.err = errno;
    return out;
  }
  char buf[4096];
  off_t offset = 0;
  for (;;) {
    ssize_t n = io.pread(fd, buf, sizeof buf, offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      out.err = errno;
      break;
    }
    if (n == 0) break;
    out.text.append(buf, static_cast<size_t>(n));
    offset += n;
  }
  io.close(fd);
  return out;
}

std::optional<std::string> ReadTrimmed(const SysIo& io, const std::string& path) {
  FileText t = ReadFileText(io, path);
  if (t.err != 0) return std::nullopt;
  return std::string(Trim(t.text));
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<uint64_t> ParseU64(std::string_view s, int base) {
  s = Trim(s);
  if (base == 0) {
    base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
      s.remove_prefix(2);
      base = 16;
    }
  }
  if (s.empty()) return std::nullopt;
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

std::optional<std::vector<int>> ParseCpuList(std::string_view s) {
  std::vector<int> cpus;
  s = Trim(s);
  while (!s.empty()) {
    size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
    size_t dash = part.find('-');
    auto lo = ParseU64(part.substr(0, dash));
    auto hi = dash == std::string_view::npos ? lo : ParseU64(part.substr(dash + 1));
    if (!lo || !hi || *hi < *lo || *hi > 1u << 20) return std::nullopt;
    for (uint64_t c = *lo; c <= *hi; ++c) cpus.push_back(static_cast<int>(c));
  }
  return cpus;
}

std::vector<std::string> ListDir(const std::string& dir, int* err) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    if (err != nullptr) *err = errno;
    return names;
  }
  if (err != nullptr) *err = 0;
  while (dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

DomainInfo CpuCounterInfo(const std::string& domain, const std::string& source,
                          double resolution_j) {
  DomainInfo info;
  info.name = domain;
  info.device = CpuDeviceOf(domain);
  info.source = source;
  info.quantity = Quantity::kEnergy;
  info.resolution_j = resolution_j;
  return info;
}

void SetRaplCounterMeter(DomainInfo& info, std::string field, int64_t update_ns,
                         std::string note) {
  info.update_interval_ns = update_ns;
  info.meter.kind = MeterKind::kCounter;
  info.meter.window_ns = 0;
  info.meter.field = std::move(field);
  info.meter.note = std::move(note);
}

std::string CpuDeviceOf(const std::string& domain) {
  return "CPU:" + domain.substr(4, domain.find('/') - 4);
}

std::string ErrnoText(int err) {
  const char* name = ErrnoName(err);
  if (name == nullptr) return fmt::format("{} (errno {})", std::strerror(err), err);
  return fmt::format("{} ({})", std::strerror(err), name);
}

std::optional<uint64_t> PreadU64(const SysIo& io, int fd, int* err) {
  char buf[32];
  ssize_t n;
  do {
    n = io.pread(fd, buf, sizeof buf, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    *err = errno;
    return std::nullopt;
  }
  return ParseCounterRead(buf, static_cast<size_t>(n), err);
}

std::optional<uint64_t> ParseCounterRead(const char* buf, size_t n, int* err) {
  auto v = ParseU64(std::string_view(buf, n));
  if (!v) {
    // An empty or garbled read: as good as an I/O error for the caller.
    *err = n == 0 ? ENODATA : EIO;
    return std::nullopt;
  }
  *err = 0;
  return v;
}

CounterUnwrapper::CounterUnwrapper(uint64_t first_raw, int64_t first_t_ns, uint64_t range,
                                   double unit_j)
    : last_raw_(first_raw), last_t_ns_(first_t_ns), range_(range), unit_j_(unit_j) {
  if (range_ > 0) {
    double max_s = static_cast<double>(range_) * unit_j_ / kMaxPlausiblePowerW;
    max_interval_ns_ = static_cast<int64_t>(std::min(max_s * 1e9, 9e18));
  }
}

double CounterUnwrapper::Update(uint64_t raw, int64_t t_ns, Diagnostics& diag) {
  const uint64_t last = last_raw_;
  const int64_t dt_ns = t_ns - last_t_ns_;
  last_raw_ = raw;
  last_t_ns_ = t_ns;
  if (max_interval_ns_ > 0 && dt_ns > max_interval_ns_) {
    diag.Add(kDiagIntervalTooLong);
    return std::numeric_limits<double>::quiet_NaN();
  }
  uint64_t delta;
  if (raw >= last) {
    delta = raw - last;
  } else if (range_ > 0 && last <= range_) {
    delta = raw + (range_ - last);
    diag.Add(kDiagCounterWrapped);
  } else {
    diag.Add(kDiagCounterDecreased);
    return std::numeric_limits<double>::quiet_NaN();
  }
  total_j_ += static_cast<double>(delta) * unit_j_;
  return total_j_;
}

namespace {

class FileCounterSession : public SamplingSession {
 public:
  FileCounterSession(const SysIo& io, std::vector<CounterChannel> channels)
      : io_(io), channels_(std::move(channels)) {
    for (const CounterChannel& c : channels_) infos_.push_back(c.info);
    state_.resize(channels_.size());
  }
  ~FileCounterSession() override {
    for (State& s : state_)
      if (s.fd >= 0) io_.close(s.fd);
  }

  // Opens each file and takes the first reading: the origin of the cumulative joules.
  Status Start(const std::string& source_name) {
    const int64_t t_ns = io_.now_ns();
    for (size_t i = 0; i < channels_.size(); ++i) {
      const CounterChannel& c = channels_[i];
      State& s = state_[i];
      s.fd = io_.open(c.path.c_str(), O_RDONLY);
      if (s.fd < 0) {
        return Nothing(fmt::format("{}: cannot open {} for {}: {}", source_name, c.path,
                                   c.info.name, ErrnoText(errno)));
      }
      if (c.kind == CounterChannel::Kind::kDecimalPower) continue;
      int err = 0;
      std::optional<uint64_t> raw = ReadRaw(c, s.fd, &err);
      if (!raw) {
        return Nothing(fmt::format("{}: cannot read {} for {}: {}", source_name, c.path,
                                   c.info.name, ErrnoText(err)));
      }
      s.unwrap = CounterUnwrapper(*raw, t_ns, c.range, c.unit);
    }
    return Status();
  }

  const std::vector<DomainInfo>& domains() const override { return infos_; }

  void Read(std::vector<double>& values, Diagnostics& diag) override {
    values.resize(channels_.size());
    const int64_t t_ns = io_.now_ns();
    if (!batch_tried_) OpenBatch();
    if (batch_) ReadBatched();
    for (size_t i = 0; i < channels_.size(); ++i) {
      const CounterChannel& c = channels_[i];
      State& s = state_[i];
      values[i] = std::numeric_limits<double>::quiet_NaN();
      if (s.fd < 0) continue;  // stopped earlier: stays NaN
      int err = 0;
      std::optional<uint64_t> raw =
          s.batched_n >= 0 ? ParseCounterRead(s.buf, static_cast<size_t>(s.batched_n), &err)
                           : ReadRaw(c, s.fd, &err);
      if (!raw) {
        diag.Add(kDiagReadFailed);
        diag.Warn(fmt::format("{}: reading {} failed ({}); the domain stops here", c.info.name,
                              c.path, ErrnoText(err)));
        io_.close(s.fd);
        s.fd = -1;
        continue;
      }
      if (c.kind == CounterChannel::Kind::kDecimalPower) {
        values[i] = static_cast<double>(*raw) * c.unit;
      } else {
        values[i] = s.unwrap.Update(*raw, t_ns, diag);
      }
    }
  }

 private:
  struct State {
    int fd = -1;
    CounterUnwrapper unwrap;
    int slot = -1;           // its file in batch_, or −1: read with pread
    ssize_t batched_n = -1;  // bytes this pass's batch put in buf, or −1: read with pread
    char buf[32];            // as PreadU64's: a counter's text is at most 20 digits and a newline
  };

  // On the first Read, so that the ring belongs to the thread that samples.
  // Only the decimal files: an MSR read is 8 bytes at a register's offset of a
  // character device, which cannot be read without waiting anyway. The
  // io_uring batch bypasses io_.pread, so a fake pread keeps it off.
  void OpenBatch() {
    batch_tried_ = true;
    if (io_.open_batch == nullptr) return;
    if (io_.open_batch == &OpenUringReadBatch && io_.pread != &::pread) return;
    std::vector<int> fds;
    for (size_t i = 0; i < channels_.size(); ++i) {
      if (channels_[i].kind == CounterChannel::Kind::kMsrEnergy || state_[i].fd < 0) continue;
      state_[i].slot = static_cast<int>(fds.size());
      fds.push_back(state_[i].fd);
    }
    if (fds.size() >= 2) {
      auto batch = io_.open_batch(fds);
      if (batch.ok()) batch_ = std::move(batch).value();
    }
    if (!batch_)
      for (State& s : state_) s.slot = -1;
  }

  // One batch of this pass's reads. A file the kernel could not read without
  // blocking (−EAGAIN) is read with pread from then on; any other failure is
  // read again with pread this pass, so errors are what pread says, as before.
  void ReadBatched() {
    reads_.clear();
    for (State& s : state_) {
      s.batched_n = -1;
      if (s.slot < 0 || s.fd < 0) continue;
      BatchRead r;
      r.slot = static_cast<size_t>(s.slot);
      r.buf = s.buf;
      r.len = sizeof s.buf;
      reads_.push_back(r);
    }
    if (reads_.size() < 2) {  // one read is one system call either way
      batch_.reset();
      for (State& s : state_) s.slot = -1;
      return;
    }
    batch_->Read(reads_);
    size_t k = 0;
    for (State& s : state_) {
      if (s.slot < 0 || s.fd < 0) continue;
      const ssize_t res = reads_[k++].result;
      if (res >= 0) {
        s.batched_n = res;
      } else if (res == -EAGAIN) {
        s.slot = -1;
      }
    }
  }

  std::optional<uint64_t> ReadRaw(const CounterChannel& c, int fd, int* err) const {
    if (c.kind != CounterChannel::Kind::kMsrEnergy) return PreadU64(io_, fd, err);
    uint64_t v = 0;
    ssize_t n;
    do {
      n = io_.pread(fd, &v, sizeof v, c.offset);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof v)) {
      *err = n < 0 ? errno : EIO;
      return std::nullopt;
    }
    return v & 0xFFFFFFFFull;  // the energy status counters are the low 32 bits
  }

  SysIo io_;
  std::vector<CounterChannel> channels_;
  std::vector<DomainInfo> infos_;
  std::vector<State> state_;
  bool batch_tried_ = false;
  std::unique_ptr<ReadBatch> batch_;  // declared after state_: freed first
  std::vector<BatchRead> reads_;      // kept between passes: no allocation per pass
};

}  // namespace

Result<std::unique_ptr<SamplingSession>> OpenFileCounterSession(
    const SysIo& io, std::string source_name, std::vector<CounterChannel> channels) {
  auto session = std::make_unique<FileCounterSession>(io, std::move(channels));
  SMG_RETURN_IF_ERROR(session->Start(source_name));
  return std::unique_ptr<SamplingSession>(std::move(session));
}

}  // namespace smaragdine
