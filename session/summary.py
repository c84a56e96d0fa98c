"""Summary statistics of a session (summary.json and the comparison table)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fwtop import __version__

from .stats import throughput

if TYPE_CHECKING:
    from .session import Session, Workload


def workload_summary(session: Session, w: Workload) -> dict:
    """One workload's statistics, as written to summary.json."""
    series = session.timeline.steps(w.id)
    hello = w.hello or {}
    st = series.stats(exact=True)
    host_peaks = session.timeline.peaks.get(("host", w.id), {})
    flops = hello.get("flops_per_step")
    tflops = throughput(flops, series.steady_count, series.steady_time)
    last = series.last
    return {
        "id": w.id,
        "label": w.label,
        "framework": hello.get("framework") or w.spec.framework,  # a script's: the framework it imported
        "framework_version": hello.get("framework_version"),
        "model": w.spec.model,
        "script": w.spec.script or None,
        "sizes": w.spec.resolved_sizes,
        "device": hello.get("device") or w.spec.device,
        "device_name": hello.get("device_name"),
        "dtype": w.spec.dtype,
        "compile": w.spec.compile,
        "python": w.spec.python,
        "params": hello.get("params"),
        "flops_per_step": flops,
        "preallocates": hello.get("preallocates"),
        "state": w.state,
        "reason": w.reason,
        "exit_code": w.exit_code,
        "steps": series.count,
        "steady_steps": series.steady_count,
        "excluded_steps": series.excluded,
        "step_time_s": st,
        "samples_per_s": throughput(last.samples if last else None, series.steady_count, series.steady_time),
        "tokens_per_s": throughput(last.tokens if last else None, series.steady_count, series.steady_time),
        "tflops": tflops / 1e12 if tflops else None,
        "first_step_s": (w.compile or {}).get("first_step_s"),
        "time_to_first_step_s": (w.compile or {}).get("since_start_s"),
        "final_loss": last.loss if last else None,
        "peak_memory": {
            "framework_allocated": series.mem_peak.get("peak", series.mem_peak.get("allocated")),
            "framework_reserved": series.mem_peak.get("reserved"),
            "device_used": device_peak(session, w.id),
            "host_rss": host_peaks.get("rss"),
        },
        "energy": energy_summary(session, w.id),
        "invalid_lines": w.invalid,
    }


def device_peak(session: Session, wid: str) -> int | None:
    """Peak GPU memory the device reported for the workload's process tree (NVML/amdsmi)."""
    probe = session.timeline.device_probe(wid)
    return session.timeline.peaks.get((probe, wid), {}).get("gpu_mem") if probe else None


def energy_summary(session: Session, wid: str) -> dict | None:
    """Energy of the steady steps from the device's energy counter; None without one."""
    e = session.timeline.energy.workloads.get(wid)
    if e is None or not session.timeline.energy.has_counter(wid):
        return None
    return {
        "per_step_j": e.per_step_j,
        "avg_power_w": e.avg_power_w,
        "total_j": e.joules,
        "steps_measured": e.steps,
        "devices": [f"{probe} {target}" for probe, target in e.devices],
        "shared_with": [session.get(o).label for o in session.timeline.energy.shared(wid) if _known(session, o)],
    }


def _known(session: Session, wid: str) -> bool:
    return any(w.id == wid for w in session.workloads)


def session_summary(session: Session) -> dict:
    """The whole session: every workload, ratios to the first, failures, the run directory."""
    workloads = [workload_summary(session, w) for w in session.workloads]
    base = next((s for s in workloads if s["step_time_s"]["median"]), None)
    for s in workloads:
        med = s["step_time_s"]["median"]
        s["ratio_to_first"] = med / base["step_time_s"]["median"] if (base and med) else None
    return {
        "fwtop": __version__,
        "name": session.name,
        "run_dir": str(session.rundir.path) if session.rundir else None,
        "recording_error": session.rundir.error if session.rundir else None,
        "started": session.started_at,
        "ended": session.ended_at,
        "sequential": session.sequential,
        "baseline": base["label"] if base else None,
        "workloads": workloads,
        "failed": [w.label for w in session.failed],
        "warnings": list(session.warnings),
        "probes": session.probe_notes(),
        "captures": session.traces.to_list(),
        **({"traces_dir": str(session.traces.root(None))} if session.traces.temporary else {}),
    }
