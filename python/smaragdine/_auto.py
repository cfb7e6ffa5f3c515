# The zero-code-change path: `smaragdine record --torch -o RUN -- python train.py`.
#
# sitecustomize.py calls install() at start-up. Nothing happens until the
# program imports torch; then this process records every operator into
# RUN/torch-<pid>.trace.json, written at exit (normal exit, sys.exit, an
# uncaught exception, SIGINT, SIGTERM, SIGHUP). `record` accounts the run
# once the program has ended.
#
# Files in RUN, so that `record` can say what happened to each process:
#   torch-<pid>.started       recording began (removed when the trace is written)
#   torch-<pid>.trace.json    the trace
#   torch-<pid>.error         why this process recorded nothing (one line)
#   torch-<pid>.gpu-activity.json
#                             with CUDA and Kineto: torch.profiler's GPU
#                             activity, joined to the trace at exit, then removed
# A .started left alone means the process ended without running its exit
# handlers (os._exit, SIGKILL, a crash).
import atexit
import importlib.abc
import importlib.util
import os
import signal
import sys
import threading

_state = None


class _State:
    def __init__(self, C, session, run_dir, pid):
        self.C = C
        self.session = session
        self.run_dir = run_dir
        self.pid = pid
        self.finished = False
        self.lock = threading.Lock()
        self.user_steps = False
        self.gpu = None  # (profiler, thread id, sync begin ns, sync end ns)

    def path(self, suffix):
        return os.path.join(self.run_dir, "torch-%d.%s" % (self.pid, suffix))


def active_session():
    """The bootstrap's session in this process, or None."""
    if _state is not None and not _state.finished and _state.pid == os.getpid():
        return _state
    return None


def _note(run_dir, pid, text):
    try:
        with open(os.path.join(run_dir, "torch-%d.error" % pid), "w") as f:
            f.write(text.replace("\n", " ") + "\n")
    except OSError:
        pass


def _gpu_unavailable(torch):
    """Why GPU kernels cannot be recorded in this process, or None."""
    if os.environ.get("SMARAGDINE_GPU_KERNELS", "1") == "0":
        return "SMARAGDINE_GPU_KERNELS=0"
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_available():
        return "torch has no CUDA device"
    if not cuda.is_initialized():
        return "CUDA was not in use yet (torch.cuda.is_initialized() is False)"
    if not getattr(torch.autograd, "kineto_available", lambda: False)():
        return "this torch was built without Kineto"
    return None


def start_gpu_profiler(torch):
    """Where torch has CUDA in use and Kineto: torch.profiler with its CUDA
    activity only (kernels, copies, the runtime calls that launched them), for
    the trace to place each kernel under the operator that launched it.
    Returns (profiler, thread id, sync begin ns, sync end ns), or None; says
    on stderr why not when a GPU is there."""
    why = _gpu_unavailable(torch)
    if why is not None:
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_available():
            # A GPU is there: say why its kernels are not in the trace (its
            # energy then stays in the GPU domain's (idle)).
            sys.stderr.write("smaragdine: warning: GPU kernels not recorded: %s\n" % (why,))
        return None
    import time
    from torch.profiler import ProfilerActivity, profile
    try:
        prof = profile(activities=[ProfilerActivity.CUDA])
        prof.start()
        # The profiler's clock is not ours: one synchronize, timed on our
        # clock, is found in its export and ties the two (docs/python.md).
        begin_ns = time.monotonic_ns()
        torch.cuda.synchronize()
        end_ns = time.monotonic_ns()
    except Exception as e:
        sys.stderr.write("smaragdine: warning: GPU kernels not recorded: %s\n" % (e,))
        return None
    return (prof, threading.get_native_id(), begin_ns, end_ns)


def stop_gpu_profiler(gpu, session, path):
    """Stops the profiler start_gpu_profiler() gave, exports it to `path` and
    hands it to the native session, which reads it when it stops. False when
    the export failed (said on stderr)."""
    prof, tid, begin_ns, end_ns = gpu
    try:
        prof.stop()
        prof.export_chrome_trace(path)
    except Exception as e:
        sys.stderr.write("smaragdine: warning: GPU kernels not recorded: %s\n" % (e,))
        return False
    session.add_gpu_activity(path, tid, begin_ns, end_ns)
    return True


