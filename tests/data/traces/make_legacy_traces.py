#!/usr/bin/python3
"""Writes the small PyTorch 1.13 legacy-profiler traces used by tests/trace.

Run with Debian's python3-torch (1.13, built without Kineto) from this folder:
    /usr/bin/python3 make_legacy_traces.py
Outputs (bare JSON arrays, pid "CPU functions", times relative to profiler start):
    legacy_train_2steps.json  two training steps of a 2-layer MLP: record_function
                              scopes encoder/layer_0, encoder/layer_1 and head,
                              ProfilerStep#N scopes, forward + backward + SGD step.
    legacy_infer.json         one forward pass under torch.autograd.profiler.profile().
The numbers in the files vary run to run; the tests assert structure, not times.
"""
import torch

torch.manual_seed(0)
torch.set_num_threads(1)


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer_0 = torch.nn.Linear(8, 16)
        self.layer_1 = torch.nn.Linear(16, 16)
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x):
        with torch.profiler.record_function("encoder"):
            with torch.profiler.record_function("layer_0"):
                x = torch.relu(self.layer_0(x))
            with torch.profiler.record_function("layer_1"):
                x = torch.relu(self.layer_1(x))
        with torch.profiler.record_function("head"):
            return self.head(x)


model = Mlp()
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.randn(2, 8)

with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
    for step in range(2):
        # Debian's build has no Kineto, so torch.profiler writes no
        # ProfilerStep#N itself: mark the steps the way Kineto names them.
        with torch.profiler.record_function(f"ProfilerStep#{step}"):
            loss = model(x).sum()
            loss.backward()
            opt.step()
            opt.zero_grad()
prof.export_chrome_trace("legacy_train_2steps.json")

with torch.autograd.profiler.profile() as prof2:
    with torch.no_grad():
        model(x)
prof2.export_chrome_trace("legacy_infer.json")
