"""The explicit step API, for loops the hooks cannot see.

In the user's script::

    import fwtop
    ...
    fwtop.step(samples=64)          # at the end of each training step

Under fwtop the call reports a step (``samples``, ``tokens`` and ``loss`` are
optional; passing the loss makes the step end when its value is ready on the
device). Run without fwtop it does nothing. When fwtop is not installed in the
script's interpreter, the bootstrap puts a stand-in ``fwtop`` module in
``sys.modules`` (see :func:`provide_module`). Stdlib only, Python 3.8.
"""

from __future__ import annotations

import importlib.util
import sys
import types

_detector = None


def activate(detector) -> None:
    global _detector
    _detector = detector


def step(samples=None, tokens=None, loss=None) -> None:
    """Mark the end of one training step."""
    detector = _detector
    if detector is None:
        return
    detector.api_used = True
    detector.step_ended("api", loss=loss, samples=_count(samples), tokens=_count(tokens))


def _count(x):
    """A whole number of samples or tokens (a 0-d tensor or numpy integer too), else None."""
    if x is None:
        return None
    try:
        if hasattr(x, "item"):
            x = x.item()
        n = int(x)
    except (TypeError, ValueError, OverflowError):
        return None
    return n if n >= 0 else None


def provide_module() -> None:
    """Make ``import fwtop`` work in an interpreter without fwtop (the real package, when
    installed, forwards ``fwtop.step`` to this module)."""
    if "fwtop" in sys.modules:
        return
    try:
        if importlib.util.find_spec("fwtop") is not None:
            return
    except (ImportError, ValueError):
        pass
    module = types.ModuleType("fwtop", "fwtop's step API, provided by the fwtop child bootstrap.")
    module.step = step
    module.__fwtop_standin__ = True
    sys.modules["fwtop"] = module
