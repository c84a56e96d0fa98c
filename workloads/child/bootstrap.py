"""fwtop child bootstrap, executed by path: ``python bootstrap.py``.

The parent passes the workload spec as JSON in FWTOP_SPEC, and two inherited
pipe fds in FWTOP_EVENT_FD (events out) and FWTOP_CONTROL_FD (commands in).
Stdlib only; Python 3.8 compatible.
"""

import os
import sys
import time

STARTED = time.time()


def _load_child_package():
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    # Python put our own folder first on sys.path; keep it off the workload's path.
    if sys.path and os.path.abspath(sys.path[0] or os.curdir) == here:
        sys.path.pop(0)
    spec = importlib.util.spec_from_file_location(
        "_fwtop_child", os.path.join(here, "__init__.py"), submodule_search_locations=[here]
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules["_fwtop_child"] = module
    spec.loader.exec_module(module)
    return module


def _die_with_parent():
    """Linux: SIGKILL this child the moment fwtop dies (PR_SET_PDEATHSIG), on top of the
    control-pipe check, so no orphan keeps device memory. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    expected = os.environ.get("FWTOP_PARENT_PID")
    if expected and expected.isdigit() and os.getppid() != int(expected):
        os._exit(4)  # the parent died before the prctl took effect


def _allow_tracing_by_parent():
    """Linux: let fwtop (and its descendants, such as the py-spy it runs) ptrace this child
    under Yama ptrace_scope=1, where only ancestors may (PR_SET_PTRACER). Elsewhere a no-op."""
    parent = os.environ.get("FWTOP_PARENT_PID", "")
    if not sys.platform.startswith("linux") or not parent.isdigit():
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(0x59616D61, int(parent), 0, 0, 0)  # PR_SET_PTRACER
    except (OSError, AttributeError):
        pass


def main():
    _die_with_parent()
    _allow_tracing_by_parent()
    _load_child_package()
    from _fwtop_child import runtime

    return runtime.main(STARTED)


if __name__ == "__main__":
    sys.exit(main())
