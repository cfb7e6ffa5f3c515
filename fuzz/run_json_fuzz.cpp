// libFuzzer target: a run directory's run.json (and, after a "\n\x00\x00\n"
// separator in the input, its energy.csv) read through ReadRunDirectory, the
// path `account --energy RUN` takes.
//
//   fuzz/run.sh run_json_fuzz 600
//
// The bytes are written to a private temporary directory each run: the run.json
// reader is only reachable through files. Besides "no crash", every accepted run
// must have as many series as domains and errors must be kBadInput.
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smaragdine/energy_log.h"

namespace {

// A small valid energy.csv for the domains of tests/data/energy/run_basic, used
// when the input has no separator, so that run.json mutations reach the checks
// that compare run.json's domains with the readings.
constexpr std::string_view kDefaultCsv =
    "t_ns,domain,energy_j,power_w\n"
    "5000000000,cpu:0/package,100.0,\n"
    "5000000000,cpu:0/dram,20.0,\n"
    "5000000000,gpu:0,,50\n"
    "5001000000,cpu:0/package,101.5,\n"
    "5001000000,cpu:0/dram,20.25,\n"
    "5001000000,gpu:0,,60\n";
constexpr std::string_view kSeparator = "\n\0\0\n";

const std::string& Dir() {
  static const std::string dir = [] {
    std::string d = "/tmp/smg-run-json-fuzz-XXXXXX";
    if (!::mkdtemp(d.data())) std::abort();
    return d;
  }();
  return dir;
}

void Put(const std::string& path, std::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  while (!bytes.empty()) {
    ssize_t w = ::write(fd, bytes.data(), bytes.size());
    if (w <= 0) std::abort();
    bytes.remove_prefix(static_cast<size_t>(w));
  }
  ::close(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace smaragdine;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view json = input, csv = kDefaultCsv;
  if (size_t at = input.find(std::string_view(kSeparator.data(), 4)); at != std::string_view::npos) {
    json = input.substr(0, at);
    csv = input.substr(at + 4);
  }
  Put(Dir() + "/run.json", json);
  Put(Dir() + "/energy.csv", csv);
  Result<EnergyLog> log = ReadRunDirectory(Dir());
  if (!log.ok()) {
    if (log.error().code != ErrorCode::kBadInput) std::abort();
    return 0;
  }
  if (log->series.size() != log->domains.size()) std::abort();
  for (const EnergySeries& s : log->series) {
    if (s.t_ns.size() != s.energy_j.size()) std::abort();
    for (size_t i = 1; i < s.t_ns.size(); ++i)
      if (s.t_ns[i] <= s.t_ns[i - 1] || !(s.energy_j[i] >= s.energy_j[i - 1])) std::abort();
  }
  return 0;
}
