// Progress line: formatting and the ticker thread (progress.h).
#include "common/progress.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

namespace smaragdine {

std::string FormatBytes(int64_t bytes) {
  if (bytes < 1000) return fmt::format("{} B", bytes);
  static constexpr const char* kUnits[] = {"kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = -1;
  while (v >= 999.95 && u < 3) {
    v /= 1000;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, kUnits[u]);
}

namespace {
// Counts of things: "950", "12.3 k", "4.5 M".
std::string FormatCount(int64_t n) {
  if (n < 10'000) return fmt::format("{}", n);
  if (n < 1'000'000) return fmt::format("{:.1f} k", n / 1e3);
  if (n < 1'000'000'000) return fmt::format("{:.1f} M", n / 1e6);
  return fmt::format("{:.1f} G", n / 1e9);
}

std::string FormatAmount(int64_t n, ProgressUnit unit) {
  switch (unit) {
    case ProgressUnit::kBytes: return FormatBytes(n);
    case ProgressUnit::kEvents: return FormatCount(n) + " events";
    case ProgressUnit::kSteps: return FormatCount(n);
    case ProgressUnit::kNone: break;
  }
  return FormatCount(n);
}
}  // namespace

std::string FormatProgressLine(std::string_view command, std::string_view stage, int64_t done,
                               int64_t total, ProgressUnit unit, double elapsed_s) {
  std::string line = fmt::format("{}: {}", command, stage);
  if (unit == ProgressUnit::kSteps && done >= 0 && total > 0) {
    line += fmt::format(" {} of {}", done, total);
  } else if (done >= 0 && total > 0) {
    const double pct = 100.0 * static_cast<double>(done) / static_cast<double>(total);
    line += fmt::format(" {} of {} ({:.0f} %)", FormatAmount(done, unit), FormatAmount(total, unit),
                        pct < 0 ? 0 : (pct > 100 ? 100 : pct));
  } else if (done >= 0) {
    line += " " + FormatAmount(done, unit);
  } else if (total > 0) {
    line += " (" + FormatAmount(total, unit) + ")";
  }
  line += fmt::format(" … {:.1f} s", elapsed_s);
  return line;
}

int64_t InputBytes(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  if (!S_ISDIR(st.st_mode)) return static_cast<int64_t>(st.st_size);
  int64_t sum = 0;
  if (DIR* dir = ::opendir(path.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      struct stat f;
      const std::string child = path + "/" + entry->d_name;
      if (::stat(child.c_str(), &f) == 0 && S_ISREG(f.st_mode)) sum += f.st_size;
    }
    ::closedir(dir);
  }
  return sum;
}

ProgressLine::ProgressLine(std::string command, int fd)
    : command_(std::move(command)), fd_(fd), enabled_(::isatty(fd) == 1) {
  if (enabled_) ticker_ = std::thread([this] { Run(); });
}

ProgressLine::~ProgressLine() {
  Finish();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (ticker_.joinable()) ticker_.join();
}

void ProgressLine::Stage(std::string stage, int64_t total, ProgressUnit unit) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  stage_ = std::move(stage);
  total_ = total;
  done_ = -1;
  unit_ = unit;
  stage_start_ = std::chrono::steady_clock::now();
  if (drawn_) DrawLocked();  // a line already shows: replace it at once
}

void ProgressLine::Update(int64_t done, int64_t total) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  done_ = done;
  if (total >= 0) total_ = total;
}

void ProgressLine::Finish() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> lock(mu_);
  stage_.clear();
  if (drawn_) {
    // Carriage return and "erase to end of line": the terminal is as before.
    constexpr std::string_view kClear = "\r\x1b[K";
    [[maybe_unused]] ssize_t n = ::write(fd_, kClear.data(), kClear.size());
    drawn_ = false;
  }
}

void ProgressLine::DrawLocked() {
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stage_start_).count();
  std::string line = "\r\x1b[K" + FormatProgressLine(command_, stage_, done_, total_, unit_,
                                                     elapsed_s);
  [[maybe_unused]] ssize_t n = ::write(fd_, line.data(), line.size());
  drawn_ = true;
}

void ProgressLine::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    cv_.wait_for(lock, std::chrono::milliseconds(200));
    if (stop_ || stage_.empty()) continue;
    if (std::chrono::steady_clock::now() - stage_start_ < kShowAfter && !drawn_) continue;
    DrawLocked();
  }
}

}  // namespace smaragdine
