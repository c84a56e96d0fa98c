"""The TOML config file (``fwtop -c fwtop.toml``): a session and its workloads.

    [session]                 # optional
    name = "tf-vs-torch"
    sequential = false
    runs_dir = "runs"
    stall_after = 300         # seconds without a step before a workload shows as stalled; 0: never
    profile_at = 20           # optional: a profiler capture of every workload from this step
    profile_steps = 5         # of this many steps (default 5)
    refresh = 1.0             # seconds between redraws of the dashboard's charts (--refresh)

    [defaults]                # optional: applied to every workload
    model = "transformer"
    steps = 50

    [probes]                  # optional: seconds between samples (default 0.5, i.e. 2 Hz; at least 0.1)
    interval = 0.5            # every probe
    nvml = 0.25               # or one probe: host, nvml, amdsmi

    [[workload]]
    framework = "torch"
    python = ".venv-torch/bin/python"   # relative to this file
    sizes = { batch = 8 }
    env = { OMP_NUM_THREADS = "1" }

    [[workload]]                # your own script, run unmodified (fwtop run)
    script = "train.py"         # relative to this file
    args = ["--epochs", "3"]
    cwd = "."                   # working directory, relative to this file
    python = ".venv/bin/python"

Every unknown key and wrong type is reported as ``FILE: PATH.KEY: problem``.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from fwtop.workloads.errors import UserError
from fwtop.workloads.spec import WorkloadSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10
    import tomli as tomllib

_STR, _INT, _NUM, _BOOL = "a string", "an integer", "a number", "true or false"

WORKLOAD_KEYS = {
    "framework": _STR,
    "model": _STR,
    "name": _STR,
    "device": _STR,
    "dtype": _STR,
    "compile": _STR,
    "steps": _INT,
    "warmup": _INT,
    "seed": _INT,
    "lr": _NUM,
    "python": _STR,
    "sizes": "table",
    "env": "table",
    "script": _STR,
    "args": "an array of strings",
    "cwd": _STR,
}
# The keys a script workload takes (the others describe a reference model).
SCRIPT_KEYS = ("script", "args", "cwd", "python", "env", "name", "device", "steps", "warmup")
SESSION_KEYS = {
    "name": _STR,
    "sequential": _BOOL,
    "runs_dir": _STR,
    "stall_after": _NUM,
    "profile_at": _INT,  # like --profile-at / --profile-steps
    "profile_steps": _INT,
    "refresh": _NUM,  # like --refresh
}
TOP_KEYS = {"session": "table", "defaults": "table", "probes": "table", "workload": "array of tables"}
PROBE_KEYS = {"interval": _NUM, "host": _NUM, "nvml": _NUM, "amdsmi": _NUM}
MAX_PROBE_INTERVAL = 60.0
REFRESH_RANGE = (0.1, 60.0)  # seconds between chart redraws (the dashboard's --refresh)


@dataclass
class Config:
    path: Path
    specs: list[WorkloadSpec]
    name: str = ""
    sequential: bool = False
    runs_dir: str | None = None
    stall_after: float | None = None
    probe_intervals: dict = field(default_factory=dict)  # probe name -> seconds
    profile_at: int | None = None
    profile_steps: int | None = None
    refresh: float | None = None
    raw: dict = field(default_factory=dict)


def type_name(value) -> str:
    """How a TOML value's type is named in messages: 'a string', 'an integer', ..."""
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        dict: "a table",
        list: "an array",
    }.get(type(value), type(value).__name__)


def _check(value, want: str) -> bool:
    if want == _STR:
        return isinstance(value, str)
    if want == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if want == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if want == _BOOL:
        return isinstance(value, bool)
    if want == "table":
        return isinstance(value, dict)
    if want == "an array of strings":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True


def _check_table(file: str, where: str, table: dict, schema: dict) -> None:
    for key, value in table.items():
        path = f"{where}.{key}" if where else key
        if key not in schema:
            raise UserError(f"{file}: {path}: unknown key (expected one of {', '.join(schema)})")
        want = schema[key]
        if not _check(value, want):
            raise UserError(f"{file}: {path}: expected {want}, got {type_name(value)}")
        if key == "sizes":
            for k, v in value.items():
                if not (isinstance(v, int) and not isinstance(v, bool)):
                    raise UserError(f"{file}: {path}.{k}: expected an integer, got {type_name(v)}")
        if key == "env":
            for k, v in value.items():
                if not isinstance(v, str):
                    raise UserError(f"{file}: {path}.{k}: expected a string, got {type_name(v)}")


def refresh_interval(value: float | None, where: str = "--refresh") -> float | None:
    """Seconds between the dashboard's chart redraws, checked (None: the default)."""
    low, high = REFRESH_RANGE
    if value is not None and not low <= value <= high:
        raise UserError(f"{where}: must be {low} to {high:.0f} seconds, got {value}")
    return value


