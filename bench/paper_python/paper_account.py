#!/usr/bin/python3
"""paper_account.py — the paper's energy accounting method in Python and pandas.

A re-implementation of the prototype of "Tensor-Aware Energy Accounting"
(Babakol and Liu, ICSE 2024, arXiv 2311.11424), used as the baseline for the
DESIGN §9 bar "≥ 100× the paper's algorithm in Python on the same input".

The method, as the paper describes it:
  1. read the framework trace's ops (start, duration, name) and the energy
     samples (cumulative energy);
  2. within each sampling interval the power is constant (interval energy /
     interval length);
  3. each op active in the interval gets a share of the interval's energy
     proportional to its overlap with it, split equally among the ops
     running at the same time;
  4. the per-op energies are grouped by name scope.

The paper's prototype read TensorFlow 1 timelines, whose op names already
carry the name scope. This script reads two inputs, each with a run
directory (run.json + energy.csv) of the same energy log:

TensorFlow 1 (`Timeline.generate_chrome_trace_format()`, as
`gen_trace_tool --tf1` writes it; the paper's own input):
  - each complete ('X') event on a CPU "… Compute" process is an op; its
    scoped node name (args.name, else the event's name) is its path, e.g.
    `bert/encoder/layer_3/attention/self/query/MatMul`;
  - a gradient op's path is its forward op's, as TF1's graph gradients name
    them: `gradients/<scope>/<Op>_grad/<grad op>` → `<scope>/<Op>`
    (`gradients/Fill`, with no `_grad` part, keeps its name), as
    smaragdine's TF1 reader does (docs/trace-formats.md), so that both put
    backward energy on the same layer;
  - DataFlow pairs, metadata, "… Tensors" and "Allocators" are not ops.
PyTorch (Kineto-style, `gen_trace_tool` without --tf1), which needs more
than the paper's input did:
  - scopes are `user_annotation` events enclosing the `cpu_op`s, so the op's
    path is found by walking each thread's nesting (a stack), and the time a
    scope runs with no child op counts as the scope's own activity (the
    innermost running event of a thread is what is "active"), as in
    smaragdine; `ProfilerStep#N` marks a step and is not a scope.
Both:
  - trace times are epoch microseconds (CLOCK_REALTIME); they are mapped to
    the energy log's CLOCK_MONOTONIC through run.json's clock_sync pairs;
  - within a thread only the innermost running event is active (TF1 ops on
    one thread rarely nest; when they do, each keeps its own path);
  - energy is accounted in the window where trace and readings overlap, and
    runs of unchanged readings are coalesced with the next change
    (docs/energy-log.md), as smaragdine does.
Only energy domains of a CPU device are handled (gen_trace_tool writes one,
`cpu:0/package`); GPU kernels, GPU processes and launch correlation are not.

    paper_account.py RUN_DIR TRACE_JSON [-o OUT.json] [--format auto|kineto|tf1]

(auto: TF1 when a process is named "… Compute", as TF1 names them.)

OUT.json: {"domain": ..., "measured_j", "idle_j", "events",
           "nodes": {path: {"self_j": ..., "total_j": ...}}}
Phase timings go to stderr.
"""

import argparse
import decimal
import json
import sys
import time

import numpy as np
import pandas as pd

STEP_PREFIX = "ProfilerStep#"
SCOPE_CATS = {"user_annotation", "python_function"}
OP_CATS = {"cpu_op", "operator"}


def us_to_ns(values):
    """µs (Decimal, as json gives them with parse_float=Decimal, or int) to
    integer ns. A double holds epoch µs only to 0.25 µs, which would make
    consecutive ops overlap by up to 250 ns and look nested, so trace times
    are read as decimals (as DESIGN §3 asks of smaragdine too)."""
    return np.fromiter((round(v * 1000) for v in values), dtype=np.int64, count=len(values))


def read_events(path):
    """The trace's event list (json, µs as decimals)."""
    with open(path, "rb") as f:
        doc = json.load(f, parse_float=decimal.Decimal)
    return doc["traceEvents"] if isinstance(doc, dict) else doc


