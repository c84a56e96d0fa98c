"""A workload in a session: its spec, state, what the child said, its log."""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass, field

from fwtop.workloads.runner import Runner
from fwtop.workloads.spec import WorkloadSpec

LOG_LINES = 2000  # log lines kept in memory per workload (all of them go to the run directory)

# Workload states. A workload ends in finished, stopped or failed.
PENDING, STARTING, COMPILING, RUNNING, PAUSED = "pending", "starting", "compiling", "running", "paused"
STALLED = "stalled"  # no step for stall_after seconds; back to running at the next step
DEFAULT_STALL_AFTER = 300.0
FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
ENDED = (FINISHED, STOPPED, FAILED)


def describe_exit(rc: int) -> str:
    if rc < 0:
        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        return f"killed by {name}"
    return f"exited with status {rc}"


@dataclass
class Workload:
    id: str
    spec: WorkloadSpec
    state: str = PENDING
    hello: dict | None = None
    compile: dict | None = None
    error: dict | None = None
    bye: dict | None = None
    reason: str = ""
    exit_code: int | None = None
    invalid: int = 0
    last_invalid: str = ""
    notices: list = field(default_factory=list)
    log: deque = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    log_count: int = 0  # lines ever received (the deque keeps the last LOG_LINES)
    started_at: float | None = None
    ended_at: float | None = None
    runner: Runner | None = None
    stop_requested: bool = False
    last_progress: float = 0.0  # monotonic time of the start or the last step

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def ended(self) -> bool:
        return self.state in ENDED
