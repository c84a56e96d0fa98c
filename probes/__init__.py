"""Samplers of devices and processes behind one interface (base.Probe)."""

from __future__ import annotations

from .base import DEFAULT_INTERVAL, MIN_INTERVAL, Probe, Sample

PROBE_NAMES = ("host", "nvml", "amdsmi")


def default_probes(intervals: dict[str, float] | None = None) -> list[Probe]:
    """The host probe and both GPU probes, each at its own interval (seconds; default 2 Hz).
    A GPU probe whose library or driver is absent reports itself n/a when started."""
    from .amdsmi import AmdSmiProbe
    from .host import HostProbe
    from .nvml import NvmlProbe

    iv = {name: DEFAULT_INTERVAL for name in PROBE_NAMES}
    iv.update(intervals or {})
    return [HostProbe(iv["host"]), NvmlProbe(iv["nvml"]), AmdSmiProbe(iv["amdsmi"])]


__all__ = ["DEFAULT_INTERVAL", "MIN_INTERVAL", "PROBE_NAMES", "Probe", "Sample", "default_probes"]
