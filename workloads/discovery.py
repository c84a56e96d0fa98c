"""Ask an interpreter which frameworks (and, optionally, devices) it has."""

from __future__ import annotations

import json
import subprocess
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
    info = discover(python)
    return [fw for fw, d in info["frameworks"].items() if d["installed"]]
