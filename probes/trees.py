"""Process trees of watched workloads, rescanned at most every ``refresh`` seconds.

Finding a process's descendants means reading every process on the machine
(psutil builds the parent map from /proc), which is most of a probe's sample()
time; the members of a tree change rarely (data-loader workers start with the
workload), so between rescans the cached PIDs are used and dead ones skipped.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # psutil is imported at the first rescan, not with the probes
    import psutil

REFRESH_S = 2.0
# The child bootstrap forks a guard process of this name (workloads/child/bootstrap.py) that
# ends the workload's process group when the workload dies; it is fwtop's, not the workload's.
GUARD_NAME = "fwtop-guard"


def is_guard(proc: psutil.Process) -> bool:
    import psutil

    try:
        return proc.name() == GUARD_NAME
    except psutil.Error:
        return False


class TreeCache:
    def __init__(self, refresh: float = REFRESH_S) -> None:
        self.refresh = refresh
        self._trees: dict[int, tuple[float, list[int]]] = {}

    def pids(self, root: int) -> list[int]:
        """The root and its descendants (the root first); [] once the root is gone."""
        now = time.monotonic()
        cached = self._trees.get(root)
        if cached is not None and now - cached[0] < self.refresh:
            return cached[1]
        import psutil

        try:
            pids = [root] + [c.pid for c in psutil.Process(root).children(recursive=True) if not is_guard(c)]
        except psutil.Error:
            pids = []
        self._trees[root] = (now, pids)
        return pids

    def forget_except(self, roots) -> None:
        keep = set(roots)
        for root in [r for r in self._trees if r not in keep]:
            del self._trees[root]