def process_names(events):
    """pid → process_name, from the metadata events."""
    return {e.get("pid"): e.get("args", {}).get("name", "") for e in events
            if e.get("ph") == "M" and e.get("name") == "process_name"}


def is_tf1(events):
    """TF1 timelines name every process, the op ones "… Compute"."""
    return any(n.endswith(" Compute") for n in process_names(events).values())


def lanes_and_times(df):
    """The lane number per (pid, tid) and start/end in realtime ns of `df`'s rows."""
    start = us_to_ns(df["ts"].to_numpy())
    dur = us_to_ns(df["dur"].to_numpy())
    return df.groupby(["pid", "tid"], sort=False).ngroup().to_numpy(), start, start + dur


def load_kineto(events):
    """Complete ('X') events of a PyTorch trace as a DataFrame (lane: a number
    per (pid, tid); start/end in realtime ns; name), in file order, without
    the ProfilerStep markers. Paths come from the nesting (flatten_lanes)."""
    df = pd.DataFrame.from_records(events, columns=["ph", "cat", "name", "pid", "tid", "ts", "dur"])
    df = df[df["ph"] == "X"]
    df = df[df["cat"].isin(SCOPE_CATS | OP_CATS)]
    df = df[~((df["cat"] == "user_annotation") & df["name"].str.startswith(STEP_PREFIX))]
    lane, start, end = lanes_and_times(df)
    return pd.DataFrame({"lane": lane, "start": start, "end": end, "name": df["name"].to_numpy()})


def tf1_path(label):
    """A TF1 node name as a path: a graph gradient's is its forward op's
    (`gradients/a/b/MatMul_grad/MatMul_1` → `a/b/MatMul`, up to the last
    `_grad` part), TF2's `gradient_tape/<op>/<grad op>` → `<op>`; others as
    they are. Empty parts (`a//b`) are dropped."""
    parts = [p for p in label.split("/") if p]
    if parts and (parts[0] == "gradient_tape" or parts[0] == "gradients" or
                  (parts[0].startswith("gradients_") and parts[0][10:].isdigit())):
        grads = [i for i in range(1, len(parts)) if parts[i].endswith("_grad") and len(parts[i]) > 5]
        if grads:
            return "/".join(p[:-5] if p.endswith("_grad") else p for p in parts[1:grads[-1] + 1])
        if parts[0] == "gradient_tape" and len(parts) > 2:
            return "/".join(parts[1:-1])
    return "/".join(parts) if parts else "(unnamed)"


def load_tf1(events):
    """Op events of a TF1 timeline: complete events on the CPU "… Compute"
    processes, each with its path (the scoped node name, args.name, else the
    event's name, through tf1_path)."""
    cpu_compute = {pid for pid, name in process_names(events).items()
                   if name.endswith(" Compute") and "gpu:" not in name.lower()}
    # Kept before the frame is made: the DataFlow and metadata events would
    # make ts a float column (NaN), and ×1000 in double loses epoch ns.
    ops = [e for e in events if e.get("ph") == "X" and e.get("pid") in cpu_compute]
    df = pd.DataFrame.from_records(ops, columns=["name", "pid", "tid", "ts", "dur", "args"])
    label = [a.get("name") or n if isinstance(a, dict) else n
             for a, n in zip(df["args"].to_numpy(), df["name"].to_numpy())]
    # A graph has a few thousand nodes; each label's path is made once.
    paths = {name: tf1_path(name) for name in set(label)}
    lane, start, end = lanes_and_times(df)
    return pd.DataFrame({"lane": lane, "start": start, "end": end,
                         "name": [paths[name] for name in label]})


def load_energy(run_dir):
    """Readings of each domain (t_ns on CLOCK_MONOTONIC, cumulative energy_j),
    the domains' devices, and the clock_sync pairs."""
    with open(f"{run_dir}/run.json") as f:
        run = json.load(f)
    readings = pd.read_csv(f"{run_dir}/energy.csv", dtype={"t_ns": np.int64, "domain": str})
    devices = {d["name"]: d["device"] for d in run["domains"]}
    sync = pd.DataFrame(run["clock_sync"]).sort_values("realtime_ns")
    return readings, devices, sync


