# Loads the extension (smaragdine._C) once torch is imported, after checking
# that it was built for this torch: an extension built against another torch
# either fails to load with an unreadable symbol error or, worse, loads a
# second libtorch whose operator callbacks the program never calls, and
# records nothing.
import os
import re

_C = None


def _release(version):
    m = re.match(r"(\d+)\.(\d+)\.(\d+)", version or "")
    return m.groups() if m else None


def _rebuild_command(info):
    return ("cmake -S {src} -B {build} -DCMAKE_PREFIX_PATH=\"$(python3 -c 'import torch.utils; "
            "print(torch.utils.cmake_prefix_path)')\" && cmake --build {build} --target "
            "smaragdine_python").format(src=info.SOURCE_DIR, build=info.BINARY_DIR)


def _loaded_libtorch_files():
    files = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip("\n").split(" ")[-1]
                if os.path.basename(path).startswith("libtorch_cpu.so"):
                    files.add(os.path.realpath(path))
    except OSError:
        pass
    return files


def load():
    """The extension module; imports torch first. Raises ImportError when it
    was built for another torch, naming both versions and the rebuild command."""
    global _C
    if _C is not None:
        return _C
    import torch
    from smaragdine import _build_info as info
    if _release(torch.__version__) != _release(info.TORCH_VERSION):
        raise ImportError(
            "smaragdine was built against torch {built} ({libdir}) but this program runs torch "
            "{running} ({here}); rebuild it against the torch you run:\n  {cmd}".format(
                built=info.TORCH_VERSION, libdir=info.TORCH_LIBRARY_DIR,
                running=torch.__version__, here=os.path.dirname(torch.__file__),
                cmd=_rebuild_command(info)))
    from smaragdine import _C as ext
    libs = _loaded_libtorch_files()
    if len(libs) > 1:
        raise ImportError(
            "smaragdine's extension loaded a second libtorch ({}): it was built against another "
            "copy of torch {} than the one this program imported, and would record nothing; "
            "rebuild it against the torch you run:\n  {}".format(
                ", ".join(sorted(libs)), torch.__version__, _rebuild_command(info)))
    _C = ext
    return _C
