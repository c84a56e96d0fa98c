"""The ``fwtop`` command's entry point: the cyclic garbage collector paused while fwtop starts.

Starting the dashboard builds several hundred thousand objects (the imports, the widget tree,
the first frame's strips) and frees almost none of them, so the collector's passes during
start-up find next to nothing to free; they took about 45 ms of the launch to the first
frame, one full pass about 30 ms (docs/benchmarks.md, "Start-up"). The launcher turns the
collector off before the first import; :func:`resume_gc` turns it back on, with what start-up
built moved out of its way (``gc.freeze``), once the dashboard's first frame and its
session's start are done, or at once for a run without the dashboard.
"""

from __future__ import annotations

import gc


def main(argv: list[str] | None = None) -> int:
    gc.disable()
    try:
        from .cli import main as cli_main

        return cli_main(argv)
    finally:
        resume_gc()


def resume_gc() -> None:
    """Turn the collector back on if the launcher paused it (a no-op otherwise, e.g. in tests
    that build the app themselves). What exists now stays: ``gc.freeze`` keeps it out of every
    later pass, so the full passes of a long session look at what the session made since."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
