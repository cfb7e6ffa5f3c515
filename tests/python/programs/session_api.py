# The explicit API: smaragdine.session(), scope(), step(), measure(). Prints
# one JSON object that tests/python/test_session_api.py checks.
import json
import sys

import torch
import torch.nn as nn

import smaragdine

torch.manual_seed(0)
torch.set_num_threads(1)
model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 4))
smaragdine.name_module(model, "mlp")
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
x, labels = torch.randn(32, 16), torch.randint(0, 4, (32,))

out = {}
with smaragdine.session() as s:
    for _ in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), labels)
        loss.backward()
        optimizer.step()
        s.step()
    with smaragdine.scope("eval"), torch.no_grad():
        model(x)
p = s.profile
out["paths"] = sorted(n["path"] for n in p.nodes if n["kind"] == "scope")
out["root"] = p.nodes[0]
out["node_count"] = len(p.nodes)
out["measured_j"] = p.measured_j
out["modeled"] = p.modeled
out["joined"] = s.info["joined"]
out["report_has_mlp"] = "mlp" in p.report()
out["csv_header"] = p.report(format="csv").splitlines()[0]
out["keys"] = sorted(p.nodes[0].keys())
out["lin0_backward_j"] = p.node("mlp/0")["backward_j"]
out["optimizer_j"] = p.node("optimizer")["optimizer_j"]
with smaragdine.measure() as m:
    sum(i * i for i in range(300000))
out["measure"] = {"total_j": m.total_j, "duration_s": m.duration_s, "domains": list(m.energy_j),
                  "modeled": m.modeled}
try:
    import pandas  # optional: the rows go into a DataFrame as they are
    out["dataframe_rows"] = len(pandas.DataFrame(p.nodes))
except ImportError:
    out["dataframe_rows"] = None
json.dump(out, sys.stdout)
