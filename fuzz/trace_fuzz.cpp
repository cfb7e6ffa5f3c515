// libFuzzer entry for the trace reader: any bytes must give a Trace or a
// kBadInput error, never a crash, hang or sanitizer report.
//
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DSMARAGDINE_BUILD_FUZZERS=ON \
//     -DSMARAGDINE_BUILD_TESTS=OFF -DSMARAGDINE_BUILD_BENCH=OFF && ninja -C build-fuzz trace_fuzz
//   build-fuzz/trace_fuzz -max_total_time=60 CORPUS_DIR   (seed it with tests/data/ traces)
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "smaragdine/trace.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  smaragdine::Result<smaragdine::Trace> t = smaragdine::ParseTrace("fuzz", bytes, {});
  if (t.ok()) {
    // Touch what consumers read so that bad ids would trip the sanitizers.
    for (const smaragdine::Event& e : t->events) {
      if (e.lane >= t->lanes.size() || e.node >= t->nodes.size()) __builtin_trap();
      if (e.step >= static_cast<int32_t>(t->steps.size())) __builtin_trap();
    }
  } else if (t.error().code != smaragdine::ErrorCode::kBadInput) {
    __builtin_trap();
  }
  return 0;
}
