#!/usr/bin/python3
"""Trains a tiny MLP for 3 steps under torch.profiler, for the end-to-end record test.

    smaragdine record -o RUN -- /usr/bin/python3 train_small.py
    smaragdine account --energy RUN --trace RUN/trace.json \
        --trace-start-ns "$(cat RUN/trace_start_ns)" -o RUN/profile.json
    smaragdine report RUN/profile.json

Writes into $SMARAGDINE_RUN_DIR (set by `record`; else the current directory):
  trace.json       the profiler's Chrome trace. Debian's torch 1.13 has no Kineto, so this is
                   the legacy dialect: a bare array, times in whole µs relative to the
                   profiler's time 0.
  trace_start_ns   CLOCK_MONOTONIC ns of that time 0, for `account --trace-start-ns`.

The anchor: time 0 is taken inside the profiler's __enter__ (the profiler state's start
time), not at the first event. Measured with Debian's 1.13 on x86-64, it lies ~45 µs before
__enter__ returns, so the script brackets __enter__ with time.monotonic_ns() and writes the
bracket's midpoint; the error is at most half the bracket (printed to stderr, typically
40-125 µs), well under the 20 ms period of the modeled CPU source.
"""
import os
import sys
import time

import torch

torch.manual_seed(0)
# One thread: the modeled CPU energy follows CPU time, and one busy core makes the
# expected figures easy to reason about on a shared CI machine.
torch.set_num_threads(1)

kSteps = 3


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer_0 = torch.nn.Linear(512, 1024)
        self.layer_1 = torch.nn.Linear(1024, 1024)
        self.head = torch.nn.Linear(1024, 10)

    def forward(self, x):
        with torch.profiler.record_function("encoder"):
            x = torch.relu(self.layer_0(x))
            x = torch.relu(self.layer_1(x))
        with torch.profiler.record_function("head"):
            return self.head(x)


def main():
    run_dir = os.environ.get("SMARAGDINE_RUN_DIR", ".")
    model = Mlp()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(64, 512)
    y = torch.randint(0, 10, (64,))
    loss_fn = torch.nn.CrossEntropyLoss()

    before_ns = time.monotonic_ns()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        after_ns = time.monotonic_ns()
        for step in range(kSteps):
            # Debian's build has no Kineto, so prof.step() writes no ProfilerStep#N:
            # mark the steps the way Kineto names them.
            with torch.profiler.record_function(f"ProfilerStep#{step}"):
                loss = loss_fn(model(x), y)
                loss.backward()
                opt.step()
                opt.zero_grad()
    prof.export_chrome_trace(os.path.join(run_dir, "trace.json"))

    start_ns = (before_ns + after_ns) // 2
    with open(os.path.join(run_dir, "trace_start_ns"), "w") as f:
        f.write(f"{start_ns}\n")
    print(f"train_small: trace time 0 = {start_ns} ns CLOCK_MONOTONIC "
          f"(+-{(after_ns - before_ns) / 2e3:.0f} us); loss {loss.item():.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