def _start_gpu_activity(torch):
    # Started at the first module call, once the program has chosen its devices.
    st = active_session()
    if st is not None:
        st.gpu = start_gpu_profiler(torch)


def _stop_gpu_activity(st):
    """The export's path (removed once the trace is written), or None."""
    if st.gpu is None:
        return None
    path = st.path("gpu-activity.json")
    return path if stop_gpu_profiler(st.gpu, st.session, path) else None


def _finish():
    st = _state
    if st is None or st.pid != os.getpid():
        return  # a forked child: the parent writes the trace
    with st.lock:
        if st.finished:
            return
        st.finished = True
    from smaragdine import _hooks
    _hooks.hooks(st.C).release()
    gpu_path = _stop_gpu_activity(st)
    try:
        st.session.stop_and_write_trace()
        error = st.session.info["gpu_activity_error"]
        if error:
            sys.stderr.write("smaragdine: warning: GPU kernels not joined to the trace: %s\n"
                             % (error,))
    except Exception as e:
        _note(st.run_dir, st.pid, str(e))
    if gpu_path is not None:
        try:
            os.unlink(gpu_path)
        except OSError:
            pass
    try:
        os.unlink(st.path("started"))
    except OSError:
        pass


def _on_signal(signum, frame):
    # Write what was recorded, then end as the signal would have ended the
    # program, so that its exit status still says which signal it was.
    _finish()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _after_fork_in_child():
    if _state is not None and not _state.finished:
        _state.C.disable_after_fork()


def _step():
    st = active_session()
    if st is not None and not st.user_steps:
        st.session.step()


def _activate(torch):
    global _state
    run_dir = os.environ.get("SMARAGDINE_RUN_DIR", "")
    pid = os.getpid()
    if not run_dir:
        sys.stderr.write("smaragdine: warning: SMARAGDINE_TORCH=1 without SMARAGDINE_RUN_DIR: "
                         "not recording (start the program under `smaragdine record --torch`)\n")
        return
    try:
        from smaragdine import _load
        C = _load.load()
        # Steps end at each optimizer step; the first begins at the first
        # module call (not at `import torch`), and what runs after the last
        # optimizer step (evaluation, saving) is in none.
        session = C.start_session(run_dir=run_dir, trace_name="torch-%d.trace.json" % pid,
                                  write_profile=False, step_after_last_mark=False)
    except Exception as e:
        sys.stderr.write("smaragdine: error: not recording this process: %s\n" % (e,))
        _note(run_dir, pid, str(e))
        return
    _state = _State(C, session, run_dir, pid)
    try:
        with open(_state.path("started"), "w") as f:
            f.write("%d %s\n" % (pid, " ".join(sys.argv)))
            # A rank that dies without its trace is named by its rank, not
            # only its pid (torchrun, srun, mpirun: launch.h's order).
            for var in ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK"):
                if os.environ.get(var, "").isdigit():
                    f.write("rank %s\n" % os.environ[var])
                    break
    except OSError:
        pass
    from smaragdine import _hooks
    h = _hooks.hooks(C)
    h.acquire(torch)
    h.on_optimizer_step = _step

    def first_root():
        session.begin_steps()
        _start_gpu_activity(torch)

    h.on_first_root = first_root
    atexit.register(_finish)
    os.register_at_fork(after_in_child=_after_fork_in_child)
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                signal.signal(sig, _on_signal)


class _TorchWatcher(importlib.abc.MetaPathFinder):
    """Waits for `import torch` and activates recording once torch's own
    __init__ has run."""

    def __init__(self):
        self._busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "torch" or self._busy:
            return None
        self._busy = True
        try:
            spec = importlib.util.find_spec("torch")
        finally:
            self._busy = False
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return None
        loader_exec = spec.loader.exec_module
        watcher = self

        def exec_module(module):
            loader_exec(module)
            if watcher in sys.meta_path:
                sys.meta_path.remove(watcher)
            _activate(module)

        spec.loader.exec_module = exec_module
        return spec


def install():
    if "torch" in sys.modules:
        _activate(sys.modules["torch"])
    else:
        sys.meta_path.insert(0, _TorchWatcher())
