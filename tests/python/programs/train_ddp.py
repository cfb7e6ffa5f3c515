"""An unmodified DistributedDataParallel training (gloo, CPU): what a user
runs under torchrun. Each rank trains a small MLP on its own batches.

    --steps N        optimizer steps (default 6)
    --die-at STEP    rank 1 kills itself with SIGKILL at that step (a rank
                     lost mid-run); the others stop at the next collective
"""
import argparse
import datetime
import os
import signal

import torch
import torch.distributed as dist
from torch import nn


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(128, 8)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--die-at", type=int, default=-1)
    a = ap.parse_args()
    # A lost peer ends the others' collectives with an error well before
    # gloo's default 30 minutes.
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    rank = dist.get_rank()
    torch.manual_seed(rank)
    model = nn.parallel.DistributedDataParallel(MLP())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(a.steps):
        if rank == 1 and step == a.die_at:
            os.kill(os.getpid(), signal.SIGKILL)
        x = torch.randn(256, 64)
        y = torch.randint(0, 8, (256,))
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if rank == 1:
            # Extra work outside the model on rank 1 only: a straggler. (Not a
            # second backward: every rank must run the same collectives.)
            torch.mm(torch.randn(384, 384), torch.randn(384, 384))
    dist.barrier()
    dist.destroy_process_group()
    print("rank %d trained" % rank)


if __name__ == "__main__":
    main()
