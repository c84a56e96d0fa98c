"""The device strip's text: the host, then one line per GPU (NVML or amdsmi), then what is
n/a and why (each reason once)."""

from __future__ import annotations

from fwtop.session.session import Session

from .format import fmt_bytes

GPU_PROBES = ("nvml", "amdsmi")
MAX_DEVICE_LINES = 8


def _num(v, fmt: str, unit: str = "") -> str:
    return "n/a" if v is None else f"{v:{fmt}}{unit}"


def gpu_line(target: str, v: dict) -> str:
    """One GPU: utilization, memory, power, temperature, clocks; n/a where not reported."""
    mem = f"{fmt_bytes(v.get('mem_used'))} / {fmt_bytes(v.get('mem_total'))}"
    parts = [f"{target} {v.get('name') or ''}".rstrip(), f"mem {mem}"]
    if "util_gpu" in v:  # a MIG instance reports memory only
        parts[1:1] = [f"util {_num(v.get('util_gpu'), '.0f', '%')} (mem {_num(v.get('util_mem'), '.0f', '%')})"]
        power = _num(v.get("power_w"), ".0f")
        limit = v.get("power_limit_w")
        parts.append(f"{power}" + (f"/{limit:.0f}" if limit is not None else "") + " W")
        parts.append(_num(v.get("temp_c"), ".0f", "\u00b0C"))
        parts.append(f"SM {_num(v.get('sm_clock_mhz'), '.0f')} / mem {_num(v.get('mem_clock_mhz'), '.0f')} MHz")
    return "  ".join(parts)


def device_lines(session: Session) -> list[str]:
    tl = session.timeline
    host = tl.latest("host", "host")
    if host is None:
        lines = ["host: waiting for the first sample"]
    else:
        v = host.values
        lines = [
            f"host CPU {v.get('cpu_percent') or 0:5.1f}% of {v.get('cpu_count')} cores   "
            f"RAM {fmt_bytes(v.get('mem_used'))} / {fmt_bytes(v.get('mem_total'))}"
        ]
    wids = {w.id for w in session.workloads}
    for probe in GPU_PROBES:
        for target in tl.targets(probe):
            if target in wids or target == "status":
                continue
            s = tl.latest(probe, target)
            if s is not None and len(lines) <= MAX_DEVICE_LINES:
                lines.append(gpu_line(target, s.values))
    notes = session.probe_notes()
    if session.rundir is not None and session.rundir.error:
        notes.append(session.rundir.error)
    if notes:
        lines.append("; ".join(notes))
    return lines
