#include "sources/fake_tree_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <fmt/format.h>

#include "common/clock.h"

namespace smaragdine::testing {

FakeTree::FakeTree() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "smaragdine-src-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  for (const char* d : {"sys", "dev", "proc"}) std::filesystem::create_directories(Path(d));
}

FakeTree::~FakeTree() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

SourceOptions FakeTree::Options() const {
  SourceOptions o;
  o.roots.sysfs = Path("sys");
  o.roots.dev = Path("dev");
  o.roots.proc = Path("proc");
  return o;
}

void FakeTree::Write(const std::string& rel, const std::string& text) {
  std::filesystem::path p = Path(rel);
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

void FakeTree::Remove(const std::string& rel) { std::filesystem::remove(Path(rel)); }

void FakeTree::Chmod(const std::string& rel, unsigned mode) {
  ::chmod(Path(rel).c_str(), static_cast<mode_t>(mode));
}

void FakeTree::AddPowercapZone(const std::string& entry, const std::string& name,
                               uint64_t energy_uj, uint64_t max_energy_range_uj) {
  const std::string dir = "sys/class/powercap/" + entry;
  Write(dir + "/name", name + "\n");
  Write(dir + "/energy_uj", fmt::format("{}\n", energy_uj));
  Write(dir + "/max_energy_range_uj", fmt::format("{}\n", max_energy_range_uj));
  Write(dir + "/enabled", "1\n");
}

void FakeTree::SetEnergyUj(const std::string& entry, uint64_t energy_uj) {
  Write("sys/class/powercap/" + entry + "/energy_uj", fmt::format("{}\n", energy_uj));
}

void FakeTree::AddCpu(int cpu, int package) {
  Write(fmt::format("sys/devices/system/cpu/cpu{}/topology/physical_package_id", cpu),
        fmt::format("{}\n", package));
}

void FakeTree::SetCpuInfo(const std::string& vendor, int family, int model) {
  Write("proc/cpuinfo", fmt::format("processor\t: 0\nvendor_id\t: {}\ncpu family\t: {}\n"
                                    "model\t\t: {}\nmodel name\t: Fake CPU\nstepping\t: 4\n\n",
                                    vendor, family, model));
}

void FakeTree::WriteMsr(int cpu, uint64_t reg, uint64_t value) {
  const std::string path = Path(fmt::format("dev/cpu/{}/msr", cpu));
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  // Little-endian, as rdmsr hands the value to the msr driver's read.
  ssize_t n = ::pwrite(fd, &value, sizeof value, static_cast<off_t>(reg));
  ::close(fd);
  if (n != sizeof value) throw std::runtime_error("cannot pwrite " + path);
}

std::vector<std::string>& DeniedPaths() {
  static std::vector<std::string> denied;
  return denied;
}

int64_t& FakeNowNs() {
  static int64_t now_ns = 0;
  return now_ns;
}

namespace {

int64_t KernfsNow() { return FakeNowNs() != 0 ? FakeNowNs() : MonotonicNowNs(); }

int KernfsOpen(const char* path, int flags) {
  const auto& denied = DeniedPaths();
  if (std::find(denied.begin(), denied.end(), path) != denied.end()) {
    errno = EACCES;
    return -1;
  }
  return ::open(path, flags | O_CLOEXEC);
}

ssize_t KernfsPread(int fd, void* buf, size_t n, off_t offset) {
  struct stat st;
  if (fstat(fd, &st) == 0 && st.st_nlink == 0) {
    errno = ENODEV;
    return -1;
  }
  return ::pread(fd, buf, n, offset);
}

}  // namespace

SysIo KernfsIo() {
  SysIo io;
  io.open = &KernfsOpen;
  io.pread = &KernfsPread;
  io.now_ns = &KernfsNow;
  return io;
}

}  // namespace smaragdine::testing
