"""The probe interface: a sampler of devices or processes, run off the event loop."""

from __future__ import annotations

from dataclasses import dataclass, field


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
    a failing field becomes None and ``status`` says why."""

    name = "probe"
    interval = 0.5  # seconds between samples

    def __init__(self) -> None:
        self.available = True
        self.status = "ok"  # or the reason the probe's figures are n/a
        self._roots: dict[str, int] = {}

    def watch(self, roots: dict[str, int]) -> None:
        """Set the processes to attribute figures to: ``{workload_id: root_pid}``."""
        self._roots = dict(roots)

    def start(self) -> None:
        pass

    def sample(self) -> list[Sample]:
        return []

    def close(self) -> None:
        pass
