#!/usr/bin/env python3
"""Burns CPU in two phases and writes a Kineto-style trace of them (no torch needed).

Usage: burn_and_trace.py TRACE.json [SECONDS_PER_OP]
Timestamps are epoch microseconds (time.time_ns() // 1000), as PyTorch 2.x before
2.4 writes them, so `account` maps them through the run's clock_sync pairs.
"""
import json
import os
import sys
import time

out = sys.argv[1]
per_op_s = float(sys.argv[2]) if len(sys.argv) > 2 else 0.15
pid = os.getpid()
events = []


def burn(name, seconds):
    start_ns = time.time_ns()
    x = 0
    while time.time_ns() - start_ns < seconds * 1e9:
        x += sum(i * i for i in range(200))
    end_ns = time.time_ns()
    events.append({"ph": "X", "cat": "cpu_op", "name": name, "pid": pid, "tid": pid,
                   "ts": start_ns // 1000, "dur": (end_ns - start_ns) // 1000, "args": {}})
    return start_ns, end_ns


outer_start = time.time_ns()
burn("aten::mm", per_op_s)
burn("aten::add", per_op_s)
outer_end = time.time_ns()
events.insert(0, {"ph": "X", "cat": "python_function", "name": "nn.Module: Linear_0",
                  "pid": pid, "tid": pid, "ts": outer_start // 1000,
                  "dur": (outer_end - outer_start) // 1000 + 1, "args": {}})
with open(out, "w") as f:
    json.dump({"schemaVersion": 1, "traceEvents": events}, f)
print("run dir:", os.environ.get("SMARAGDINE_RUN_DIR", ""))
