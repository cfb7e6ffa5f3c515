// device.h — the device an energy domain measures or a trace lane ran on.
//
// Domains and lanes name devices as text ("CPU:0", "GPU:3"; NVML's probe
// says "GPU:*" before it knows which GPU). Every rule that asks "is this a
// CPU?" or "which GPU?" reads it through ParseDevice instead of testing
// prefixes where it stands:
//
//   const Device dev = ParseDevice(lane.device);
//   if (dev.kind == DeviceKind::kGpu && dev.index >= 0) ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace smaragdine {

enum class DeviceKind { kCpu, kGpu, kOther };

struct Device {
  DeviceKind kind = DeviceKind::kOther;
  int32_t index = -1;  // the N of "GPU:N"; -1 when there is none ("GPU:*", "CPU")
};

// The kind from the text's first three letters (CPU, GPU), as traces and run
// directories have always been read; the index when ":N" follows them and
// ends the text.
Device ParseDevice(std::string_view text);
inline bool IsCpuDevice(std::string_view text) { return ParseDevice(text).kind == DeviceKind::kCpu; }
inline bool IsGpuDevice(std::string_view text) { return ParseDevice(text).kind == DeviceKind::kGpu; }
// "GPU:3", or "CPU:0": a device of `kind` numbered `index` (kOther has no name).
std::string DeviceName(DeviceKind kind, int32_t index);

}  // namespace smaragdine
