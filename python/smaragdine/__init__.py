"""Smaragdine: tensor-aware energy accounting for PyTorch programs.

With no change to the program:

    smaragdine record --torch -o run -- python train.py

or with windows of your own:

    import smaragdine
    with smaragdine.session() as s:
        for batch in data:
            train_step(batch)        # modules become scopes on their own
            s.step()
    print(s.profile.report())        # the tree, joules per module
    rows = s.profile.nodes           # a list of dicts: pandas.DataFrame(rows)

    with smaragdine.scope("eval"):   # a scope of your own inside a session
        evaluate()

    with smaragdine.measure() as m:  # a plain energy window, no operators
        work()
    print(m.total_j, m.energy_j)

Energy comes from `smaragdine record` when the program runs under it (the
session joins its run), else from the counters this process can read, else
from a CPU-time model (every figure then says MODELED). See docs/python.md.
"""
import os as _os

from smaragdine._hooks import name_module

__all__ = ["session", "Session", "Profile", "scope", "step", "measure", "Measurement",
           "name_module", "load_profile", "Error"]


def _ext():
    from smaragdine import _load
    return _load.load()


class Error(RuntimeError):
    """A Smaragdine error (the message says what and where)."""


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except RuntimeError as e:
        C = _ext()
        if isinstance(e, C.Error):
            raise Error(str(e)) from None
        raise


class Profile:
    """A profile: the model's tree with joules per node (profile.json in memory)."""

    def __init__(self, native):
        self._p = native
        self._nodes = None

    @property
    def nodes(self):
        """One dict per node, parents first: path, name, parent, depth, kind,
        energy_j (with descendants), self_j, ci95_j, time_s, power_w, calls,
        forward_j, backward_j, optimizer_j, other_j, one "<domain>_j" per
        energy domain, steps, step_mean_j, step_ci95_j."""
        if self._nodes is None:
            self._nodes = self._p.nodes()
        return self._nodes

    @property
    def domains(self):
        return self._p.domains()

    @property
    def measured_j(self):
        return self._p.measured_j

    @property
    def modeled(self):
        return any(d["modeled"] for d in self.domains)

    @property
    def warnings(self):
        return list(self._p.warnings)

    def node(self, path):
        for n in self.nodes:
            if n["path"] == path:
                return n
        raise KeyError(path)

    def report(self, format="table", top=0, depth=None, root=""):
        """The report `smaragdine report` prints: table, csv, json, folded, ..."""
        return _call(self._p.report, format, top, depth, root)

    def save(self, path):
        """Writes profile.json (read it with `smaragdine report PATH`)."""
        _call(self._p.save, str(path))

    def __str__(self):
        return self.report()


def load_profile(path):
    return Profile(_call(_ext().load_profile, str(path)))


class Session:
    """Records every operator from start to stop and accounts the energy.

    output_dir: keep run.json, energy.csv, the trace and profile.json there
    (default: nothing is kept). sources: energy sources to prefer (as
    `record --source`). baseline_w: idle watts per domain. name_modules:
    scopes named after the modules that run (default True)."""

    def __init__(self, output_dir=None, sources=None, baseline_w=None, name_modules=True,
                 rate_hz=None):
        self._options = dict(output_dir=None if output_dir is None else str(output_dir),
                             sources=sources, baseline_w=baseline_w, rate_hz=rate_hz)
        self._name_modules = name_modules
        self._native = None
        self._hooks = None
        self._gpu = None
        self.profile = None
        self.info = None

    def start(self):
        from smaragdine import _auto, _hooks
        if _auto.active_session() is not None:
            raise Error("this program runs under `smaragdine record --torch`, which already "
                        "records all of it: use smaragdine.scope() and smaragdine.step() "
                        "inside it, or run it under `smaragdine record` without --torch to "
                        "use smaragdine.session()")
        C = _ext()
        self._native = _call(C.start_session, **self._options)
        import torch
        if self._name_modules:
            self._hooks = _hooks.hooks(C)
            self._hooks.acquire(torch)
            self._hooks.on_optimizer_step = None
        # GPU kernels, where torch has CUDA in use and Kineto (docs/python.md).
        self._gpu = _auto.start_gpu_profiler(torch)
        global _current
        _current = self
        return self

    def step(self):
        """Ends this step and begins the next (call it after every iteration)."""
        self._native.step()

    def stop(self):
        global _current
        if self._native is None:
            raise Error("the session was not started")
        from smaragdine import _auto
        if self._hooks is not None:
            self._hooks.release()
            self._hooks = None
        if _current is self:
            _current = None
        gpu_export = None
        if self._gpu is not None:
            import tempfile
            fd, gpu_export = tempfile.mkstemp(prefix="smaragdine-gpu-", suffix=".json")
            _os.close(fd)
            if not _auto.stop_gpu_profiler(self._gpu, self._native, gpu_export):
                _os.unlink(gpu_export)
                gpu_export = None
            self._gpu = None
        try:
            self.profile = Profile(_call(self._native.stop))
        finally:
            self.info = self._native.info
            if gpu_export is not None:
                _os.unlink(gpu_export)
        if self.info.get("gpu_activity_error"):
            import sys
            sys.stderr.write("smaragdine: warning: GPU kernels not joined to the profile: %s\n"
                             % (self.info["gpu_activity_error"],))
        return self.profile

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            try:  # the block's own exception is the one to see
                self.stop()
            except Exception:
                pass
        return False


_current = None


def session(**options):
    """A Session to use as a context manager: `with smaragdine.session() as s:`."""
    return Session(**options)


def step():
    """Ends the current step of the running session (explicit or under
    `record --torch`). Once called, optimizer steps no longer end steps."""
    from smaragdine import _auto
    if _current is not None:
        _current.step()
        return
    st = _auto.active_session()
    if st is not None:
        st.user_steps = True
        st.session.step()


class scope:
    """A scope of your own: `with smaragdine.scope("eval"):` or as a decorator."""

    def __init__(self, name):
        self.name = str(name)

    def __enter__(self):
        _ext().enter_scope(self.name)
        return self

    def __exit__(self, *exc):
        _ext().leave_scope()
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with scope(self.name):
                return fn(*args, **kwargs)
        return wrapper


class Measurement:
    """Energy of a window, without operators: energy_j (per domain), total_j,
    duration_s, modeled (the domains that are modeled, not measured)."""

    def __init__(self, sources=None):
        self._sources = sources
        self._native = None
        self.energy_j = {}
        self.total_j = 0.0
        self.duration_s = 0.0
        self.modeled = []

    def __enter__(self):
        self._native = _call(_ext().start_measurement, sources=self._sources)
        return self

    def __exit__(self, *exc):
        r = _call(self._native.stop)
        self.energy_j = dict(r["energy_j"])
        self.total_j = r["total_j"]
        self.duration_s = r["duration_s"]
        self.modeled = list(r["modeled"])
        return False


def measure(sources=None):
    """A plain energy window: `with smaragdine.measure() as m: ...; m.total_j`."""
    return Measurement(sources)
