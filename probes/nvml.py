"""NVML probe (nvidia-ml-py, whose module is ``pynvml``): per-device utilization, memory,
power, energy counter, temperature and clocks, and per-process GPU memory attributed to
each workload's whole process tree.

It talks to the driver only: NVML never initialises CUDA in fwtop. Every failure
degrades: no library or driver makes the probe unavailable with the reason; a field the
GPU or driver does not support is None ("n/a") with the reason noted once, and is not
asked again. Old drivers without the ``_v3``/``_v2`` process calls fall back to v1; MIG
instances are their own targets (``gpu:0/mig:1``); PIDs from another PID namespace (a
container without ``--pid=host``) are detected and said once.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import time

from . import gpu
from .base import DEFAULT_INTERVAL, Probe, Sample
from .trees import TreeCache

PROCESS_CALLS = (
    "nvmlDeviceGetComputeRunningProcesses_v3",
    "nvmlDeviceGetComputeRunningProcesses_v2",
    "v1",  # nvmlDeviceGetComputeRunningProcesses, called through ctypes below
)
NAMESPACE_NOTE = (
    "NVML lists process IDs from another PID namespace (a container without --pid=host?): "
    "per-process GPU memory is n/a, the panels show the framework's own figures"
)


def load_nvml():
    """(the pynvml module, '') or (None, why it is n/a). Importing it loads no driver."""
    if sys.platform == "darwin":
        return None, "no NVIDIA driver on macOS"
    try:
        import pynvml
    except ImportError:
        return None, "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
    except Exception as exc:  # noqa: BLE001 - a broken install must not break fwtop
        return None, f"nvidia-ml-py failed to import ({type(exc).__name__}: {exc})"
    return pynvml, ""


def init_error(exc: Exception) -> str:
    """nvmlInit's exception -> a line for the user."""
    kind = type(exc).__name__
    if kind.endswith("LibraryNotFound"):
        return "no NVIDIA driver (libnvidia-ml.so not found)"
    if kind.endswith("DriverNotLoaded"):
        return "the NVIDIA driver is not loaded"
    if kind.endswith("NoPermission"):
        return "no permission to use the NVIDIA driver"
    return f"nvmlInit failed ({exc})"


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def error_code(nvml, exc: Exception):
    return getattr(exc, "value", None) if isinstance(exc, nvml.NVMLError) else None


def is_missing(nvml, exc: Exception) -> bool:
    """Not supported by this GPU, or not present in this driver: asking again will not help."""
    return error_code(nvml, exc) in (nvml.NVML_ERROR_NOT_SUPPORTED, nvml.NVML_ERROR_FUNCTION_NOT_FOUND)


class _ProcV1(ctypes.Structure):
    # nvmlProcessInfo_v1_t from nvml.h (drivers before the _v2 calls): pid, usedGpuMemory.
    _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong)]


def _processes_v1(nvml, handle) -> list[tuple[int, int | None]]:
    fn = nvml._nvmlGetFunctionPointer("nvmlDeviceGetComputeRunningProcesses")
    count = ctypes.c_uint(0)
    ret = fn(handle, ctypes.byref(count), None)
    if ret == nvml.NVML_SUCCESS:
        return []
    if ret != nvml.NVML_ERROR_INSUFFICIENT_SIZE:
        raise nvml.NVMLError(ret)
    count.value = count.value * 2 + 5
    procs = (_ProcV1 * count.value)()
    ret = fn(handle, ctypes.byref(count), procs)
    if ret != nvml.NVML_SUCCESS:
        raise nvml.NVMLError(ret)
    na = nvml.NVML_VALUE_NOT_AVAILABLE_ulonglong.value
    return [(p.pid, None if p.usedGpuMemory == na else p.usedGpuMemory) for p in procs[: count.value]]


