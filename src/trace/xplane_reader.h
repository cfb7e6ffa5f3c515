// xplane_reader.h — the XPlane protobuf (`.xplane.pb`) of the TensorFlow 2
// and JAX profilers, read into the RawEvents the dialects share.
//
// An XSpace holds planes (`/host:CPU`, `/device:GPU:0`, `Task Environment`,
// `/host:metadata`, …), each with lines (threads, streams) of events whose
// names and stats live in per-plane metadata tables. The reader turns it
// into the RawTrace the trace viewer JSON of the same profile would give
// (TensorBoard makes `trace.json.gz` from this file): one process per plane
// (`process_name` = plane name), one thread per line (`thread_name` = line
// name), one complete event per XEvent named by its metadata (its display
// name, with the full name as `long_name`), and the stats the dialects read:
//   long_name, tf_op (or "level 0")   → arg_name, flagged kLongName (the op's scope path)
//   step_name                          → the event's name (as TensorBoard does)
//   group_id                           → seq
//   correlation_id                     → correlation
//   step_num (StepTraceAnnotation)     → external_id
//   hlo_op                             → arg_op;  hlo_module → cat
//   XLA's kernel annotation (prefix + name), or the HLO module's instruction
//   metadata in `/host:metadata` (program_id, hlo_op) → arg_name, kLongName
// So the TF2 rules (BuildTf2) read an XPlane exactly as they read its JSON
// twin, and the JAX rules (BuildJax) read the same fields.
//
// Times: an event starts at its line's timestamp_ns + offset_ps / 1000
// (rounded to the nearest ns, halves away from zero), and lasts
// duration_ps / 1000. Profilers write line timestamps relative to the
// profile's start; newer ones record that start (epoch ns) as the
// `profile_start_time` stat of the `Task Environment` plane, which is then
// added, so that the times are realtime.
//
// Why a hand-written wire reader (protobuf_wire.h) and not libprotobuf:
// the file is read once, front to back, into RawEvents; generated message
// classes would build a second copy of every event (and every string) as
// objects first, need protoc at build time and a .proto kept in step with
// TensorFlow's, and libprotobuf's parser enforces limits of its own that we
// would have to lift for real traces (multi-GB files). The wire format is
// five rules; reading it in place costs no allocation per field, and every
// length is checked against the bytes that remain (docs/trace-formats.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smaragdine/status.h"
#include "trace/chrome_json.h"

namespace smaragdine::trace_internal {

// What an XSpace says about itself beyond its events.
struct XSpaceInfo {
  // `Task Environment`'s profile_start_time (epoch ns), already added to
  // every event's time; nullopt when the file does not record it.
  std::optional<int64_t> profile_start_ns;
  // No recorded start, but line timestamps past 2001 (1e18 ns): the file
  // was written before profilers made its times relative, so they are epoch ns.
  bool absolute_times = false;
  // The content is JAX's (PjitFunction events, jit(…) name stacks, jit_…
  // HLO modules); else TensorFlow 2.
  bool jax = false;
  int64_t planes = 0;
  int64_t lines = 0;
  int64_t events = 0;
};

// Whether `prefix` (a file's first bytes, inflated when gzip) is a serialized
// XSpace rather than text: it starts with an XSpace field's tag (planes,
// errors, warnings or hostnames) and holds a control byte that no JSON text
// has (protobuf tags of fields 1-3 are such bytes). Empty input is not.
bool LooksLikeXSpace(std::string_view prefix);

// The first `n` bytes that gzip data `gz` inflates to (fewer when it is
// shorter or damaged): enough for LooksLikeXSpace, without inflating it all.
std::string GunzipPrefix(std::string_view gz, size_t n);

// Reads a whole XSpace into `out` (events in file order, plane by plane, line
// by line), counting anomalies in out->diagnostics. Errors: kBadInput naming
// `name` and the byte offset of the field that is wrong (truncated message,
// a length past its message's end, a wrong wire type for a known field, a
// varint longer than 10 bytes), or "no events with a duration".
Status ParseXSpace(const std::string& name, std::string_view bytes, RawTrace* out,
                   XSpaceInfo* info);

}  // namespace smaragdine::trace_internal
