"""fwtop: a terminal dashboard and profiler for deep-learning frameworks."""

import sys as _sys

__version__ = "0.1.0"


def step(samples=None, tokens=None, loss=None) -> None:
    """Mark the end of a training step in a script run by ``fwtop run`` (a no-op otherwise).

    ``samples`` / ``tokens``: per step, for throughput; ``loss``: its value (reading it
    makes the step end when the step's result is ready). See README "Your own script".
    """
    api = _sys.modules.get("_fwtop_child.api")
    if api is not None:
        api.step(samples=samples, tokens=tokens, loss=loss)
