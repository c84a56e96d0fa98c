"""fwtop: a terminal dashboard and profiler for deep-learning frameworks."""

__version__ = "0.1.0"
