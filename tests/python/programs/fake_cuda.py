"""A CPU program that looks to the bootstrap like one running on a GPU.

This machine has no GPU, so the path that records GPU kernels (torch.profiler
with its CUDA activity, joined to the trace at exit) is driven by stand-ins:
torch.cuda says a device is in use, torch.autograd says Kineto is there, and
torch.profiler.profile is a fake whose export is what Kineto writes (the
shape of the fixture pt2_bert-small_h100_inference: cuda_runtime calls on the
launching thread, kernels on GPU 0's stream 7, a correlation id each) on a
clock of its own. `Head.forward` "launches" a kernel: the launch is stamped
where it happens, so the kernel must end up under Net/head in the profile.

Run under `smaragdine record --torch` by test_record_torch.py, and with
--session (inside `smaragdine.session()`, printing the kernel nodes as JSON)
by test_session_api.py.
"""
import json
import sys
import threading
import time

import torch
import torch.profiler

# Kineto's clock here: ours plus an offset the bootstrap does not know.
KINETO_MINUS_OURS_NS = 1751410836000000000 + 123456789
BASE_NS = 1751410836000000000

launches = []  # (name, thread id, ns on CLOCK_MONOTONIC)
syncs = []


def us(ours_ns):
    return (ours_ns + KINETO_MINUS_OURS_NS - BASE_NS) / 1000.0


class FakeProfile:
    def __init__(self, activities):
        assert [str(a) for a in activities] == [str(torch.profiler.ProfilerActivity.CUDA)]

    def start(self):
        pass

    def stop(self):
        pass

    def export_chrome_trace(self, path):
        events = []
        for i, (tid, t0, t1) in enumerate(syncs):
            events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaDeviceSynchronize",
                           "pid": 1, "tid": tid, "ts": us(t0), "dur": (t1 - t0) / 1000.0,
                           "args": {"cbid": 165, "correlation": 10 + i}})
        for i, (name, tid, t) in enumerate(launches):
            corr = 1000 + i
            events.append({"ph": "X", "cat": "cuda_runtime", "name": "cudaLaunchKernel",
                           "pid": 1, "tid": tid, "ts": us(t), "dur": 4.0,
                           "args": {"cbid": 211, "correlation": corr}})
            events.append({"ph": "X", "cat": "kernel", "name": name, "pid": 0, "tid": 7,
                           "ts": us(t + 6000), "dur": 150.0,
                           "args": {"device": 0, "stream": 7, "correlation": corr}})
        with open(path, "w") as f:
            json.dump({"schemaVersion": 1, "traceEvents": events, "baseTimeNanoseconds": BASE_NS}, f)


def synchronize():
    t0 = time.monotonic_ns()
    time.sleep(0.0001)
    syncs.append((threading.get_native_id(), t0, time.monotonic_ns()))


torch.cuda.is_available = lambda: True
torch.cuda.is_initialized = lambda: True
torch.cuda.synchronize = synchronize
torch.autograd.kineto_available = lambda: True
torch.profiler.profile = FakeProfile


class Head(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(16, 4)

    def forward(self, x):
        y = self.linear(x)
        time.sleep(0.001)
        launches.append(("void fake_gemm<float>()", threading.get_native_id(), time.monotonic_ns()))
        time.sleep(0.001)
        return y


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Linear(8, 16)
        self.head = Head()

    def forward(self, x):
        return self.head(torch.relu(self.body(x)))


def train(step=lambda: None):
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(32, 8)
    for _ in range(3):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()
        step()


if "--session" in sys.argv:
    import smaragdine
    with smaragdine.session() as s:
        train(s.step)
    print(json.dumps({"kernels": [n for n in s.profile.nodes if n["kind"] == "kernel"],
                      "launched": len(launches), "syncs": len(syncs),
                      "gpu_events": s.info["gpu_events"]}))
else:
    train()
    print("launched %d kernels after %d synchronize" % (len(launches), len(syncs)))
