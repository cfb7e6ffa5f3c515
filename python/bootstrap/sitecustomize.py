# Smaragdine's bootstrap, put first on PYTHONPATH by `smaragdine record --torch`.
#
# Python imports `sitecustomize` at start-up; this one does nothing until the
# program imports torch (a watcher on the import system), then starts the live
# recorder in this process (smaragdine/_auto.py). Without SMARAGDINE_TORCH=1 in
# the environment it only hands over to the sitecustomize it shadows.
import os
import sys


def _smaragdine_bootstrap():
    if os.environ.get("SMARAGDINE_TORCH") != "1":
        return
    try:
        from smaragdine import _auto
        _auto.install()
    except Exception as e:  # the program runs on, unrecorded; record says why
        sys.stderr.write("smaragdine: warning: the torch bootstrap failed: %s\n" % (e,))


def _chain_shadowed_sitecustomize():
    # The interpreter (Debian's has one in /usr/lib/python3.X) or the user may
    # have their own sitecustomize, which this file hides: run it too.
    import importlib.machinery
    import importlib.util
    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


_smaragdine_bootstrap()
_chain_shadowed_sitecustomize()
