#include "record_fake/fake_rapl_util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

namespace smaragdine::testing {
namespace {

void WriteFile(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path);
}

int64_t ClockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

int64_t MonoNowNs() { return ClockNs(CLOCK_MONOTONIC); }
int64_t RealNowNs() { return ClockNs(CLOCK_REALTIME); }

FakeRaplTree::FakeRaplTree() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "smg-fakerec-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  std::filesystem::create_directories(SysfsRoot() + "/class/powercap");
  std::filesystem::create_directories(EmptyRoot());
}

FakeRaplTree::~FakeRaplTree() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::string FakeRaplTree::AddZone(const std::string& entry, const std::string& name,
                                  uint64_t energy_uj, uint64_t max_energy_range_uj) {
  const std::string dir = SysfsRoot() + "/class/powercap/" + entry;
  WriteFile(dir + "/name", name + "\n");
  WriteFile(dir + "/energy_uj", CounterText(energy_uj));
  WriteFile(dir + "/max_energy_range_uj", fmt::format("{}\n", max_energy_range_uj));
  WriteFile(dir + "/enabled", "1\n");
  return dir + "/energy_uj";
}

std::string CounterText(uint64_t value_uj) { return fmt::format("{:015}\n", value_uj); }

CounterFeeder::CounterFeeder(std::vector<Zone> zones) {
  for (Zone& z : zones) {
    State s;
    s.fd = ::open(z.path.c_str(), O_WRONLY | O_CLOEXEC);
    if (s.fd < 0) throw std::runtime_error("cannot open " + z.path);
    s.zone = std::move(z);
    states_.push_back(std::move(s));
  }
}

CounterFeeder::~CounterFeeder() {
  Stop();
  for (State& s : states_) ::close(s.fd);
}

void CounterFeeder::Start() {
  const int64_t t = MonoNowNs();
  for (State& s : states_) s.log.emplace_back(t, 0);
  thread_ = std::thread([this] { Loop(); });
}

void CounterFeeder::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void CounterFeeder::WriteAll(State& s, const std::string& text) {
  if (::pwrite(s.fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()) ||
      ::ftruncate(s.fd, static_cast<off_t>(text.size())) != 0)
    throw std::runtime_error("cannot rewrite " + s.zone.path);
}

void CounterFeeder::Loop() {
  while (!stop_.load()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (State& s : states_) {
        if (s.garbled) continue;
        s.total_uj += s.zone.step_uj;
        WriteAll(s, CounterText((s.zone.start_uj + s.total_uj) % s.zone.range_uj));
        s.log.emplace_back(MonoNowNs(), s.total_uj);
      }
    }
    // A relative sleep: after a stall the feeder does not burst to catch up, so the
    // counter never gains more than one step per millisecond (the wrap test needs
    // fewer than one range between two readings).
    const timespec one_ms{0, 1'000'000};
    nanosleep(&one_ms, nullptr);
  }
}

int64_t CounterFeeder::Garble(size_t i) {
  std::lock_guard<std::mutex> lock(mu_);
  State& s = states_.at(i);
  s.garbled = true;
  WriteAll(s, "not a number\n");
  return MonoNowNs();
}

uint64_t CounterFeeder::WrittenUjAt(size_t i, int64_t t_ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto& log = states_.at(i).log;
  auto it = std::upper_bound(log.begin(), log.end(), t_ns,
                             [](int64_t t, const auto& e) { return t < e.first; });
  if (it == log.begin()) return 0;
  return std::prev(it)->second;
}

size_t CounterFeeder::Updates(size_t i) const {
  std::lock_guard<std::mutex> lock(mu_);
  return states_.at(i).log.size() - 1;
}

}  // namespace smaragdine::testing