def to_monotonic(realtime_ns, sync):
    """Each stamp uses the last clock_sync pair whose realtime is not after it
    (the first pair for stamps before all of them)."""
    rt = sync["realtime_ns"].to_numpy(dtype=np.int64)
    mono = sync["monotonic_ns"].to_numpy(dtype=np.int64)
    i = np.clip(np.searchsorted(rt, realtime_ns, side="right") - 1, 0, len(rt) - 1)
    return realtime_ns - rt[i] + mono[i]


def flatten_lanes(ev, names_are_paths=False):
    """Per lane, the segments [start, end) during which one event is the
    innermost running one, with that event's path. A scope's path is its
    enclosing scopes' path plus its name; an op's likewise (names_are_paths,
    TF1: each event's name is already its path). An event that starts inside
    another and ends after it is clipped to its parent's end."""
    ev = ev.sort_values(["lane", "start", "end"], ascending=[True, True, False], kind="stable")
    seg_start, seg_end, seg_path = [], [], []
    for _, lane in ev.groupby("lane", sort=False):
        stack = []  # (end, path) of the open events, innermost last
        cursor = 0
        for s, e, name in zip(lane["start"].to_numpy(), lane["end"].to_numpy(),
                              lane["name"].to_numpy()):
            while stack and stack[-1][0] <= s:
                end, path = stack.pop()
                if end > cursor:
                    seg_start.append(cursor)
                    seg_end.append(end)
                    seg_path.append(path)
                cursor = max(cursor, end)
            if stack:
                parent_end, parent_path = stack[-1]
                if s > cursor:
                    seg_start.append(cursor)
                    seg_end.append(s)
                    seg_path.append(parent_path)
                e = min(e, parent_end)
                path = name if names_are_paths else parent_path + "/" + name
            else:
                path = name
            stack.append((e, path))
            cursor = s
        while stack:
            end, path = stack.pop()
            if end > cursor:
                seg_start.append(cursor)
                seg_end.append(end)
                seg_path.append(path)
            cursor = max(cursor, end)
    return pd.DataFrame({
        "start": np.array(seg_start, dtype=np.int64),
        "end": np.array(seg_end, dtype=np.int64),
        "path": seg_path,
    })


def coalesce(t_ns, energy_j):
    """Drops readings equal to the previous one: a run of unchanged readings
    followed by a jump spent its energy across the whole run."""
    keep = np.ones(len(t_ns), dtype=bool)
    keep[1:] = np.diff(energy_j) != 0
    return t_ns[keep], energy_j[keep]


def attribute(segs, t_ns, energy_j, win_start, win_end):
    """The paper's rule: power constant between readings; at every instant the
    power is split equally among the running ops. Returns each segment's
    energy and the energy with no op running."""
    segs = segs.assign(start=segs["start"].clip(win_start, win_end),
                       end=segs["end"].clip(win_start, win_end))
    segs = segs[segs["end"] > segs["start"]]
    inside = (t_ns > win_start) & (t_ns < win_end)
    # Elementary slices: between consecutive boundaries (readings, op starts
    # and ends) the power and the set of running ops are both constant.
    bounds = np.unique(np.concatenate([segs["start"].to_numpy(), segs["end"].to_numpy(),
                                       t_ns[inside], [win_start, win_end]]))
    i0 = np.searchsorted(bounds, segs["start"].to_numpy())
    i1 = np.searchsorted(bounds, segs["end"].to_numpy())
    running = np.zeros(len(bounds), dtype=np.int64)
    np.add.at(running, i0, 1)
    np.add.at(running, i1, -1)
    running = np.cumsum(running)[:-1]
    # Power of the sampling interval that holds each slice.
    j = np.searchsorted(t_ns, bounds[:-1], side="right") - 1
    power_w = np.diff(energy_j)[j] / (np.diff(t_ns)[j] * 1e-9)
    slice_j = power_w * (np.diff(bounds) * 1e-9)
    share_j = np.where(running > 0, slice_j / np.maximum(running, 1), 0.0)
    idle_j = slice_j[running == 0].sum()
    # Each op gets its share of every slice it overlaps: one row per
    # (segment, slice) pair, summed per segment.
    counts = i1 - i0
    seg_of_pair = np.repeat(np.arange(len(segs)), counts)
    first = np.repeat(i0 - (np.cumsum(counts) - counts), counts)
    slice_of_pair = first + np.arange(counts.sum())
    pairs = pd.DataFrame({"seg": seg_of_pair, "energy_j": share_j[slice_of_pair]})
    seg_j = pairs.groupby("seg")["energy_j"].sum()
    out = segs.reset_index(drop=True)
    out["energy_j"] = 0.0
    out.loc[seg_j.index, "energy_j"] = seg_j.to_numpy()
    measured_j = slice_j.sum()
    return out, idle_j, measured_j