def compute_processes(nvml, handle, state: dict) -> list[tuple[int, int | None]]:
    """(pid, bytes or None) of the compute processes on a device, through the newest call
    the driver has: _v3, then _v2, then v1. ``state["call"]`` remembers the one that worked;
    raises the last error if none does."""
    calls = PROCESS_CALLS[PROCESS_CALLS.index(state["call"]) :] if state.get("call") else PROCESS_CALLS
    last: Exception | None = None
    for call in calls:
        try:
            if call == "v1":
                procs = _processes_v1(nvml, handle)
            else:
                procs = [(int(p.pid), p.usedGpuMemory) for p in getattr(nvml, call)(handle)]
        except (nvml.NVMLError, AttributeError) as exc:
            if isinstance(exc, AttributeError) or error_code(nvml, exc) == nvml.NVML_ERROR_FUNCTION_NOT_FOUND:
                last = exc
                continue  # an older driver (or binding): try the previous version of the call
            raise
        state["call"] = call
        return procs
    raise last if last is not None else RuntimeError("no process call")


class NvmlProbe(Probe):
    name = "nvml"

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self.nvml = None
        self.driver = ""
        self.devices: list[gpu.DeviceId] = []  # physical GPUs and MIG instances
        self._handles: dict[str, object] = {}
        self._mig_parents: set[str] = set()  # GPUs in MIG mode: processes are listed per instance
        self._missing: set[tuple[str, str]] = set()  # (target, field) the GPU/driver does not have
        self._proc_state: dict = {}
        self._envs: dict[int, dict] = {}
        self._trees = TreeCache()
        self._lock = threading.Lock()  # close() waits for a sample still running in its thread

    # -- set-up ----------------------------------------------------------------------

    def start(self) -> None:
        nvml, why = load_nvml()
        if nvml is None:
            self.available, self.status = False, f"nvml n/a: {why}"
            return
        try:
            nvml.nvmlInit()
        except Exception as exc:  # noqa: BLE001 - NVMLError_* or OSError from the loader
            self.available, self.status = False, f"nvml n/a: {init_error(exc)}"
            return
        self.nvml = nvml
        try:
            self.driver = _text(nvml.nvmlSystemGetDriverVersion())
        except Exception:  # noqa: BLE001
            self.driver = ""
        try:
            for i in range(nvml.nvmlDeviceGetCount()):
                self._add_device(i)
        except Exception as exc:  # noqa: BLE001
            self.available, self.status = False, f"nvml n/a: cannot list GPUs ({exc})"
            return
        if not self.devices:
            self.available, self.status = False, "nvml n/a: the driver sees no GPU"

    def _add_device(self, i: int) -> None:
        nvml = self.nvml
        h = nvml.nvmlDeviceGetHandleByIndex(i)
        dev = gpu.DeviceId(i, _text(nvml.nvmlDeviceGetUUID(h)), _text(nvml.nvmlDeviceGetName(h)), f"gpu:{i}")
        self.devices.append(dev)
        self._handles[dev.key] = h
        try:
            mig_on = nvml.nvmlDeviceGetMigMode(h)[0] == nvml.NVML_DEVICE_MIG_ENABLE
        except Exception:  # noqa: BLE001 - not a MIG-capable GPU (NotSupported) or an old driver
            mig_on = False
        if not mig_on:
            return
        self._mig_parents.add(dev.key)
        for j in range(nvml.nvmlDeviceGetMaxMigDeviceCount(h)):
            try:
                mh = nvml.nvmlDeviceGetMigDeviceHandleByIndex(h, j)
            except Exception:  # noqa: BLE001 - NotFound: an empty slot
                continue
            mig = gpu.DeviceId(-1, _text(nvml.nvmlDeviceGetUUID(mh)), f"{dev.name} MIG {j}", f"{dev.key}/mig:{j}")
            self.devices.append(mig)
            self._handles[mig.key] = mh
        self.note(f"{dev.key} is in MIG mode: utilization, power and energy are per GPU, memory per instance")

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass
            self.nvml = None

    # -- sampling ----------------------------------------------------------------------

    def _q(self, target: str, field: str, call: str, *args):
        """One NVML query by name: its value, or None with the reason noted once. A call the
        GPU does not support, or the driver or binding lacks, is not asked again."""
        if (target, field) in self._missing:
            return None
        try:
            return getattr(self.nvml, call)(*args)
        except AttributeError:
            self._missing.add((target, field))
            self.note(f"{target} {field} n/a ({call} is not in this nvidia-ml-py)")
            return None
        except Exception as exc:  # noqa: BLE001 - any NVML error makes this one field n/a
            if self.nvml is not None and is_missing(self.nvml, exc):
                self._missing.add((target, field))
            self.note(f"{target} {field} n/a ({exc})")
            return None

    def _device_values(self, dev: gpu.DeviceId) -> dict:
        nvml, h, k = self.nvml, self._handles[dev.key], dev.key
        mem = self._q(k, "memory", "nvmlDeviceGetMemoryInfo", h)
        values = {
            "name": dev.name,
            "uuid": dev.uuid,
            "mem_used": int(mem.used) if mem is not None else None,
            "mem_total": int(mem.total) if mem is not None else None,
        }
        if dev.index < 0:  # a MIG instance: the rest is per physical GPU
            return values
        util = self._q(k, "utilization", "nvmlDeviceGetUtilizationRates", h)
        power = self._q(k, "power", "nvmlDeviceGetPowerUsage", h)
        limit = self._q(k, "power limit", "nvmlDeviceGetEnforcedPowerLimit", h)
        energy = self._q(k, "energy counter", "nvmlDeviceGetTotalEnergyConsumption", h)
        values.update(
            {
                "util_gpu": util.gpu if util is not None else None,
                "util_mem": util.memory if util is not None else None,
                "power_w": power / 1000.0 if power is not None else None,
                "power_limit_w": limit / 1000.0 if limit is not None else None,
                "energy_j": energy / 1000.0 if energy is not None else None,
                "temp_c": self._q(k, "temperature", "nvmlDeviceGetTemperature", h, nvml.NVML_TEMPERATURE_GPU),
                "sm_clock_mhz": self._q(k, "SM clock", "nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_SM),
                "mem_clock_mhz": self._q(k, "memory clock", "nvmlDeviceGetClockInfo", h, nvml.NVML_CLOCK_MEM),
            }
        )
        return values

    def _processes(self, dev: gpu.DeviceId):
        if dev.key in self._mig_parents:
            return None  # listed per MIG instance instead (no double counting)
        if (dev.key, "processes") in self._missing:
            return None
        try:
            return compute_processes(self.nvml, self._handles[dev.key], self._proc_state)
        except Exception as exc:  # noqa: BLE001
            if self.nvml is not None and (isinstance(exc, AttributeError) or is_missing(self.nvml, exc)):
                self._missing.add((dev.key, "processes"))
            self.note(f"{dev.key} per-process memory n/a ({exc})")
            return None

    def _env(self, pid: int) -> dict:
        env = self._envs.get(pid)
        if env is None:
            env = self._envs[pid] = gpu.process_env(pid)
        return env

    def sample(self) -> list[Sample]:
        with self._lock:
            return self._sample()

    def _sample(self) -> list[Sample]:
        if self.nvml is None:
            return []
        now = time.time()
        out: list[Sample] = []
        procs_by_dev: dict[str, list[tuple[int, int | None]]] = {}
        for dev in self.devices:
            out.append(Sample(now, self.name, dev.key, self._device_values(dev)))
            procs = self._processes(dev)
            if procs is not None:
                procs_by_dev[dev.key] = procs
        out += self.workload_samples(now, procs_by_dev)
        return out

    def workload_samples(self, now: float, procs_by_dev: dict) -> list[Sample]:
        """Per watched workload: its tree's GPU memory, and which device(s) it uses."""
        trees = {wid: set(self._trees.pids(pid)) for wid, pid in self._roots.items()}
        found = gpu.attribute(procs_by_dev, trees)
        foreign = gpu.foreign_pids(procs_by_dev) if len(found) < len(trees) else []
        out = []
        for wid, pid in self._roots.items():
            per_dev = found.get(wid)
            if per_dev:
                out.append(Sample(now, self.name, wid, gpu.tree_values(per_dev)))
                continue
            dev, note = gpu.map_ordinal(self._devices.get(wid), self._env(pid), self.devices)
            if note:
                self.note(f"{wid}: {note}")
            if dev is None:
                continue
            if foreign:
                self.note(NAMESPACE_NOTE)
            out.append(Sample(now, self.name, wid, gpu.mapped_values(dev, "CUDA_VISIBLE_DEVICES")))
        for pid in list(self._envs):
            if pid not in self._roots.values():
                del self._envs[pid]
        return out
