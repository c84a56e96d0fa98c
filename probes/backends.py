"""Which device backends this machine has, found without importing any framework
and without initialising CUDA: NVML (nvidia-ml-py), amdsmi, Apple MPS, the host CPU."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

import psutil

from .gpu import parse_visible_devices


@dataclass(frozen=True)
class Backend:
    name: str  # cpu, cuda, rocm, mps
    available: bool
    detail: str  # what was found, or why it is n/a
    devices: list = field(default_factory=list)  # human-readable device lines


def _cpu_name() -> str:
    # The child side has its own copy (workloads/child/common.py: it runs without fwtop installed),
    # and probes may not import workloads.
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def cpu_backend() -> Backend:
    mem = psutil.virtual_memory().total / 2**30
    cores = psutil.cpu_count(logical=True) or os.cpu_count() or 1
    return Backend("cpu", True, f"{cores} cores, {mem:.1f} GiB RAM", [_cpu_name()])


def _gpu_backend(kind: str, probe) -> Backend:
    """Start a GPU probe once, take one sample, and describe what it sees (or why it is n/a)."""
    try:
        probe.start()
        if not probe.available:
            return Backend(kind, False, "n/a: " + probe.status.split("n/a: ", 1)[-1])
        samples = probe.sample()
        devices = []
        for s in samples:
            v = s.values
            if "mem_total" not in v:
                continue
            total = v.get("mem_total")
            line = f"{s.target}: {v.get('name')}, " + (f"{total / 2**30:.0f} GiB" if total else "memory n/a")
            if "util_gpu" in v:
                line += ", energy counter " + ("yes" if v.get("energy_j") is not None else "n/a")
            devices.append(line)
        detail = f"{probe.name}: {len(devices)} device(s)"
        if getattr(probe, "driver", ""):
            detail += f", driver {probe.driver}"
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if kind == "cuda" and visible is not None:
            shown, note = parse_visible_devices(visible, probe.devices)
            order = ", ".join(f"cuda:{n} = {d.key}" for n, d in enumerate(shown)) or "none"
            detail += f", CUDA_VISIBLE_DEVICES={visible}: {order}" + (f" ({note})" if note else "")
        devices += [f"n/a: {note}" for note in probe.notes]
        return Backend(kind, bool(samples), detail, devices)
    except Exception as exc:  # noqa: BLE001 - `fwtop devices` never shows a traceback
        return Backend(kind, False, f"n/a: {probe.name} query failed ({exc})")
    finally:
        probe.close()


def nvml_backend() -> Backend:
    from .nvml import NvmlProbe  # nvidia-ml-py talks to the driver, never initialises CUDA

    return _gpu_backend("cuda", NvmlProbe())


def rocm_backend() -> Backend:
    from .amdsmi import AmdSmiProbe

    return _gpu_backend("rocm", AmdSmiProbe())


def mps_backend() -> Backend:
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return Backend(
            "mps",
            True,
            "Apple silicon (Metal): memory figures come from inside torch workloads (torch.mps), the rest from the host",
            ["0: Apple GPU"],
        )
    return Backend("mps", False, "n/a: not macOS on Apple silicon")


def find_backends() -> list[Backend]:
    return [cpu_backend(), nvml_backend(), rocm_backend(), mps_backend()]
