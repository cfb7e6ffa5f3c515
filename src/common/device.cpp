#include "smaragdine/device.h"

#include <charconv>

#include <fmt/format.h>

namespace smaragdine {

Device ParseDevice(std::string_view text) {
  Device d;
  if (text.starts_with("CPU")) d.kind = DeviceKind::kCpu;
  else if (text.starts_with("GPU")) d.kind = DeviceKind::kGpu;
  else return d;
  const std::string_view rest = text.substr(3);
  if (rest.size() < 2 || rest[0] != ':') return d;
  int32_t index = -1;
  const auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), index);
  if (ec == std::errc() && end == rest.data() + rest.size() && index >= 0) d.index = index;
  return d;
}

std::string DeviceName(DeviceKind kind, int32_t index) {
  switch (kind) {
    case DeviceKind::kCpu: return fmt::format("CPU:{}", index);
    case DeviceKind::kGpu: return fmt::format("GPU:{}", index);
    case DeviceKind::kOther: break;
  }
  return "";
}

}  // namespace smaragdine
