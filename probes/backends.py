"""Which device backends this machine has, found without importing any framework
and without initialising CUDA: NVML (nvidia-ml-py), amdsmi, Apple MPS, the host CPU."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field

import psutil


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


def nvml_backend() -> Backend:
    try:
        import pynvml  # nvidia-ml-py: talks to the driver, never initialises CUDA
    except ImportError:
        return Backend("cuda", False, "n/a: nvidia-ml-py is not installed (pip install nvidia-ml-py)")
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        return Backend("cuda", False, f"n/a: no NVIDIA driver ({exc})")
    try:
        driver = pynvml.nvmlSystemGetDriverVersion()
        devices = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            mem = pynvml.nvmlDeviceGetMemoryInfo(h).total / 2**30
            devices.append(f"{i}: {name}, {mem:.0f} GiB")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        detail = f"driver {driver}" + (f", CUDA_VISIBLE_DEVICES={visible}" if visible is not None else "")
        return Backend("cuda", bool(devices), detail if devices else f"n/a: driver {driver} sees no GPU", devices)
    except Exception as exc:  # noqa: BLE001
        return Backend("cuda", False, f"n/a: NVML query failed ({exc})")
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def rocm_backend() -> Backend:
    try:
        import amdsmi
    except ImportError:
        return Backend("rocm", False, "n/a: amdsmi is not installed (it ships with ROCm)")
    except Exception as exc:  # noqa: BLE001 - amdsmi raises if the ROCm library is missing
        return Backend("rocm", False, f"n/a: amdsmi failed to load ({exc})")
    try:
        amdsmi.amdsmi_init()
        handles = amdsmi.amdsmi_get_processor_handles()
        devices = []
        for i, h in enumerate(handles):
            try:
                name = amdsmi.amdsmi_get_gpu_asic_info(h).get("market_name", "AMD GPU")
            except Exception:  # noqa: BLE001
                name = "AMD GPU"
            devices.append(f"{i}: {name}")
        return Backend("rocm", bool(devices), "amdsmi" if devices else "n/a: amdsmi sees no GPU", devices)
    except Exception as exc:  # noqa: BLE001
        return Backend("rocm", False, f"n/a: amdsmi query failed ({exc})")
    finally:
        try:
            amdsmi.amdsmi_shut_down()
        except Exception:  # noqa: BLE001
            pass


def mps_backend() -> Backend:
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return Backend("mps", True, "Apple silicon (Metal); figures come from inside torch workloads", ["0: Apple GPU"])
    return Backend("mps", False, "n/a: not macOS on Apple silicon")


def find_backends() -> list[Backend]:
    return [cpu_backend(), nvml_backend(), rocm_backend(), mps_backend()]
