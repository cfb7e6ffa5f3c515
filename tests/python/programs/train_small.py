# An unmodified training script (it never imports smaragdine): a small
# nn.TransformerEncoder classifier and an MLP, trained together for 5 AdamW
# steps. tests/python/test_record_torch.py runs it under `record --torch`.
# Options (argv): raise — raise at step 3; workers — batches from a DataLoader
# with 2 worker processes; forever — train until killed, printing "ready" after
# two steps; os_exit — leave with os._exit(0) after the last step.
import os
import sys

import torch
import torch.nn as nn

mode = sys.argv[1] if len(sys.argv) > 1 else ""
torch.manual_seed(0)
torch.set_num_threads(1)


class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(100, 32)
        layer = nn.TransformerEncoderLayer(d_model=32, nhead=2, dim_feedforward=64,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers=2)
        self.head = nn.Linear(32, 4)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(1))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)


class Batches(torch.utils.data.Dataset):
    def __len__(self):
        return 5

    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        return (torch.randint(0, 100, (8, 16), generator=g), torch.randn(8, 16, generator=g),
                torch.randint(0, 4, (8,), generator=g))


classifier, mlp = Classifier(), MLP()
optimizer = torch.optim.AdamW(list(classifier.parameters()) + list(mlp.parameters()), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()

if mode == "workers":
    batches = torch.utils.data.DataLoader(Batches(), batch_size=None, num_workers=2)
else:
    batches = [Batches()[i] for i in range(5)]


def train_step(tokens, x, labels):
    optimizer.zero_grad()
    loss = loss_fn(classifier(tokens), labels) + loss_fn(mlp(x), labels)
    loss.backward()
    optimizer.step()


if mode == "forever":
    data = Batches()[0]
    step = 0
    while True:
        train_step(*data)
        step += 1
        if step == 2:
            print("ready", flush=True)

for step, (tokens, x, labels) in enumerate(batches):
    if mode == "raise" and step == 3:
        raise RuntimeError("the script fails at step 3 on purpose")
    train_step(tokens, x, labels)
print("trained", flush=True)
if mode == "os_exit":
    os._exit(0)
