"""WorkloadSpec: what to run, validated in the parent before anything starts."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .child import common, models
from .child.protocol import CONTROL_FD_ENV, EVENT_FD_ENV, SPEC_ENV
from .errors import UserError

BOOTSTRAP = Path(__file__).resolve().parent / "child" / "bootstrap.py"

DEFAULT_MODEL = "transformer"
DEFAULT_STEPS = 50
DEFAULT_WARMUP = 2

# Environment defaults for every child; the user's shell environment and the
# workload's own env table both override them. Several frameworks share one
# GPU only if JAX and TensorFlow do not grab (nearly) all of its memory up front.
CHILD_ENV_DEFAULTS = {
    "PYTHONUNBUFFERED": "1",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
    "TF_FORCE_GPU_ALLOW_GROWTH": "true",
    "TF_CPP_MIN_LOG_LEVEL": "1",
}


def resolve_python(python: str | None) -> str:
    """An interpreter path or command name -> an absolute path to an executable."""
    if not python:
        return sys.executable
    path = Path(python).expanduser()
    if path.parent != Path(".") or path.exists():
        if not path.exists():
            raise UserError(f"interpreter {python} does not exist")
        if path.is_dir() or not os.access(path, os.X_OK):
            raise UserError(f"interpreter {python} is not an executable file")
        return str(path.absolute())
    found = shutil.which(python)
    if found is None:
        raise UserError(f"interpreter {python!r} is not on PATH")
    return found


@dataclass(frozen=True)
class WorkloadSpec:
    framework: str
    model: str = DEFAULT_MODEL
    sizes: dict = field(default_factory=dict)
    device: str = "auto"
    dtype: str = "float32"
    compile: str = ""
    steps: int = DEFAULT_STEPS
    warmup: int = DEFAULT_WARMUP
    seed: int = 0
    lr: float = models.ADAM["lr"]
    python: str = ""
    env: dict = field(default_factory=dict)
    name: str = ""
    # A user's script (fwtop run): its absolute path, arguments and working directory.
    script: str = ""
    args: tuple = ()
    cwd: str = ""
    # A process fwtop did not launch (fwtop attach): its pid.
    attach_pid: int = 0

    @classmethod
    def create(cls, framework: str, **kw) -> WorkloadSpec:
        """Validate and normalise; raises UserError with a one-line message."""
        try:
            fw = common.normalize_framework(framework)
            model = kw.get("model") or DEFAULT_MODEL
            # Validated here; the spec keeps only what the user set (resolved_sizes adds the defaults).
            user_sizes = dict(kw.get("sizes") or {})
            models.resolve_sizes(model, user_sizes)
            common.parse_device(kw.get("device") or "auto")
            dtype = common.normalize_dtype(kw.get("dtype") or "float32")
            compile_mode = common.normalize_compile(fw, kw.get("compile") or None)
        except common.WorkloadError as exc:
            raise UserError(str(exc)) from None
        steps = kw.get("steps", DEFAULT_STEPS)
        warmup = kw.get("warmup", DEFAULT_WARMUP)
        for key, value, low in (("steps", steps, 0), ("warmup", warmup, 0), ("seed", kw.get("seed", 0), 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserError(f"{key} must be a whole number >= {low}, got {value!r}")
        lr = kw.get("lr", models.ADAM["lr"])
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
            raise UserError(f"lr must be a positive number, got {lr!r}")
        env = kw.get("env") or {}
        for k, v in env.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise UserError(f"env entries must be strings, got {k!r} = {v!r}")
        return cls(
            framework=fw,
            model=model,
            sizes=user_sizes,
            device=(kw.get("device") or "auto").strip().lower(),
            dtype=dtype,
            compile=compile_mode,
            steps=steps,
            warmup=warmup,
            seed=kw.get("seed", 0),
            lr=float(lr),
            python=resolve_python(kw.get("python")),
            env=dict(env),
            name=kw.get("name") or "",
        )

    @classmethod
    def for_script(
        cls,
        script: str,
        args=(),
        *,
        cwd: str | None = None,
        python: str | None = None,
        env: dict | None = None,
        name: str = "",
        device: str | None = None,
        steps: int = 0,
        warmup: int = DEFAULT_WARMUP,
        base: Path | None = None,
    ) -> WorkloadSpec:
        """A user's training script, run unmodified. Relative paths are taken from ``base``
        (the config file's folder) or the current directory. Raises UserError."""
        base = Path(base) if base is not None else Path.cwd()
        if not script:
            raise UserError("no script given")
        path = (base / Path(script).expanduser()).absolute()
        if not path.exists():
            raise UserError(f"script {script} does not exist")
        if not path.is_file():
            raise UserError(f"script {script} is not a file")
        workdir = ""
        if cwd:
            wd = (base / Path(cwd).expanduser()).absolute()
            if not wd.is_dir():
                raise UserError(f"working directory {cwd} is not a directory")
            workdir = str(wd)
        try:
            common.parse_device(device or "auto")
        except common.WorkloadError as exc:
            raise UserError(str(exc)) from None
        for key, value in (("steps", steps), ("warmup", warmup)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise UserError(f"{key} must be a whole number >= 0, got {value!r}")
        env = env or {}
        for k, v in env.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise UserError(f"env entries must be strings, got {k!r} = {v!r}")
        if not all(isinstance(a, str) for a in args):
            raise UserError(f"script arguments must be strings, got {list(args)!r}")
        return cls(
            framework="script",
            model=path.name,
            device=(device or "auto").strip().lower(),
            dtype="",
            steps=steps,
            warmup=warmup,
            python=resolve_python(python),
            env=dict(env),
            name=name or path.stem,
            script=str(path),
            args=tuple(args),
            cwd=workdir,
        )

    @classmethod
    def for_attach(cls, pid: int, name: str = "") -> WorkloadSpec:
        """A running process fwtop did not launch. Raises UserError if there is none."""
        import psutil

        if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
            raise UserError(f"pid must be a positive whole number, got {pid!r}")
        try:
            proc = psutil.Process(pid)
            cmd = proc.cmdline() or [proc.name()]
        except psutil.NoSuchProcess:
            raise UserError(f"no process with pid {pid}") from None
        except psutil.AccessDenied:
            cmd = ["?"]
        if pid == os.getpid():
            raise UserError("fwtop cannot attach to itself")
        script = next((Path(a).name for a in cmd[1:] if a.endswith(".py")), Path(cmd[0]).name)
        return cls(
            framework="attach",
            model=" ".join(cmd)[:200],
            dtype="",
            steps=0,
            python=cmd[0] if cmd else "",
            name=name or f"pid {pid} {script}",
            attach_pid=pid,
        )

    @property
    def kind(self) -> str:
        """reference, script or attach."""
        return "script" if self.script else "attach" if self.attach_pid else "reference"

    @property
    def resolved_sizes(self) -> dict:
        if self.kind != "reference":
            return {}
        return models.resolve_sizes(self.model, self.sizes)

    @property
    def label(self) -> str:
        return self.name or f"{self.framework}-{self.model}"

    def with_name(self, name: str) -> WorkloadSpec:
        return replace(self, name=name)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["sizes"] = self.resolved_sizes
        return d

    def child_spec(self) -> dict:
        if self.script:
            return {
                "kind": "script",
                "script": self.script,
                "args": list(self.args),
                "cwd": self.cwd,
                "steps": self.steps,
                "warmup": self.warmup,
            }
        return {
            "kind": "reference",
            "framework": self.framework,
            "model": self.model,
            "sizes": self.sizes,
            "device": self.device,
            "dtype": self.dtype,
            "compile": self.compile,
            "steps": self.steps,
            "warmup": self.warmup,
            "seed": self.seed,
            "lr": self.lr,
        }

    def child_env(self, event_fd: int, control_fd: int, base: dict | None = None) -> dict:
        env = dict(CHILD_ENV_DEFAULTS)
        kind, _ = common.parse_device(self.device)
        if kind == "cpu" and not self.script:
            # Keep a CPU workload's framework from initialising (and holding memory on) a GPU.
            if self.framework == "jax":
                env["JAX_PLATFORMS"] = "cpu"
            elif self.framework == "tensorflow":
                env["CUDA_VISIBLE_DEVICES"] = ""
        env.update(os.environ if base is None else base)
        if self.script:
            # A script picks its own device: --device only narrows what it can see.
            env.update(script_device_env(self.device))
        env.update(self.env)
        env[SPEC_ENV] = json.dumps(self.child_spec())
        env["FWTOP_PARENT_PID"] = str(os.getpid())
        env[EVENT_FD_ENV] = str(event_fd)
        env[CONTROL_FD_ENV] = str(control_fd)
        return env


def script_device_env(device: str) -> dict:
    """The environment that limits a script to one device: ``cpu`` hides every GPU,
    ``cuda:N`` / ``rocm:N`` shows only GPU N (which the script then sees as device 0)."""
    kind, index = common.parse_device(device)
    if kind == "cpu":
        return {"CUDA_VISIBLE_DEVICES": "", "HIP_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}
    if kind == "cuda" and index is not None:
        return {"CUDA_VISIBLE_DEVICES": str(index)}
    if kind == "rocm" and index is not None:
        return {"HIP_VISIBLE_DEVICES": str(index), "ROCR_VISIBLE_DEVICES": str(index)}
    return {}
