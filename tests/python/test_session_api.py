"""The explicit Python API: smaragdine.session(), scope(), step(), measure(),
and the import-time check of the torch the extension was built for.

Run by ctest (python.test_session_api) with SMARAGDINE_BINARY and
SMARAGDINE_PYTHON_DIR (the build's python/ folder) in the environment.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "programs")
BINARY = os.environ.get("SMARAGDINE_BINARY", "smaragdine")
PACKAGE_DIR = os.environ.get("SMARAGDINE_PYTHON_DIR", "")
PYTHON = sys.executable


def env_with_package(extra_path=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [extra_path or PACKAGE_DIR,
                                                    env.get("PYTHONPATH", "")] if p)
    env.pop("SMARAGDINE_RUN_DIR", None)
    env.pop("SMARAGDINE_TORCH", None)
    return env


class SessionApiTest(unittest.TestCase):
    def run_api_script(self, prefix=()):
        r = subprocess.run(list(prefix) + [PYTHON, os.path.join(PROGRAMS, "session_api.py")],
                           capture_output=True, text=True, timeout=300, env=env_with_package())
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1]), r

    def check_profile(self, out):
        self.assertEqual(out["paths"], [
            "", "Optimizer.zero_grad#AdamW.zero_grad", "eval", "eval/mlp", "eval/mlp/0",
            "eval/mlp/1", "eval/mlp/2", "mlp", "mlp/0", "mlp/1", "mlp/2", "optimizer",
            "optimizer/Optimizer.step#AdamW.step"])
        # Five training steps, and the evaluation after the last s.step() is a
        # sixth: a session's steps end at each step() and at stop().
        self.assertEqual(out["root"]["steps"], 6)
        self.assertGreater(out["root"]["energy_j"], 0)
        self.assertGreater(out["lin0_backward_j"], 0)   # backward under the forward module
        self.assertGreater(out["optimizer_j"], 0)
        self.assertTrue(out["report_has_mlp"])
        self.assertTrue(out["csv_header"].startswith("path,"), out["csv_header"])
        for key in ["path", "name", "parent", "depth", "kind", "energy_j", "self_j", "ci95_j",
                    "time_s", "power_w", "calls", "forward_j", "backward_j", "optimizer_j",
                    "steps", "step_mean_j", "step_ci95_j"]:
            self.assertIn(key, out["keys"])
        if out["dataframe_rows"] is not None:
            self.assertEqual(out["dataframe_rows"], out["node_count"])

    def test_session_in_process(self):
        out, _ = self.run_api_script()
        self.check_profile(out)
        self.assertFalse(out["joined"])
        # No counter is readable on a machine like CI's: the CPU-time model, said plainly.
        m = out["measure"]
        self.assertGreater(m["duration_s"], 0)
        self.assertGreater(m["total_j"], 0)
        self.assertTrue(m["domains"])
        if not os.access("/sys/class/powercap", os.R_OK) or out["modeled"]:
            self.assertEqual(sorted(m["modeled"]), sorted(m["domains"]))

    def test_session_puts_gpu_kernels_under_their_modules(self):
        # programs/fake_cuda.py stands torch.profiler's CUDA activity in (no
        # GPU here): the session starts it, and its export's kernels join the
        # in-process trace under the operator running at each launch.
        r = subprocess.run([PYTHON, os.path.join(PROGRAMS, "fake_cuda.py"), "--session"],
                           capture_output=True, text=True, timeout=300, env=env_with_package())
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("GPU kernels not", r.stderr)
        out = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(out["launched"], 3)
        self.assertEqual(out["syncs"], 1)
        self.assertEqual(out["gpu_events"], 3)
        self.assertEqual([k["path"] for k in out["kernels"]], ["Net/head/void fake_gemm<float>()"])
        kernel = out["kernels"][0]
        self.assertEqual(kernel["calls"], 3)
        self.assertAlmostEqual(kernel["time_s"], 3 * 150e-6, places=9)
        self.assertEqual(kernel["steps"], 3)

    def test_session_joins_a_record_run(self):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = os.path.join(tmp, "run")
            out, _ = self.run_api_script([BINARY, "record", "-q", "-o", run_dir, "--"])
            self.check_profile(out)
            self.assertTrue(out["joined"])
            names = os.listdir(run_dir)
            self.assertIn("live.trace.json", names)
            self.assertIn("profile.json", names)

    def test_session_under_record_torch_is_refused_with_a_reason(self):
        with tempfile.TemporaryDirectory() as tmp:
            run_dir = os.path.join(tmp, "run")
            r = subprocess.run([BINARY, "record", "--torch", "-o", run_dir, "--", PYTHON,
                                os.path.join(PROGRAMS, "session_api.py")],
                               capture_output=True, text=True, timeout=300,
                               env=env_with_package())
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("already records all of it", r.stderr)

    def test_import_under_another_torch_names_both_versions(self):
        with tempfile.TemporaryDirectory() as tmp:
            copy = os.path.join(tmp, "python")
            shutil.copytree(PACKAGE_DIR, copy)
            info = os.path.join(copy, "smaragdine", "_build_info.py")
            with open(info) as f:
                text = f.read()
            with open(info, "w") as f:
                f.write(text.replace('TORCH_VERSION = "', 'TORCH_VERSION = "0.9.9+other #'))
            r = subprocess.run([PYTHON, "-c", "import smaragdine; smaragdine.session().start()"],
                               capture_output=True, text=True, timeout=120,
                               env=env_with_package(copy))
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("ImportError", r.stderr)
            self.assertIn("built against torch 0.9.9", r.stderr)
            import_torch = subprocess.run([PYTHON, "-c", "import torch; print(torch.__version__)"],
                                          capture_output=True, text=True, timeout=120)
            self.assertIn("runs torch " + import_torch.stdout.strip(), r.stderr)
            self.assertIn("cmake --build", r.stderr)


if __name__ == "__main__":
    unittest.main()
