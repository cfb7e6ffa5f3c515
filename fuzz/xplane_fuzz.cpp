// libFuzzer entry for the XPlane (protobuf) trace reader and the TF2 and JAX
// rules on what it reads: any bytes must give a Trace or a kBadInput error,
// never a crash, hang, sanitizer report or an allocation a length prefix
// asked for.
//
//   fuzz/run.sh xplane_fuzz 600    (seeds: tests/data/fixtures/*.xplane.pb, tests/data/xplane/)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smaragdine/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  // --format xplane: the protobuf reader whatever the first bytes are (auto
  // detection would hand most mutations to the JSON reader, trace_fuzz's).
  smaragdine::Result<smaragdine::Trace> t =
      smaragdine::ParseTrace("fuzz", bytes, {smaragdine::TraceFormat::kXplane});
  if (t.ok()) {
    // Touch what consumers read so that bad ids would trip the sanitizers.
    for (const smaragdine::Event& e : t->events) {
      if (e.lane >= t->lanes.size() || e.node >= t->nodes.size()) __builtin_trap();
      if (e.step >= static_cast<int32_t>(t->steps.size())) __builtin_trap();
      if (e.end_ns < e.start_ns) __builtin_trap();
    }
  } else if (t.error().code != smaragdine::ErrorCode::kBadInput) {
    __builtin_trap();
  }
  return 0;
}
