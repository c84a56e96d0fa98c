"""ROCm probe through amdsmi (the Python bindings that ship with ROCm): per-device activity,
VRAM, power, energy counter, temperature and clocks, and per-process VRAM attributed to
each workload's process tree, behind the same interface as the NVML probe.

NOT VERIFIED ON HARDWARE: written against the documented amdsmi Python API (ROCm 6.x
and 7.x reference); on machines without ROCm the "library absent" path is what runs.
Field names and units follow that reference (power in W, energy accumulator times its
resolution in microjoules, memory usage in bytes); any call that fails makes its field
n/a with the reason noted once.
"""

from __future__ import annotations

import threading
import time

from . import gpu
from .base import DEFAULT_INTERVAL, Probe, Sample
from .trees import TreeCache


def load_amdsmi():
    """(the amdsmi module, '') or (None, why it is n/a)."""
    try:
        import amdsmi
    except ImportError:
        return None, "amdsmi is not installed (it ships with ROCm)"
    except Exception as exc:  # noqa: BLE001 - amdsmi raises when libamd_smi.so is missing
        return None, f"amdsmi failed to load ({type(exc).__name__}: {exc})"
    return amdsmi, ""


def _num(value):
    """amdsmi reports 'N/A' (a string) for unsupported values."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def process_entries(smi, handle) -> list[tuple[int, int | None]]:
    """(pid, VRAM bytes) per process. ROCm 6+ returns dicts; 5.7 returned process handles
    to pass to amdsmi_get_gpu_process_info."""
    out = []
    for entry in smi.amdsmi_get_gpu_process_list(handle):
        info = entry if isinstance(entry, dict) else smi.amdsmi_get_gpu_process_info(handle, entry)
        mem = info.get("memory_usage") or {}
        vram = _num(mem.get("vram_mem")) if isinstance(mem, dict) else None
        out.append((int(info.get("pid", -1)), vram if vram is not None else _num(info.get("mem"))))
    return out


def energy_joules(info: dict) -> float | None:
    """amdsmi_get_energy_count -> joules: accumulator x resolution is in microjoules
    (``power`` is the accumulator's name before ROCm 6.4)."""
    acc = _num(info.get("energy_accumulator", info.get("power")))
    res = _num(info.get("counter_resolution"))
    if acc is None or res is None:
        return None
    return acc * res / 1e6


class AmdSmiProbe(Probe):
    name = "amdsmi"

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self.smi = None
        self.devices: list[gpu.DeviceId] = []
        self._handles: dict[str, object] = {}
        self._missing: set[tuple[str, str]] = set()
        self._envs: dict[int, dict] = {}
        self._trees = TreeCache()
        self._lock = threading.Lock()  # close() waits for a sample still running in its thread

    def start(self) -> None:
        smi, why = load_amdsmi()
        if smi is None:
            self.available, self.status = False, f"amdsmi n/a: {why}"
            return
        try:
            smi.amdsmi_init()
            handles = smi.amdsmi_get_processor_handles()
        except Exception as exc:  # noqa: BLE001 - AmdSmiLibraryException: no driver
            self.available, self.status = False, f"amdsmi n/a: {exc}"
            return
        self.smi = smi
        for i, h in enumerate(handles):
            name = self._q(f"gpu:{i}", "name", lambda h=h: smi.amdsmi_get_gpu_asic_info(h).get("market_name"))
            uuid = self._q(f"gpu:{i}", "uuid", smi.amdsmi_get_gpu_device_uuid, h)
            dev = gpu.DeviceId(i, str(uuid or ""), str(name or "AMD GPU"), f"gpu:{i}")
            self.devices.append(dev)
            self._handles[dev.key] = h
        if not self.devices:
            self.available, self.status = False, "amdsmi n/a: no AMD GPU found"

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self.smi is not None:
            try:
                self.smi.amdsmi_shut_down()
            except Exception:  # noqa: BLE001
                pass
            self.smi = None

    def _q(self, target: str, field: str, fn, *args):
        if (target, field) in self._missing:
            return None
        try:
            return fn(*args)
        except Exception as exc:  # noqa: BLE001 - AmdSmiLibraryException and friends
            if "NOT_SUPPORTED" in str(exc).upper().replace(" ", "_"):
                self._missing.add((target, field))
            self.note(f"{target} {field} n/a ({exc})")
            return None

    def _device_values(self, dev: gpu.DeviceId) -> dict:
        smi, h, k = self.smi, self._handles[dev.key], dev.key
        activity = self._q(k, "activity", smi.amdsmi_get_gpu_activity, h) or {}
        power = self._q(k, "power", smi.amdsmi_get_power_info, h) or {}
        energy = self._q(k, "energy counter", smi.amdsmi_get_energy_count, h)
        vram = smi.AmdSmiMemoryType.VRAM
        temp = self._q(
            k,
            "temperature",
            smi.amdsmi_get_temp_metric,
            h,
            smi.AmdSmiTemperatureType.EDGE,
            smi.AmdSmiTemperatureMetric.CURRENT,
        )
        gfx = self._q(k, "GFX clock", smi.amdsmi_get_clock_info, h, smi.AmdSmiClkType.GFX) or {}
        mclk = self._q(k, "memory clock", smi.amdsmi_get_clock_info, h, smi.AmdSmiClkType.MEM) or {}
        current = _num(power.get("socket_power", power.get("current_socket_power")))
        if current is None:
            current = _num(power.get("average_socket_power"))
        return {
            "name": dev.name,
            "uuid": dev.uuid,
            "util_gpu": _num(activity.get("gfx_activity")),
            "util_mem": _num(activity.get("umc_activity")),
            "mem_used": _num(self._q(k, "VRAM used", smi.amdsmi_get_gpu_memory_usage, h, vram)),
            "mem_total": _num(self._q(k, "VRAM total", smi.amdsmi_get_gpu_memory_total, h, vram)),
            "power_w": current,
            "power_limit_w": _num(power.get("power_limit")),
            "energy_j": energy_joules(energy) if isinstance(energy, dict) else None,
            "temp_c": _num(temp),
            "sm_clock_mhz": _num(gfx.get("clk", gfx.get("cur_clk"))),
            "mem_clock_mhz": _num(mclk.get("clk", mclk.get("cur_clk"))),
        }

    def sample(self) -> list[Sample]:
        with self._lock:
            return self._sample()

    def _sample(self) -> list[Sample]:
        if self.smi is None:
            return []
        now = time.time()
        out, procs_by_dev = [], {}
        for dev in self.devices:
            try:
                values = self._device_values(dev)
            except Exception as exc:  # noqa: BLE001 - e.g. an enum this amdsmi version lacks
                self.note(f"{dev.key} figures n/a ({type(exc).__name__}: {exc})")
                values = {"name": dev.name, "uuid": dev.uuid}
            out.append(Sample(now, self.name, dev.key, values))
            procs = self._q(dev.key, "per-process memory", process_entries, self.smi, self._handles[dev.key])
            if procs is not None:
                procs_by_dev[dev.key] = procs
        trees = {wid: set(self._trees.pids(pid)) for wid, pid in self._roots.items()}
        found = gpu.attribute(procs_by_dev, trees)
        for wid, pid in self._roots.items():
            per_dev = found.get(wid)
            if per_dev:
                out.append(Sample(now, self.name, wid, gpu.tree_values(per_dev)))
                continue
            env = self._envs.setdefault(pid, gpu.process_env(pid))
            var = next((v for v in ("HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES") if v in env), "CUDA_VISIBLE_DEVICES")
            dev, note = gpu.map_ordinal(self._devices.get(wid), env, self.devices, var=var)
            if note:
                self.note(f"{wid}: {note}")
            if dev is not None:
                out.append(Sample(now, self.name, wid, gpu.mapped_values(dev, var)))
        return out
