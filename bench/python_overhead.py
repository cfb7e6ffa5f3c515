"""What recording costs a Python PyTorch program: Smaragdine's live recorder
(smaragdine.session(), module hooks on) against torch.profiler, on the same
work in the same process.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [--reps 15]

Two measurements, each as many interleaved repetitions of (bare, smaragdine,
torch.profiler) so that drift of the machine falls on all three alike:
  1. per-operator cost: a loop of N tiny operators (add of two 1-element
     tensors); cost = (time recorded - time bare) / N;
  2. a training step of a small BERT-like model (2 TransformerEncoder layers,
     d_model 128, 4 heads, seq 64, batch 8, AdamW): overhead = time recorded /
     time bare - 1.
Times are the main thread's CPU time; "end to end" is the process's CPU time
from before the session or profiler starts to its results in memory (the
profile accounted, or the profiler's event list built). Reported: the median
over repetitions and a 95 % interval of the median (bootstrap over
repetitions). Written to docs/benchmarks.md by hand.
"""
import argparse
import random
import statistics
import time

import torch
import torch.nn as nn

import smaragdine


def median_ci(values, rounds=2000, seed=1):
    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(rounds))
    return statistics.median(values), meds[int(0.025 * rounds)], meds[int(0.975 * rounds) - 1]


# The main thread's CPU time, as bench/torch_overhead_tool does: on a shared
# machine another process's work does not land in it.
clock = time.thread_time_ns


def tiny_ops(n):
    a, b = torch.ones(1), torch.ones(1)
    t0 = clock()
    for _ in range(n):
        torch.add(a, b)
    return clock() - t0


class Bertish(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 128)
        layer = nn.TransformerEncoderLayer(128, 4, 512, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(128, 2)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens))[:, 0])


def make_step():
    torch.manual_seed(0)
    model = Bertish()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    tokens, labels = torch.randint(0, 1000, (8, 64)), torch.randint(0, 2, (8,))

    def step(k):
        t0 = clock()
        for _ in range(k):
            opt.zero_grad()
            nn.functional.cross_entropy(model(tokens), labels).backward()
            opt.step()
        return clock() - t0
    return step


def under(mode, fn, *args):
    """(time of fn alone, process CPU time from start to results in memory)."""
    e0 = time.process_time_ns()
    if mode == "bare":
        t = fn(*args)
    elif mode == "smaragdine":
        with smaragdine.session() as s:
            t = fn(*args)
        assert s.info["events"] > 0 and s.profile.nodes  # accounted, rows built
    else:
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            t = fn(*args)
        assert len(prof.events()) > 0  # the profiler's results, built
    return t, time.process_time_ns() - e0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--ops", type=int, default=20000)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    torch.set_num_threads(1)
    modes = ["bare", "smaragdine", "torch.profiler"]
    step = make_step()
    for m in modes:  # warm-up: first calls, allocations
        under(m, tiny_ops, 2000)
        under(m, step, 1)

    per_op = {m: [] for m in modes[1:]}
    end_to_end = {m: [] for m in modes[1:]}
    overhead = {m: [] for m in modes[1:]}
    for r in range(a.reps):
        order = modes[:]
        random.Random(r).shuffle(order)
        t = {m: under(m, tiny_ops, a.ops) for m in order}
        for m in modes[1:]:
            per_op[m].append((t[m][0] - t["bare"][0]) / a.ops)
            end_to_end[m].append((t[m][1] - t["bare"][1]) / a.ops)
        t = {m: under(m, step, a.steps) for m in order}
        for m in modes[1:]:
            overhead[m].append(100.0 * (t[m][0] / t["bare"][0] - 1))
    print("torch %s, %d threads, %d repetitions" % (torch.__version__, torch.get_num_threads(),
                                                    a.reps))
    for m in modes[1:]:
        med, lo, hi = median_ci(per_op[m])
        print("per-op cost   %-15s %7.0f ns  (95%% CI %.0f .. %.0f)" % (m, med, lo, hi))
    ratio = [s / p for s, p in zip(per_op["smaragdine"], per_op["torch.profiler"])]
    med, lo, hi = median_ci(ratio)
    print("per-op ratio  smaragdine / torch.profiler %.3f  (95%% CI %.3f .. %.3f)" % (med, lo, hi))
    for m in modes[1:]:
        med, lo, hi = median_ci(end_to_end[m])
        print("end to end    %-15s %7.0f ns per op, start to results, process CPU  (95%% CI %.0f .. %.0f)"
              % (m, med, lo, hi))
    ratio = [s / p for s, p in zip(end_to_end["smaragdine"], end_to_end["torch.profiler"])]
    med, lo, hi = median_ci(ratio)
    print("end-to-end ratio smaragdine / torch.profiler %.3f  (95%% CI %.3f .. %.3f)" % (med, lo, hi))
    for m in modes[1:]:
        med, lo, hi = median_ci(overhead[m])
        print("train step    %-15s %+6.2f %%  (95%% CI %+.2f .. %+.2f)" % (m, med, lo, hi))


if __name__ == "__main__":
    main()
