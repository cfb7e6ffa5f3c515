"""Ranks of one job under `smaragdine record --torch` (issue 13).

Two ranks of an unmodified DistributedDataParallel training (gloo, CPU),
started by a small torchrun stand-in (programs/launch_ranks.py: Debian's
torchrun crashes under Python 3.11) that sets RANK, LOCAL_RANK, WORLD_SIZE,
MASTER_ADDR and MASTER_PORT as torchrun does. Run by ctest
(python.test_distributed) with SMARAGDINE_BINARY in the environment.
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
BINARY = os.environ.get("SMARAGDINE_BINARY", "smaragdine")
PYTHON = sys.executable


def record_job(run_dir, *script_args):
    cmd = [BINARY, "record", "--torch", "-o", run_dir, "--", PYTHON,
           os.path.join(PROGRAMS, "launch_ranks.py"), "--nproc", "2",
           os.path.join(PROGRAMS, "train_ddp.py")] + list(script_args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=400)


def load_profile(run_dir):
    with open(os.path.join(run_dir, "profile.json")) as f:
        return json.load(f)


class DistributedTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="smaragdine-ddp-")
        self.run_dir = os.path.join(self.tmp.name, "run")

    def tearDown(self):
        self.tmp.cleanup()

    def test_two_ranks_give_one_profile_with_each_ranks_module_tree(self):
        r = record_job(self.run_dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("rank 0 trained", r.stdout)
        self.assertIn("rank 1 trained", r.stdout)
        p = load_profile(self.run_dir)
        ranks = sorted(q["rank"] for q in p["processes"])
        self.assertEqual(ranks, [0, 1])
        for q in p["processes"]:
            self.assertEqual(q["world_size"], 2)
            self.assertEqual(q["local_rank"], q["rank"])
        index = {q["rank"]: i for i, q in enumerate(p["processes"])}
        domains = [d["name"] for d in p["domains"]]
        nodes = {n["path"]: n for n in p["nodes"]}

        def rank_j(node, rank):
            return sum(node["processes"]["total"][index[rank]])

        # Both ranks ran the model's modules, under DDP's wrapper.
        fc1 = [path for path in nodes if path.endswith("/fc1")]
        self.assertEqual(len(fc1), 1, sorted(nodes))
        for rank in (0, 1):
            self.assertGreater(rank_j(nodes[fc1[0]], rank), 0)
            self.assertGreater(nodes[fc1[0]]["processes"]["time_ns"][index[rank]], 0)
        # Rank 1's extra work outside the model is rank 1's alone.
        mm = nodes["aten::mm"]
        self.assertEqual(rank_j(mm, 0), 0)
        self.assertGreater(rank_j(mm, 1), 0)
        # Per-rank energies add up to every node's energy...
        for n in p["nodes"]:
            for k, name in enumerate(domains):
                per_rank = sum(row[k] for row in n["processes"]["total"])
                self.assertAlmostEqual(per_rank, n["total"].get(name, 0),
                                       delta=1e-6 * max(1, n["total"].get(name, 0)))
        # ...and per domain, the ranks' energy + (other processes) + (idle)
        # is the machine's measured energy: the shared domains counted once.
        root = p["nodes"][0]
        for k, d in enumerate(p["domains"]):
            ranks_j = sum(row[k] for row in root["processes"]["total"])
            self.assertAlmostEqual(ranks_j + d["idle_j"] + d.get("other_j", 0), d["measured_j"],
                                   delta=1e-6 * max(1, d["measured_j"]))
        # The rank report reads it.
        by_rank = subprocess.run([BINARY, "report", os.path.join(self.run_dir, "profile.json"),
                                  "--by", "rank", "--format", "csv"],
                                 capture_output=True, text=True, timeout=60)
        self.assertEqual(by_rank.returncode, 0, by_rank.stderr)
        rows = [line.split(",") for line in by_rank.stdout.splitlines()]
        header = rows[0]
        self.assertIn("rank", header)
        # One row per node and rank: the fc1 rows of both ranks are there.
        path_col, rank_col = header.index("path"), header.index("rank")
        fc1_ranks = sorted(r[rank_col] for r in rows[1:] if r[path_col] == fc1[0])
        self.assertEqual(fc1_ranks, ["0", "1"])

    def test_a_rank_killed_mid_run_keeps_the_others_data_and_is_named(self):
        r = record_job(self.run_dir, "--die-at", "3")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("rank 1 (process pid", r.stderr)
        self.assertIn("last seen using CPU", r.stderr)
        p = load_profile(self.run_dir)
        self.assertEqual([q["rank"] for q in p["processes"]], [0])
        nodes = {n["path"]: n for n in p["nodes"]}
        self.assertTrue(any(path.endswith("/fc1") for path in nodes), sorted(nodes))
        self.assertGreater(sum(p["nodes"][0]["total"].values()), 0)


if __name__ == "__main__":
    unittest.main()
