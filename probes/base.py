"""The probe interface: a sampler of devices or processes, run off the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field

DEFAULT_INTERVAL = 0.5  # seconds: 2 Hz (NVML averages utilization over 1/6 to 1 s anyway)
MIN_INTERVAL = 0.1


@dataclass(frozen=True)
class Sample:
    """One reading. ``target`` is what was measured: ``host``, a device (``gpu:0``)
    or a watched workload's id. A value of None means "n/a" for that field."""

    t: float
    probe: str
    target: str
    values: dict = field(default_factory=dict)


class Probe:
    """Base class. ``sample()`` may block (it runs in a thread) but never raises:
    a failing field becomes None and ``status`` / ``notes`` say why, once."""

    name = "probe"
    interval = DEFAULT_INTERVAL  # seconds between samples

    def __init__(self) -> None:
        self.available = True
        self.status = "ok"  # or the reason the probe's figures are n/a
        self.notes: list[str] = []  # why particular fields are n/a (each said once)
        self._roots: dict[str, int] = {}
        self._devices: dict[str, str] = {}

    def watch(self, roots: dict[str, int], devices: dict[str, str] | None = None) -> None:
        """Set the processes to attribute figures to: ``{workload_id: root_pid}``, and the
        device each workload asked for or reported (``{workload_id: "cuda:0"}``)."""
        self._roots = dict(roots)
        if devices is not None:
            self._devices = dict(devices)

    def note(self, message: str) -> None:
        """Record why something is n/a; each distinct message is kept (and shown) once."""
        if message not in self.notes:
            self.notes.append(message)

    def start(self) -> None:
        pass

    def sample(self) -> list[Sample]:
        return []

    def close(self) -> None:
        pass
