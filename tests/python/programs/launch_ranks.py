"""A small torchrun stand-in: starts N copies of a script as the ranks of one
job, with the environment torchrun gives them (RANK, LOCAL_RANK, WORLD_SIZE,
LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), and waits for them all.

Debian's torchrun (PyTorch 1.13 under Python 3.11) crashes at start, so the
tests and docs/distributed.md use this; users run torchrun itself.

    python launch_ranks.py --nproc 2 train_ddp.py [args...]
"""
import argparse
import os
import socket
import subprocess
import sys


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    port = str(free_port())
    procs = []
    for rank in range(a.nproc):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(a.nproc),
                   LOCAL_WORLD_SIZE=str(a.nproc), MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(subprocess.Popen([sys.executable, a.script] + a.args, env=env))
    codes = [p.wait() for p in procs]
    for rank, code in enumerate(codes):
        if code != 0:
            print("launch_ranks: rank %d exited with %d" % (rank, code), file=sys.stderr)
    sys.exit(max((abs(c) for c in codes), default=0))


if __name__ == "__main__":
    main()