def group_by_scope(seg_energy):
    """Self energy per path, and total energy per name scope (the path and
    every prefix of it)."""
    self_j = seg_energy.groupby("path")["energy_j"].sum()
    total = {}
    for path, e in self_j.items():
        parts = path.split("/")
        for k in range(1, len(parts) + 1):
            prefix = "/".join(parts[:k])
            total[prefix] = total.get(prefix, 0.0) + e
    return {p: {"self_j": float(self_j.get(p, 0.0)), "total_j": t} for p, t in total.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("trace")
    ap.add_argument("-o", "--output")
    ap.add_argument("--format", choices=["auto", "kineto", "tf1"], default="auto",
                    help="the trace's kind (auto: TF1 when a process is named '… Compute')")
    args = ap.parse_args()

    clock = [time.perf_counter()]

    def phase(name):
        clock.append(time.perf_counter())
        print(f"paper_account: {name:10s} {clock[-1] - clock[-2]:8.3f} s", file=sys.stderr)

    events = read_events(args.trace)
    tf1 = args.format == "tf1" or (args.format == "auto" and is_tf1(events))
    ev = load_tf1(events) if tf1 else load_kineto(events)
    del events
    readings, devices, sync = load_energy(args.run_dir)
    phase("load")
    n_events = len(ev)
    ev["start"] = to_monotonic(ev["start"].to_numpy(), sync)
    ev["end"] = to_monotonic(ev["end"].to_numpy(), sync)
    ev = ev[ev["end"] >= ev["start"]]
    segs = flatten_lanes(ev, names_are_paths=tf1)
    phase("nest")

    results = []
    for domain, r in readings.groupby("domain", sort=False):
        if not devices.get(domain, "").startswith("CPU"):
            print(f"paper_account: skipping non-CPU domain {domain}", file=sys.stderr)
            continue
        t_ns, energy_j = coalesce(r["t_ns"].to_numpy(), r["energy_j"].to_numpy(dtype=np.float64))
        win_start = max(int(ev["start"].min()), int(t_ns[0]))
        win_end = min(int(ev["end"].max()), int(t_ns[-1]))
        seg_energy, idle_j, measured_j = attribute(segs, t_ns, energy_j, win_start, win_end)
        phase("attribute")
        nodes = group_by_scope(seg_energy)
        phase("group")
        results.append({"domain": domain, "measured_j": float(measured_j), "idle_j": float(idle_j),
                        "events": n_events, "window_ns": [win_start, win_end], "nodes": nodes})
        attributed = sum(v["self_j"] for v in nodes.values()) + idle_j
        print(f"paper_account: {domain}: {measured_j:.6f} J measured, {idle_j:.6f} J idle, "
              f"{attributed:.6f} J attributed + idle, {n_events} events", file=sys.stderr)
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results[0] if len(results) == 1 else results, f, indent=1)
        phase("write")
    print(f"paper_account: total      {clock[-1] - clock[0]:8.3f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
