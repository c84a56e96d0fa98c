"""What the GPU probes (nvml.py, amdsmi.py) share: mapping a workload's ``cuda:N`` to a
physical device through CUDA_VISIBLE_DEVICES, and attributing per-process device memory
to each workload's whole process tree. Pure functions: unit-tested without a GPU."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceId:
    """A physical device as the management library enumerates it."""

    index: int  # the library's index (NVML enumerates in PCI bus order)
    uuid: str  # GPU-..., MIG-..., or the AMD UUID
    name: str = ""
    target: str = ""  # the Sample target, e.g. gpu:0 or gpu:0/mig:1

    @property
    def key(self) -> str:
        return self.target or f"gpu:{self.index}"


def parse_visible_devices(value: str | None, devices: list[DeviceId]) -> tuple[list[DeviceId], str]:
    """CUDA's view of ``devices`` under ``CUDA_VISIBLE_DEVICES=value``: position N is ``cuda:N``.

    Follows the CUDA rules: unset means every device in order; entries are indices or
    (unique prefixes of) GPU-/MIG- UUIDs, separated by commas; the list ends at the
    first entry that names no device (a bad, repeated or ambiguous entry hides it and
    every one after it). Returns the visible devices and a note ('' when all is clean).
    """
    if value is None:
        return list(devices), ""
    out: list[DeviceId] = []
    text = value.strip()
    if not text:
        return [], "CUDA_VISIBLE_DEVICES is empty: no device is visible"
    for raw in text.split(","):
        entry = raw.strip()
        found: DeviceId | None = None
        if entry.lstrip("-").isdigit():
            n = int(entry)
            found = next((d for d in devices if d.index == n), None) if n >= 0 else None
        elif entry:
            matches = [d for d in devices if d.uuid.lower().startswith(entry.lower())]
            found = matches[0] if len(matches) == 1 else None
        if found is None or found in out:
            why = "repeated" if found is not None else "unknown or ambiguous"
            return out, f"CUDA_VISIBLE_DEVICES entry {entry!r} is {why}: CUDA stops the list there"
        out.append(found)
    return out, ""


def map_ordinal(device: str | None, env: dict, devices: list[DeviceId], var: str = "CUDA_VISIBLE_DEVICES"):
    """A workload's device string (``cuda:1``, ``rocm``) -> (physical DeviceId or None, note)."""
    kind, _, idx = (device or "").partition(":")
    if kind not in ("cuda", "rocm"):
        return None, ""
    ordinal = int(idx) if idx.isdigit() else 0
    visible, note = parse_visible_devices(env.get(var), devices)
    if var == "CUDA_VISIBLE_DEVICES" and env.get("CUDA_DEVICE_ORDER", "FASTEST_FIRST") != "PCI_BUS_ID":
        names = {d.name for d in visible}
        if len(names) > 1:
            note = (note + "; " if note else "") + (
                "CUDA_DEVICE_ORDER is not PCI_BUS_ID and the GPUs differ: CUDA may number them differently"
            )
    if ordinal >= len(visible):
        return None, note or f"{device} is not among the {len(visible)} visible device(s)"
    return visible[ordinal], note


def process_env(pid: int) -> dict:
    """The environment a process was started with (/proc/PID/environ); {} if it cannot be read."""
    import psutil  # at first use: the dashboard draws its first frame before any probe samples

    try:
        return psutil.Process(pid).environ()
    except (psutil.Error, OSError):
        return {}


def attribute(
    procs_by_device: dict[str, list[tuple[int, int | None]]], trees: dict[str, set[int]]
) -> dict[str, dict[str, tuple[int | None, int]]]:
    """Per workload, per device: (bytes used by the workload's tree or None if the library
    gave no figure, number of the tree's processes found). Only devices where at least one
    process of the tree was listed appear."""
    out: dict[str, dict[str, tuple[int | None, int]]] = {}
    for wid, pids in trees.items():
        for dev, procs in procs_by_device.items():
            total: int | None = 0
            found = 0
            seen: set[int] = set()
            for pid, used in procs:
                if pid not in pids or pid in seen:
                    continue
                seen.add(pid)
                found += 1
                total = None if used is None or total is None else total + used
            if found:
                out.setdefault(wid, {})[dev] = (total, found)
    return out


def tree_values(per_device: dict[str, tuple[int | None, int]]) -> dict:
    """A workload's sample from ``attribute``'s entry for it: memory summed over its devices."""
    used = [u for u, _ in per_device.values()]
    return {
        "gpu_mem": None if any(u is None for u in used) else sum(used),
        "devices": sorted(per_device),
        "pids": sum(n for _, n in per_device.values()),
        "mapped_by": "processes",
    }


def mapped_values(dev: DeviceId, var: str) -> dict:
    """A workload's sample when its processes were not listed but its visible-devices
    variable ``var`` maps it to ``dev``: the device, no memory figure of its own."""
    return {"gpu_mem": None, "devices": [dev.key], "pids": 0, "mapped_by": var}


def foreign_pids(procs_by_device: dict[str, list[tuple[int, int | None]]]) -> list[int]:
    """Listed PIDs that do not exist in this PID namespace: the library sees another one
    (a container without --pid=host), so no PID of ours can be matched."""
    import psutil

    pids = {pid for procs in procs_by_device.values() for pid, _ in procs}
    return sorted(p for p in pids if not psutil.pid_exists(p))