def probe_intervals(every: float | None = None, per_probe: dict | None = None, where: str = "") -> dict:
    """Seconds between samples per probe (host, nvml, amdsmi): ``every`` for all of them,
    ``per_probe`` for some; each checked (MIN_INTERVAL to MAX_PROBE_INTERVAL)."""
    from fwtop.probes import MIN_INTERVAL, PROBE_NAMES

    out: dict[str, float] = {}
    if every is not None:
        out.update(dict.fromkeys(PROBE_NAMES, every))
    out.update(per_probe or {})
    for name, value in out.items():
        if not MIN_INTERVAL <= value <= MAX_PROBE_INTERVAL:
            label = f"{where}{name}" if where.endswith(".") else (where or "probe interval")
            raise UserError(
                f"{label}: must be {MIN_INTERVAL} to {MAX_PROBE_INTERVAL:.0f} seconds, got {value} "
                "(NVML averages utilization over 1/6 to 1 s: faster sampling gains nothing)"
            )
    return out


def _resolve_python(python: str, base: Path) -> str:
    p = Path(python).expanduser()
    if "/" in python and not p.is_absolute():
        return str(base / p)
    return python


def _script_spec(file: str, where: str, table: dict, merged: dict, base: Path) -> WorkloadSpec:
    """A [[workload]] with script = "...": reference-model keys of the table itself are errors,
    those of [defaults] do not apply to it."""
    for key in table:
        if key not in SCRIPT_KEYS:
            raise UserError(f"{file}: {where}.{key}: does not apply to a script (it takes {', '.join(SCRIPT_KEYS)})")
    kw = {k: table[k] for k in ("cwd", "name", "steps", "warmup") if k in table}  # a script counts its own steps
    kw.update({k: merged[k] for k in ("env", "device") if k in merged})
    if "python" in merged:
        kw["python"] = _resolve_python(merged["python"], base)
    try:
        return WorkloadSpec.for_script(merged["script"], merged.get("args", []), base=base, **kw)
    except UserError as exc:
        raise UserError(f"{file}: {where}: {exc}") from None


def load_config(path: str) -> Config:
    file = str(path)
    p = Path(path)
    try:
        with open(p, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise UserError(f"config file {file} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"config file {file} is a directory") from None
    except OSError as exc:
        raise UserError(f"cannot read config file {file}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{file}: not valid TOML: {exc}") from None

    _check_table(file, "", raw, TOP_KEYS)
    session = raw.get("session", {})
    _check_table(file, "session", session, SESSION_KEYS)
    if session.get("stall_after", 0) < 0:
        raise UserError(f"{file}: session.stall_after: must be 0 (never) or a number of seconds")
    probes = raw.get("probes", {})
    _check_table(file, "probes", probes, PROBE_KEYS)
    intervals = probe_intervals(
        probes.get("interval"), {k: v for k, v in probes.items() if k != "interval"}, where=f"{file}: probes."
    )
    refresh = refresh_interval(session.get("refresh"), where=f"{file}: session.refresh")
    for key in ("profile_at", "profile_steps"):
        if session.get(key, 0) < 0:
            raise UserError(f"{file}: session.{key}: must be a whole number >= 0")
    defaults = raw.get("defaults", {})
    _check_table(
        file,
        "defaults",
        defaults,
        {k: v for k, v in WORKLOAD_KEYS.items() if k not in ("name", "script", "args", "cwd")},
    )
    workloads = raw.get("workload")
    if workloads is None:
        raise UserError(f"{file}: no [[workload]] tables: declare at least one workload")
    if not isinstance(workloads, list) or not all(isinstance(w, dict) for w in workloads):
        raise UserError(f"{file}: workload: expected an array of tables ([[workload]])")
    if not workloads:
        raise UserError(f"{file}: no [[workload]] tables: declare at least one workload")

    specs = []
    for i, table in enumerate(workloads):
        where = f"workload[{i}]"
        _check_table(file, where, table, WORKLOAD_KEYS)
        merged = {**defaults, **table}
        merged["sizes"] = {**defaults.get("sizes", {}), **table.get("sizes", {})}
        merged["env"] = {**defaults.get("env", {}), **table.get("env", {})}
        if "script" in table:
            specs.append(_script_spec(file, where, table, merged, p.parent))
            continue
        for key in ("args", "cwd"):
            if key in table:
                raise UserError(f"{file}: {where}.{key}: only a script workload takes {key}")
        if "framework" not in merged:
            raise UserError(f"{file}: {where}.framework: missing (torch, jax or tensorflow)")
        if "python" in merged:
            merged["python"] = _resolve_python(merged["python"], p.parent)
        fw = merged.pop("framework")
        try:
            specs.append(WorkloadSpec.create(fw, **merged))
        except UserError as exc:
            raise UserError(f"{file}: {where}: {exc}") from None
    return Config(
        path=p,
        specs=specs,
        name=session.get("name", "") or p.stem,
        sequential=session.get("sequential", False),
        runs_dir=session.get("runs_dir"),
        stall_after=session.get("stall_after"),
        probe_intervals=intervals,
        profile_at=session.get("profile_at"),
        profile_steps=session.get("profile_steps"),
        refresh=refresh,
        raw=raw,
    )
