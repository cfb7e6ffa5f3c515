// progress.h — a progress line on stderr for long commands (`account`,
// `report` on large inputs), shown only when stderr is a terminal.
//
// Each stage ("reading trace x.json.gz", "attributing") is announced; a
// ticker thread redraws the line with the elapsed time while the stage runs,
// and the counts when the stage reports them. Stages that finish within
// kShowAfter print nothing, so small inputs stay quiet; when stderr is a file
// or a pipe nothing is ever written.
//
//   ProgressLine progress("account");
//   progress.Stage("reading trace t.json.gz", FileBytes("t.json.gz"), ProgressUnit::kBytes);
//   ...
//   progress.Finish();  // clears the line
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace smaragdine {

enum class ProgressUnit { kNone, kBytes, kEvents, kSteps };

// "812.3 MB", "4.0 kB", "17 B" (decimal units, as `ls -h --si` and browsers).
std::string FormatBytes(int64_t bytes);

// One progress line (without the carriage return), e.g.
//   "account: reading trace t.json.gz (812.3 MB) … 3.2 s"
//   "account: attributing 2 of 3 … 41.0 s"
//   "report: writing 1.2 M events 45 % … 2.0 s"
// `done` < 0: not known; `total` <= 0: not known.
std::string FormatProgressLine(std::string_view command, std::string_view stage, int64_t done,
                               int64_t total, ProgressUnit unit, double elapsed_s);

// Size of a file, or the sum of the regular files in a directory (not
// recursive); 0 when it cannot be read.
int64_t InputBytes(const std::string& path);

class ProgressLine {
 public:
  // Stages shorter than this print nothing.
  static constexpr std::chrono::milliseconds kShowAfter{500};

  // Draws on `fd` only when isatty(fd); `fd` is stderr in the CLI, something
  // else in tests.
  explicit ProgressLine(std::string command, int fd = 2);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // Starts a stage; `total` in `unit` when known (a file's size, an event count).
  void Stage(std::string stage, int64_t total = 0, ProgressUnit unit = ProgressUnit::kNone);
  // How far the current stage is, in its unit.
  void Update(int64_t done, int64_t total = -1);
  // Clears the line (before the command prints its results).
  void Finish();

 private:
  void Run();
  void DrawLocked();

  std::string command_;
  int fd_;
  bool enabled_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool drawn_ = false;
  std::string stage_;
  int64_t done_ = -1;
  int64_t total_ = 0;
  ProgressUnit unit_ = ProgressUnit::kNone;
  std::chrono::steady_clock::time_point stage_start_;
  std::thread ticker_;
};

}  // namespace smaragdine
