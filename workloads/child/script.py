"""Run the user's script, unmodified, as ``python script.py args...`` would.

``runpy.run_path(path, run_name="__main__")`` with ``sys.argv`` set and the
script's folder first on ``sys.path``; its stdout/stderr are the workload's log;
its exit status comes through (``sys.exit(n)``, 1 with the traceback in the
log when it raises). Steps are detected by hooks.py or marked with api.py.
Stdlib only, Python 3.8 compatible.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback

from . import api, hooks, protocol
from . import steps as steps_mod
from .detect import StepDetector, StopScript


def _error(writer, exc_type: str, message: str, tb: str = "") -> None:
    writer.emit("error", type=exc_type, message=protocol.truncate(message), traceback=protocol.truncate(tb), fatal=True)


def _script_traceback(exc: BaseException, path: str) -> str:
    """The traceback from the script's own frames on, as python would print it."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) != path:
        tb = tb.tb_next
    if tb is None:
        tb = exc.__traceback__
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _exit_status(code) -> int:
    """What the interpreter would exit with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    sys.stderr.write("%s\n" % (code,))
    return 1


def _profiler_installer(driver, detector):
    """Framework profiler captures (the ``profile`` command, capture.py where present) for the
    first framework with a profiler that the script imports; commands that come earlier are
    answered as unsupported."""
    try:
        from . import capture
    except ImportError:
        return None
    installed = []

    def on_framework(name: str) -> None:
        if installed or name not in ("torch", "jax", "tensorflow"):
            return
        try:
            installed.append(capture.install(driver, name, "cpu"))
        except Exception as exc:  # noqa: BLE001 - profiling never breaks the script
            sys.stderr.write("fwtop: profiler captures unavailable: %s: %s\n" % (type(exc).__name__, exc))

    def device_known(device: str) -> None:
        if installed and device:
            installed[0].device_kind = device.split(":")[0]

    detector.on_device = device_known
    return on_framework


def run(spec: dict, writer, control, started: float) -> int:
    path = os.path.abspath(str(spec.get("script", "")))
    args = [str(a) for a in spec.get("args") or []]
    cwd = spec.get("cwd") or ""
    if cwd:
        try:
            os.chdir(cwd)
        except OSError as exc:
            _error(writer, "WorkloadError", "cannot change to working directory %s: %s" % (cwd, exc.strerror or exc))
            return protocol.EXIT_USAGE
    if not os.path.isfile(path):
        _error(writer, "WorkloadError", "script %s does not exist" % path)
        return protocol.EXIT_USAGE

    driver = steps_mod.StepDriver(writer, control, started, warmup=int(spec.get("warmup", 2)))
    detector = StepDetector(driver, writer, path, started, max_steps=int(spec.get("steps") or 0))
    driver.memory = detector.memory
    api.activate(detector)
    api.provide_module()
    detector.on_framework = _profiler_installer(driver, detector)
    hooks.install(detector)

    sys.argv = [path] + args
    sys.path.insert(0, os.path.dirname(path))
    detector.hello(complete=False)
    if not driver.before_step():  # stopped before it began
        driver.bye()
        return protocol.EXIT_OK
    status = protocol.EXIT_OK
    try:
        runpy.run_path(path, run_name="__main__")
    except StopScript:
        pass
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except BaseException as exc:  # noqa: BLE001 - the script's failure, reported with its traceback
        if detector.stopping:  # the stop was delivered inside a library that re-raised it differently
            pass
        else:
            tb = _script_traceback(exc, path)
            sys.stderr.write(tb)
            sys.stderr.flush()
            _error(writer, type(exc).__name__, str(exc) or type(exc).__name__, tb)
            return protocol.EXIT_ERROR
    finally:
        api.activate(None)
        sys.stdout.flush()
    detector.stopping = True
    for _ in range(3):  # a stop raised from another thread may still be pending: drop it
        try:
            detector.clear_async_stop()
            break
        except StopScript:
            continue
    driver.bye()
    if control.parent_gone:
        return protocol.EXIT_PARENT_GONE
    return status
