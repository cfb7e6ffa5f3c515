// The table of every diagnostic name the library counts (diagnostic_names.h).
//
// One row per name: where the user reads about it and what it means.
// tests/diagnostics/diagnostic_names_test.cpp keeps it honest: every name the
// sources count is here, every row is still counted somewhere, and the doc a
// row names has a table row for it.
#include "smaragdine/diagnostic_names.h"

namespace smaragdine {

namespace {

const DiagnosticName kNames[] = {
    {"account.domain_stopped", "docs/attribution.md",
      "domains that stopped giving readings mid-run (run.json stopped_ns); a warning names "
      "each, when it stopped (s after started_ns) and why: operations after that get none "
      "of its energy"},
    {"account.events_outside_window", "docs/attribution.md",
      "events entirely outside the window; they get no energy, calls or time"},
    {"account.gpus_not_renumbered", "docs/attribution.md",
      "runs whose CUDA_VISIBLE_DEVICES named GPUs by UUID: the trace's GPU lanes kept the "
      "numbers the program saw (match them with --device)"},
    {"account.negative_duration_dropped", "docs/attribution.md",
      "events whose end is before their start"},
    {"account.partial_overlap_clipped", "docs/attribution.md",
      "an event started inside another on its lane but ended after it; clipped to the "
      "parent's end"},
    {"account.ranks_without_cpu_time", "docs/attribution.md",
      "runs whose trace has a job's ranks but whose cputime.csv followed fewer than two of "
      "their pids; CPU domains went to the ranks by their running operators"},
    {"account.regression_class_pooled", "docs/attribution.md",
      "leaf classes seen in fewer than 3 readings, whose power was tied to their op name's "
      "mean"},
    {"account.regression_fallback", "docs/attribution.md",
      "domains --method regression could not fit; they got the proportional answer, with "
      "the reason in a warning"},
    {"account.regression_pooled_by_op", "docs/attribution.md",
      "domains with too few readings for a power per class, fitted with one power per op "
      "name and phase"},
    {"cputime.parent_changed", "docs/energy-log.md",
      "a parent:PID row named another parent than PID's first one (a reused PID); the first "
      "is kept"},
    {"cputime.too_few_samples", "docs/energy-log.md",
      "cputime.csv has fewer than two samples: no process share"},
    {"cputime.truncated_last_line", "docs/energy-log.md",
      "cputime.csv's last line had no newline and was dropped"},
    {"cputime.unreadable_sample", "docs/record.md",
      "a CPU-time sample could not read <proc>/stat; the sample was skipped"},
    {"cputime.write_failed", "docs/record.md",
      "appending to cputime.csv failed; a warning names the file and error, and record "
      "fails as above"},
    {"energy.constant_counter", "docs/energy-log.md",
      "domains whose counter never changed"},
    {"energy.counter_decreased", "docs/energy-log.md",
      "intervals where a cumulative counter went down (counted as 0 J)"},
    {"energy.counter_glitch_dropped", "docs/energy-log.md",
      "isolated counter readings off the trend that the next reading contradicts, dropped"},
    {"energy.counter_jumped", "docs/energy-log.md",
      "counter jumps beyond 100 kW that the next readings keep (counted as 0 J, re-based)"},
    {"energy.domain_without_readings", "docs/energy-log.md",
      "run.json domains with no rows (left out)"},
    {"energy.duplicate_reading", "docs/energy-log.md",
      "a row repeating its domain's previous row exactly was dropped"},
    {"energy.edge_decrease_dropped", "docs/energy-log.md",
      "a domain's first counter reading above the second, or its last below the one before "
      "(a reset, wrap or glitch: that interval's energy is unknown), dropped"},
    {"energy.edge_glitch_dropped", "docs/energy-log.md",
      "a domain's first or last reading far off the trend of the readings between (a "
      "counter's interval rose, or a power reading's energy was, more than 10 times any "
      "other, plus 10 W), dropped"},
    {"energy.negative_power_dropped", "docs/energy-log.md",
      "negative power readings, dropped (the power between their neighbours is "
      "interpolated)"},
    {"energy.power_glitch_dropped", "docs/energy-log.md",
      "isolated power readings whose energy (judged over at least 1 s) was more than 10 times "
      "the higher neighbour plus 10 W, dropped (the power between the neighbours is "
      "interpolated)"},
    {"energy.reading_implausible", "docs/energy-log.md",
      "readings not finite, negative (counters), absurd or beyond 100 kW, dropped"},
    {"energy.single_reading_domain", "docs/energy-log.md",
      "domains with only one reading (left out)"},
    {"energy.trailing_unchanged_dropped", "docs/energy-log.md",
      "unchanged readings at the end of a domain, dropped"},
    {"energy.truncated_last_line", "docs/energy-log.md",
      "the last line had no newline and was dropped"},
    {"energy.zero_delta_coalesced", "docs/energy-log.md",
      "unchanged readings removed by coalescing"},
    {"jax.derived_line_event_dropped", "docs/trace-formats.md",
      "JAX events on lines the profiler's tools derive (XLA Ops, Steps, …), which repeat the "
      "kernels' time; dropped"},
    {"jax.event_on_non_device_process_dropped", "docs/trace-formats.md",
      "JAX events on a plane that is not /host:CPU or /device:GPU:N; dropped"},
    {"jax.kernel_without_op", "docs/trace-formats.md",
      "JAX device events with neither a name stack nor a known launch; kept as top-level "
      "kernel nodes"},
    {"jax.python_frame_skipped", "docs/trace-formats.md",
      "JAX Python tracer frames ($file.py:N f); not events (their time is no model scope's)"},
    {"live.backward_op_without_forward_op", "docs/live.md",
      "backward operators whose sequence number matched no forward operator; kept under "
      "their thread's nesting"},
    {"live.energy_log_short", "docs/live.md",
      "a joined record run's energy log ended before the trace; the last operators are left "
      "out"},
    {"live.gpu_domain_without_kernels", "docs/live.md",
      "a GPU domain was measured but no GPU kernel was recorded on its device; its energy "
      "stays in (idle)"},
    {"live.open_at_stop", "docs/live.md",
      "operators still open when the session stopped; they end at Stop()"},
    {"live.unmatched_end", "docs/live.md",
      "operator ends with no matching start on their thread; dropped"},
    {"merge.input_left_out", "docs/distributed.md",
      "merge --allow-partial: an input that could not be read or merged was left out (a "
      "warning says which and why)"},
    {"merge.rank_missing", "docs/distributed.md",
      "merge --allow-partial: ranks of the job's world that no input had"},
    {"model.tid_reused", "docs/sources.md",
      "a thread id came back with less CPU time than before (the kernel reused it); counted "
      "as a new thread"},
    {"nvml.counter_went_backwards", "docs/sources.md",
      "the total-energy counter of a GPU went down (a driver reload); counting resumes from "
      "the new value"},
    {"nvml.gpu_lost", "docs/sources.md",
      "NVML reported the GPU lost; its domain is NaN from then on"},
    {"nvml.read_failed", "docs/sources.md",
      "an NVML energy or power call failed; that reading is NaN"},
    {"onnxruntime.event_of_unknown_category", "docs/trace-formats.md",
      "ONNX Runtime events of a category other than Session, Node, Kernel; kept as top-level "
      "nodes"},
    {"onnxruntime.kernel_without_node", "docs/trace-formats.md",
      "ONNX Runtime GPU kernels without args.parent_name; kept as top-level kernel nodes"},
    {"pytorch.backward_op_without_forward_op", "docs/trace-formats.md",
      "autograd-thread op whose Sequence number has no forward op in the trace; kept under "
      "its thread's nesting, phase backward"},
    {"pytorch.event_of_unknown_category_skipped", "docs/trace-formats.md",
      "Kineto X event of a category we do not know; skipped"},
    {"pytorch.kernel_without_launch", "docs/trace-formats.md",
      "GPU event whose launch could not be found; kept as a top-level kernel node, phase "
      "other"},
    {"record.no_cputime", "docs/record.md",
      "cputime.csv could not be started (no <proc>/stat): no process share for this run"},
    {"record.source_open_failed", "docs/record.md",
      "a chosen source could not open its session; the others go on (warning with the "
      "reason)"},
    {"sampler.overrun", "docs/record.md",
      "a sampling deadline was already past when due (a busy machine); the schedule was "
      "re-based"},
    {"sampler.unreadable_reading", "docs/record.md",
      "a session returned NaN for a domain (its cause is counted by the source, e.g. "
      "sources.read_failed); no row is written for it"},
    {"sampler.write_failed", "docs/record.md",
      "appending to energy.csv failed (disk full…); a warning names the file and error, and "
      "record fails (exit 2 when CMD exited 0)"},
    {"sources.counter_decreased", "docs/sources.md",
      "a counter without a known range went down (hwmon energy): NaN, counting resumes from "
      "the new value"},
    {"sources.counter_wrapped", "docs/sources.md",
      "a counter decreased and was unwrapped with its known range (normal on long runs)"},
    {"sources.interval_too_long", "docs/sources.md",
      "the interval since the last reading was longer than range / 2 kW, so more than one "
      "wrap could fit: that reading is NaN and counting resumes from the new value (the "
      "energy of that interval is lost, not guessed)"},
    {"sources.read_failed", "docs/sources.md",
      "a counter file (or perf fd) could not be read; that domain is NaN from then on "
      "(counted once per domain, with a warning naming the file and errno); the others go "
      "on"},
    {"tf1.duplicate_memcpy_event_dropped", "docs/trace-formats.md",
      "TF1 memcpy events duplicating per-stream ones; dropped (§2.1)"},
    {"tf1.duplicate_stream_event_dropped", "docs/trace-formats.md",
      "TF1 per-stream events duplicating stream:all; dropped (§2.1)"},
    {"tf1.event_on_unnamed_process", "docs/trace-formats.md",
      "TF1 events on a pid without process_name; kept on a CPU:0 lane"},
    {"tf1.input_from_node_not_in_trace", "docs/trace-formats.md",
      "TF1 node inputs naming a node that never ran in the timeline; the edge is left out "
      "of the graph"},
    {"tf2.derived_line_event_dropped", "docs/trace-formats.md",
      "TF2 events on lines the profiler's tools derive (XLA Ops, TensorFlow Ops, Steps, …), "
      "which repeat the kernels' time; dropped"},
    {"tf2.event_on_non_device_process_dropped", "docs/trace-formats.md",
      "TF2 events on a process that is not /host:… or /device:…; dropped"},
    {"trace.complete_event_without_duration", "docs/trace-formats.md",
      "X without dur; kept with length 0"},
    {"trace.duplicate_event_dropped", "docs/trace-formats.md",
      "a complete event of non-zero length equal in every kept field to an earlier one; "
      "dropped (counted once per repeat)"},
    {"trace.duplicate_key_event_dropped", "docs/trace-formats.md",
      "a key the reader reads appears twice in one event (or its args); dropped"},
    {"trace.event_without_ts_dropped", "docs/trace-formats.md",
      "no ts; dropped"},
    {"trace.invalid_utf8_replaced", "docs/trace-formats.md",
      "ill-formed UTF-8 anywhere in the document; each maximal ill-formed subsequence "
      "becomes U+FFFD"},
    {"trace.malformed_duration_dropped", "docs/trace-formats.md",
      "dur that is not a number; dropped"},
    {"trace.malformed_pid_tid_dropped", "docs/trace-formats.md",
      "pid or tid is an object or an array; dropped"},
    {"trace.malformed_timestamp_dropped", "docs/trace-formats.md",
      "ts that is not a number; dropped"},
    {"trace.negative_duration_dropped", "docs/trace-formats.md",
      "dur < 0, or E before its B; dropped"},
    {"trace.non_object_event_skipped", "docs/trace-formats.md",
      "an element of the events array that is not an object; skipped"},
    {"trace.time_overflow_dropped", "docs/trace-formats.md",
      "ts + dur (or E − B) outside int64 ns; dropped"},
    {"trace.unmatched_begin_event", "docs/trace-formats.md",
      "a B never closed; dropped (any made-up end would hand it energy it may not have "
      "spent)"},
    {"trace.unmatched_end_event", "docs/trace-formats.md",
      "an E with no open B on its thread; dropped"},
    {"trace.unsupported_event_phase_skipped", "docs/trace-formats.md",
      "ph other than X B E i I M C s t f (async b/e, N/O/D objects, …); skipped"},
    {"xplane.aggregated_event_skipped", "docs/trace-formats.md",
      "XPlane events with num_occurrences instead of a time (aggregates); skipped"},
    {"xplane.event_metadata_missing", "docs/trace-formats.md",
      "XPlane events whose metadata_id has no entry in the plane; kept, named (unknown)"},
    {"xplane.hlo_proto_unreadable", "docs/trace-formats.md",
      "HLO modules in /host:metadata that could not be read; their kernels get no name stack "
      "from them"},
    {"xplane.profile_start_not_recorded", "docs/trace-formats.md",
      "an XPlane without Task Environment profile_start_time: times stay relative (a warning "
      "says to give --trace-start-ns)"},
};

}  // namespace

std::span<const DiagnosticName> KnownDiagnostics() { return kNames; }

const DiagnosticName* FindDiagnostic(std::string_view name) {
  for (const DiagnosticName& d : kNames)
    if (d.name == name) return &d;
  return nullptr;
}

}  // namespace smaragdine
