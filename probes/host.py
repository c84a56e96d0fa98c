"""Host probe (psutil): system CPU and memory, and CPU %, RSS and threads of each
watched workload's whole process tree (data-loader workers and grandchildren included).

psutil is imported when the probe starts (in the probe's thread), not when it is created:
the dashboard creates its probes before it opens and draws its first frame without them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from .base import DEFAULT_INTERVAL, Probe, Sample
from .trees import TreeCache

if TYPE_CHECKING:
    import psutil


class HostProbe(Probe):
    name = "host"

    def __init__(self, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__()
        self.interval = interval
        self._procs: dict[int, psutil.Process] = {}
        self._trees = TreeCache()
        self._cpu_count: int | None = None

    def start(self) -> None:
        import psutil

        self._cpu_count = psutil.cpu_count()
        psutil.cpu_percent(None)  # prime the system counter

    def _proc(self, pid: int) -> psutil.Process:
        # Cached so cpu_percent() measures since the previous sample of the same process.
        import psutil

        proc = self._procs.get(pid)
        if proc is None:
            proc = self._procs[pid] = psutil.Process(pid)
            proc.cpu_percent(None)
        return proc

    def _tree(self, pid: int) -> list[psutil.Process]:
        import psutil

        pids = self._trees.pids(pid)
        if not pids:
            raise psutil.NoSuchProcess(pid)
        procs = []
        for p in pids:
            try:
                procs.append(self._proc(p))
            except psutil.Error:
                continue  # exited since the last rescan
        return procs

    def sample(self) -> list[Sample]:
        import psutil

        now = time.time()
        out = []
        try:
            vm = psutil.virtual_memory()
            out.append(
                Sample(
                    now,
                    self.name,
                    "host",
                    {
                        "cpu_percent": psutil.cpu_percent(None),
                        "cpu_count": self._cpu_count,
                        "mem_used": vm.total - vm.available,
                        "mem_total": vm.total,
                    },
                )
            )
        except (psutil.Error, OSError) as exc:
            self.status = f"host figures unavailable: {exc}"
        alive: set[int] = set()
        for wid, pid in self._roots.items():
            cpu = rss = threads = 0.0
            nprocs = 0
            try:
                tree = self._tree(pid)
            except psutil.Error:
                continue  # the workload has exited
            for proc in tree:
                try:
                    with proc.oneshot():
                        cpu += proc.cpu_percent(None)
                        rss += proc.memory_info().rss
                        threads += proc.num_threads()
                    nprocs += 1
                    alive.add(proc.pid)
                except psutil.Error:
                    continue
            if nprocs:
                out.append(
                    Sample(
                        now,
                        self.name,
                        wid,
                        {
                            "cpu_percent": cpu,
                            "rss": int(rss),
                            "threads": int(threads),
                            "processes": nprocs,
                        },
                    )
                )
        for pid in list(self._procs):
            if pid not in alive:
                del self._procs[pid]
        self._trees.forget_except(self._roots.values())
        return out
