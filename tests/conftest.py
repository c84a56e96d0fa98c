import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

# Tiny sizes: every model trains 20 steps in well under a second per step on 2 cores,
# and the loss still falls.
TINY = {
    "matmul": {"width": 64, "depth": 2},
    "mlp": {"batch": 16, "in_dim": 32, "width": 64, "depth": 2},
    "cnn": {"batch": 4, "width": 8, "stages": 2},
    "transformer": {"batch": 4, "seq_len": 16, "width": 32, "heads": 2, "depth": 1, "vocab": 64},
}


def has_framework(fw: str) -> bool:
    return importlib.util.find_spec(fw) is not None


def needs(fw: str):
    return pytest.mark.skipif(not has_framework(fw), reason=f"{fw} is not installed")


def run_fwtop(*args, timeout=300, env=None, cwd=None):
    """Run the real `fwtop` CLI in a subprocess."""
    return subprocess.run(
        [PYTHON, "-m", "fwtop", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def run_session(specs, tmp_path, **kw):
    from fwtop.session.session import Session

    session = Session(specs, runs_dir=str(tmp_path), name=kw.pop("name", "test"), **kw)
    summary = asyncio.run(session.run())
    return session, summary
