"""Ask an interpreter which frameworks (and, optionally, devices) it has."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .errors import UserError
from .spec import resolve_python

DISCOVER = Path(__file__).resolve().parent / "child" / "discover.py"


def discover(python: str | None = None, devices: bool = False, timeout: float = 120.0) -> dict:
    """Run discover.py in ``python``; raises UserError if it cannot."""
    exe = resolve_python(python)
    cmd = [exe, str(DISCOVER)] + (["--devices"] if devices else [])
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise UserError(f"interpreter {exe} did not answer within {timeout:.0f} s") from None
    except OSError as exc:
        raise UserError(f"cannot run interpreter {exe}: {exc.strerror or exc}") from None
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"interpreter {exe} is not a usable Python (exit {proc.returncode}: {err})") from None


def installed_frameworks(python: str | None = None) -> list[str]:
    if python is None:  # this interpreter: no need to start another (plain `fwtop` starts sooner)
        found = _installed_here()
        if found is not None:
            return found
    info = discover(python)
    return [fw for fw, d in info["frameworks"].items() if d["installed"]]


def _installed_here() -> list[str] | None:
    """The frameworks discover.py would find installed if run by this interpreter, found
    without running it (about 0.1 s): the same ``find_spec`` test, nothing imported, on the
    path a child of this interpreter has. A child's first sys.path entry is its script's
    folder; this process's is its own (fwtop's, or the current directory), so it is left
    out. None if a finder fails: then the caller asks a child, which reports the failure."""
    from importlib.machinery import PathFinder

    from .child.discover import MODULES

    path = sys.path if sys.flags.safe_path else sys.path[1:]  # -P: no such first entry
    found = []
    try:
        for fw, module in MODULES.items():
            for finder in sys.meta_path:
                find = getattr(finder, "find_spec", None)
                if find is not None and find(module, path if finder is PathFinder else None) is not None:
                    found.append(fw)
                    break
    except Exception:  # noqa: BLE001 - a broken import hook: let discover.py meet it
        return None
    return found
