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


GUARD_NAME = b"fwtop-guard"  # probes/trees.py leaves a process of this name out of a workload's tree


def _start_guard():
    """Linux: fork a tiny guard that SIGKILLs this child's whole process group the moment the
    child dies, however it dies (killed with fwtop by PR_SET_PDEATHSIG, crashed, exited), so
    no grandchild (a data-loader worker, a process the user's script started) outlives the
    workload and keeps device memory. Forked first thing, before any framework is imported
    and while there is a single thread. Only when the child leads its own process group, as
    fwtop starts it; elsewhere a no-op."""
    if not sys.platform.startswith("linux") or os.getpgrp() != os.getpid():
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
    except (ImportError, OSError):
        return
    parent = os.getpid()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})  # the fork inherits the mask
    pid = os.fork()
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
        return
    try:  # the guard: hold nothing of the child's (pipes, terminal), wait for it to die
        libc.prctl(15, GUARD_NAME, 0, 0, 0)  # PR_SET_NAME
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.closerange(3, 1 << 16)
        libc.prctl(1, int(signal.SIGUSR1), 0, 0, 0)  # PR_SET_PDEATHSIG: SIGUSR1 when the child dies
        if os.getppid() == parent:
            signal.sigwait({signal.SIGUSR1})
        os.killpg(parent, signal.SIGKILL)  # the group's id is the child's pid; the guard is in it
    finally:
        os._exit(0)


def main():
    _die_with_parent()
    _allow_tracing_by_parent()
    _start_guard()
    _load_child_package()
    from _fwtop_child import runtime

    return runtime.main(STARTED)


if __name__ == "__main__":
    sys.exit(main())
