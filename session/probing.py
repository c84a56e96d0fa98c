"""Driving one probe: started and sampled in a thread (never on the event loop), at its own
fixed rate, with every failure turned into a status the user sees instead of an exception."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from fwtop.probes.base import Probe, Sample


async def run_probe(
    probe: Probe,
    on_samples: Callable[[list[Sample]], None],
    on_status: Callable[[Probe], None],
) -> None:
    """Start ``probe`` in a thread, then sample it every ``probe.interval`` seconds until
    cancelled; closed at the end. ``on_status`` is called when the probe starts (available
    or not, with the reason), when it fails, and whenever it notes a new n/a field."""
    try:
        await asyncio.to_thread(probe.start)
        on_status(probe)
        if probe.available:
            await sample_loop(probe, on_samples, on_status)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a broken probe is shown, never fatal
        probe.available = False
        probe.status = f"{probe.name} probe stopped: {type(exc).__name__}: {exc}"
        on_status(probe)
    finally:
        with contextlib.suppress(Exception):
            probe.close()


async def sample_loop(
    probe: Probe,
    on_samples: Callable[[list[Sample]], None],
    on_status: Callable[[Probe], None],
) -> None:
    """The sampling loop of a started probe: ``sample()`` in a thread on a fixed grid of
    ``probe.interval`` (a slow sample does not shift later ticks; missed ticks are skipped,
    never bunched). Raises what ``sample()`` raises."""
    loop = asyncio.get_running_loop()
    notes = len(probe.notes)
    next_t = loop.time()
    while True:
        samples = await asyncio.to_thread(probe.sample)
        if samples:
            on_samples(samples)
        if len(probe.notes) != notes:
            notes = len(probe.notes)
            on_status(probe)
        next_t += probe.interval
        now = loop.time()
        if next_t < now:
            next_t = now + probe.interval - (now - next_t) % probe.interval
        await asyncio.sleep(next_t - now)


def probe_notes(statuses: dict[str, dict]) -> list[str]:
    """What to tell the user about the probes, each thing once: unavailable probes with the
    reason, then fields that are n/a and why."""
    out: list[str] = []
    for st in statuses.values():
        if st.get("status") and st["status"] != "ok":
            out.append(str(st["status"]))
    for st in statuses.values():
        for note in st.get("notes") or []:
            if note not in out:
                out.append(str(note))
    return out
