"""The reference-workload loop: build a model in one framework, train it, report every step.

Timing is taken here, around ``workload.step()``; each framework module's
``step()`` returns only once the step's results are ready on the device
(synchronize / block_until_ready / a host read of the loss), so the measured
duration is honest for asynchronous devices too.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import platform
import sys
import time
import traceback

from . import capture, common, models, protocol
from . import steps as steps_mod


def _error(writer, exc_type: str, message: str, tb: str = "", **extra) -> None:
    writer.emit(
        "error", type=exc_type, message=protocol.truncate(message), traceback=protocol.truncate(tb), fatal=True, **extra
    )


def resolve(spec: dict) -> dict:
    """Validate and complete a spec (raises WorkloadError)."""
    fw = common.normalize_framework(spec.get("framework", ""))
    model = spec.get("model", "mlp")
    sizes = models.resolve_sizes(model, spec.get("sizes"))
    common.parse_device(spec.get("device", "auto"))
    return {
        "framework": fw,
        "model": model,
        "sizes": sizes,
        "device": spec.get("device", "auto"),
        "dtype": common.normalize_dtype(spec.get("dtype", "float32")),
        "compile": common.normalize_compile(fw, spec.get("compile")),
        "seed": int(spec.get("seed", 0)),
        "lr": float(spec.get("lr", models.ADAM["lr"])),
        "steps": int(spec.get("steps", 0)),
        "warmup": int(spec.get("warmup", 2)),
    }


def _load_framework_module(fw: str, writer):
    module_name = common.FRAMEWORK_MODULE[fw]
    if importlib.util.find_spec(module_name) is None:
        _error(
            writer,
            "FrameworkMissing",
            "%s is not installed in %s: pip install 'fwtop[%s]'" % (fw, sys.executable, common.FRAMEWORK_EXTRA[fw]),
        )
        return None
    try:
        return importlib.import_module(".fw_" + fw, __package__)
    except ImportError as exc:
        _error(
            writer,
            "FrameworkImportError",
            "%s failed to import in %s: %s" % (fw, sys.executable, exc),
            traceback.format_exc(),
        )
        return None


def run(spec: dict, writer, control, started: float) -> int:
    try:
        cfg = resolve(spec)
    except (common.WorkloadError, TypeError, ValueError) as exc:
        _error(writer, "WorkloadError", str(exc))
        return protocol.EXIT_USAGE
    fw, model = cfg["framework"], cfg["model"]
    info = models.describe(model, cfg["sizes"])

    mod = _load_framework_module(fw, writer)
    if mod is None:
        return protocol.EXIT_MISSING_FRAMEWORK
    try:
        workload = mod.build(cfg)
    except common.WorkloadError as exc:
        _error(writer, "WorkloadError", str(exc))
        return protocol.EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - reported to the parent, with its traceback
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        _error(writer, type(exc).__name__, str(exc) or type(exc).__name__, tb)
        return protocol.EXIT_ERROR

    writer.emit(
        "hello",
        pid=os.getpid(),
        python=sys.executable,
        python_version=platform.python_version(),
        framework=fw,
        framework_version=workload.version,
        device=workload.device,
        device_kind=workload.device_kind,
        device_name=workload.device_name,
        model=model,
        dtype=cfg["dtype"],
        compile=cfg["compile"],
        sizes=cfg["sizes"],
        params=workload.params,
        params_expected=info["params"],
        flops_per_step=info["flops_per_step"],
        samples_per_step=info["samples_per_step"],
        tokens_per_step=info["tokens_per_step"],
        steps=cfg["steps"],
        warmup=cfg["warmup"],
        seed=cfg["seed"],
        preallocates=workload.preallocates,
        started=started,
    )

    driver = steps_mod.StepDriver(writer, control, started, warmup=cfg["warmup"], memory=workload.memory)
    capture.install(driver, fw, workload.device_kind)
    steps = cfg["steps"]
    while steps <= 0 or driver.index < steps:
        if not driver.before_step():
            break
        try:
            t0 = time.perf_counter()
            loss = workload.step()
            duration = time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - a failing step fails the workload, with its traceback
            tb = traceback.format_exc()
            sys.stderr.write(tb)
            _error(writer, type(exc).__name__, str(exc) or type(exc).__name__, tb, step=driver.index)
            return protocol.EXIT_ERROR
        driver.after_step(duration, loss, info["samples_per_step"], info["tokens_per_step"])
    driver.bye()
    return protocol.EXIT_OK if not control.parent_gone else protocol.EXIT_PARENT_GONE
