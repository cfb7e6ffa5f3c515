"""`smaragdine record --torch -- python SCRIPT`: unmodified PyTorch programs.

Run by ctest (python.test_record_torch) with SMARAGDINE_BINARY (the built
smaragdine) in the environment; the package comes from the build's python/
folder, found next to the binary.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
BINARY = os.environ.get("SMARAGDINE_BINARY", "smaragdine")
PYTHON = sys.executable

# The module scopes the classifier and the MLP must give, exactly: roots named
# after their classes, every module under the module that called it, the
# encoder's layers under their ModuleList's name.
LAYER_MODULES = ["self_attn", "linear1", "dropout", "linear2", "norm1", "norm2", "dropout1",
                 "dropout2"]
EXPECTED_MODULE_PATHS = sorted(
    ["Classifier", "Classifier/embed", "Classifier/encoder", "Classifier/head",
     "MLP", "MLP/net", "MLP/net/0", "MLP/net/1", "MLP/net/2",
     "CrossEntropyLoss", "optimizer",
     # torch's own record_function scopes around the optimizer's calls
     "optimizer/Optimizer.step#AdamW.step", "Optimizer.zero_grad#AdamW.zero_grad",
     # "layers/0" is two levels: the ModuleList has no forward of its own
     "Classifier/encoder/layers"] +
    ["Classifier/encoder/layers/%d" % i for i in range(2)] +
    ["Classifier/encoder/layers/%d/%s" % (i, m) for i in range(2) for m in LAYER_MODULES])


def record(run_dir, args, **kwargs):
    cmd = [BINARY, "record", "--torch", "-o", run_dir, "--", PYTHON] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)


def load_profile(run_dir):
    with open(os.path.join(run_dir, "profile.json")) as f:
        return json.load(f)


def total(figures):
    return sum(figures.values())


class RecordTorchTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="smaragdine-pytest-")
        self.run_dir = os.path.join(self.tmp.name, "run")

    def tearDown(self):
        self.tmp.cleanup()

    def check_conservation(self, profile):
        # Per domain: the tree's energy + idle + other processes' = measured.
        root = profile["nodes"][0]
        for d in profile["domains"]:
            parts = root["total"].get(d["name"], 0) + d["idle_j"] + d.get("other_j", 0)
            self.assertAlmostEqual(parts, d["measured_j"], delta=1e-6 * max(1, d["measured_j"]))

    def test_unmodified_script_gives_module_tree_with_phases_and_steps(self):
        r = record(self.run_dir, [os.path.join(PROGRAMS, "train_small.py")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("trained", r.stdout)
        self.assertIn("Profile written to", r.stdout)
        p = load_profile(self.run_dir)
        nodes = {n["path"]: n for n in p["nodes"]}
        scopes = sorted(path for path, n in nodes.items() if n["kind"] == "scope" and path)
        self.assertEqual(scopes, EXPECTED_MODULE_PATHS)

        # Backward work sits under the forward modules, not at the top.
        top = [n for n in p["nodes"] if n["parent"] == 0]
        for n in top:
            self.assertNotIn("Backward", n["name"], "backward at the top: " + n["path"])
        for path in ["Classifier/encoder/layers/0/linear1", "MLP/net/0", "Classifier/embed"]:
            phases = nodes[path]["phases"]
            self.assertIn("backward", phases, path)
            self.assertGreater(total(phases["backward"]["total"]), 0, path)
            self.assertGreater(phases["forward"]["calls"], 0, path)
            backward_ops = [n for n in p["nodes"] if n["path"].startswith(path + "/") and
                            "backward" in n["phases"] and n["phases"]["backward"]["calls"] > 0]
            self.assertTrue(backward_ops, path)
        # The optimizer's operators are in its scope and phase.
        opt = nodes["optimizer"]
        self.assertGreater(opt["phases"]["optimizer"]["calls"], 0)
        self.assertNotIn("forward", opt["phases"])

        # Five optimizer steps, five steps with statistics.
        self.assertEqual(p["meta"]["steps"], 5)
        self.assertEqual(p["nodes"][0]["steps"]["n"], 5)
        self.assertGreater(p["nodes"][0]["steps"]["mean_j"], 0)
        self.check_conservation(p)
        self.assertFalse(os.path.exists(
            os.path.join(self.run_dir, "torch-%d.started" % 0)))
        traces = [f for f in os.listdir(self.run_dir) if f.endswith(".trace.json")]
        self.assertEqual(len(traces), 1, traces)

    def test_script_that_raises_keeps_what_ran(self):
        r = record(self.run_dir, [os.path.join(PROGRAMS, "train_small.py"), "raise"])
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("fails at step 3 on purpose", r.stderr)
        p = load_profile(self.run_dir)
        self.assertEqual(p["meta"]["steps"], 3)
        self.assertGreater(p["nodes"][0]["total"] and total(p["nodes"][0]["total"]), 0)
        self.check_conservation(p)

    def test_dataloader_workers_keep_working(self):
        r = record(self.run_dir, [os.path.join(PROGRAMS, "train_small.py"), "workers"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("trained", r.stdout)
        p = load_profile(self.run_dir)
        self.assertEqual(p["meta"]["steps"], 5)
        # Only the main process writes a trace (forked workers stop recording).
        traces = [f for f in os.listdir(self.run_dir) if f.endswith(".trace.json")]
        self.assertEqual(len(traces), 1, traces)
        self.check_conservation(p)

    def test_program_without_torch_is_recorded_and_says_so(self):
        r = record(self.run_dir, [os.path.join(PROGRAMS, "no_torch.py")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("sum", r.stdout)
        self.assertIn("never imported torch", r.stderr)
        self.assertTrue(os.path.exists(os.path.join(self.run_dir, "energy.csv")))
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "profile.json")))

    def test_process_that_ran_no_operator_says_why(self):
        r = record(self.run_dir, ["-c", "import torch"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("recorded nothing", r.stderr)
        self.assertIn("no LibTorch operator", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "profile.json")))

    def test_os_exit_is_reported_as_missing_trace(self):
        r = record(self.run_dir, [os.path.join(PROGRAMS, "train_small.py"), "os_exit"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("trace is missing", r.stderr)
        self.assertIn("os._exit", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "profile.json")))

    def test_sigterm_mid_run_keeps_what_was_recorded(self):
        cmd = [BINARY, "record", "--torch", "-o", self.run_dir, "--", PYTHON,
               os.path.join(PROGRAMS, "train_small.py"), "forever"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = proc.stdout.readline()
            self.assertEqual(line.strip(), "ready")
            time.sleep(0.3)
            proc.send_signal(signal.SIGTERM)  # record forwards it to the program
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        # The program ended by SIGTERM (record exits 128 + 15), after writing its trace.
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
        p = load_profile(self.run_dir)
        self.assertGreaterEqual(p["meta"]["steps"], 2)
        self.assertIn("Classifier/encoder/layers/1/self_attn", {n["path"] for n in p["nodes"]})
        self.check_conservation(p)

    def test_gpu_kernels_land_under_the_module_that_launched_them(self):
        # No GPU here: programs/fake_cuda.py stands torch.profiler's CUDA
        # activity in (see its docstring); what is tested is the bootstrap's
        # part: start it at the first module call, tie its clock to ours
        # with one synchronize, join its export to the trace at exit.
        r = record(self.run_dir, [os.path.join(PROGRAMS, "fake_cuda.py")])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("launched 3 kernels after 1 synchronize", r.stdout)
        self.assertNotIn("GPU kernels not", r.stderr)
        p = load_profile(self.run_dir)
        kernels = [n for n in p["nodes"] if n["kind"] == "kernel"]
        self.assertEqual([n["path"] for n in kernels], ["Net/head/void fake_gemm<float>()"])
        self.assertEqual(kernels[0]["calls"], 3)
        self.assertEqual(kernels[0]["time_ns"], 3 * 150000)
        self.assertEqual(list(kernels[0]["phases"]), ["forward"])
        self.assertEqual(kernels[0]["steps"]["n"], 3)
        # The profiler's export is joined and removed; the trace stays.
        names = os.listdir(self.run_dir)
        self.assertFalse([n for n in names if n.endswith(".gpu-activity.json")], names)
        self.assertTrue([n for n in names if n.endswith(".trace.json")], names)

    def test_no_account_leaves_the_trace_for_later(self):
        cmd = [BINARY, "record", "--torch", "--no-account", "-q", "-o", self.run_dir, "--",
               PYTHON, os.path.join(PROGRAMS, "train_small.py")]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.run_dir, "profile.json")))
        traces = [os.path.join(self.run_dir, f) for f in os.listdir(self.run_dir)
                  if f.endswith(".trace.json")]
        self.assertEqual(len(traces), 1)
        out = os.path.join(self.tmp.name, "later.json")
        a = subprocess.run([BINARY, "account", "--energy", self.run_dir, "--trace", traces[0],
                            "-o", out], capture_output=True, text=True, timeout=120)
        self.assertEqual(a.returncode, 0, a.stderr)
        with open(out) as f:
            self.assertIn("Classifier/encoder", {n["path"] for n in json.load(f)["nodes"]})


if __name__ == "__main__":
    unittest.main()
