"""Shared child-side definitions: device strings, dtypes, compile modes, errors.

Stdlib only, Python 3.8 compatible: imported by the child bootstrap in the
workload's interpreter and by the parent for validation.
"""

from __future__ import annotations

import re

FRAMEWORKS = ("torch", "jax", "tensorflow")
FRAMEWORK_ALIASES = {"torch": "torch", "pytorch": "torch", "jax": "jax", "tensorflow": "tensorflow", "tf": "tensorflow"}
# The pip extra that installs each framework.
FRAMEWORK_EXTRA = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow"}
# The importable module that proves a framework is installed.
FRAMEWORK_MODULE = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow"}

DTYPES = ("float32", "bfloat16", "float16")
DTYPE_ALIASES = {
    "float32": "float32",
    "fp32": "float32",
    "f32": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "f16": "float16",
    "half": "float16",
}

# Compile modes each framework accepts; the first is the default.
COMPILE_MODES = {
    "torch": ("eager", "compile"),
    "jax": ("jit", "eager"),
    "tensorflow": ("function", "eager", "xla"),
}

DEVICE_KINDS = ("auto", "cpu", "cuda", "rocm", "mps")
_DEVICE_RE = re.compile(r"^(auto|cpu|mps|cuda|rocm)(?::(\d+))?$")


class WorkloadError(Exception):
    """A problem the user can fix (unsupported device, dtype, size...). Its message is shown as is."""


def parse_device(text: str):
    """'cuda:1' -> ('cuda', 1); 'cpu' -> ('cpu', None). Raises WorkloadError on anything else."""
    m = _DEVICE_RE.match(str(text).strip().lower())
    if not m:
        raise WorkloadError("unknown device %r: expected auto, cpu, mps, cuda[:N] or rocm[:N]" % (text,))
    kind, index = m.group(1), m.group(2)
    if index is not None and kind not in ("cuda", "rocm"):
        raise WorkloadError("device %r takes no index: only cuda:N and rocm:N do" % (text,))
    return kind, (int(index) if index is not None else None)


def normalize_framework(name: str) -> str:
    fw = FRAMEWORK_ALIASES.get(str(name).strip().lower())
    if fw is None:
        raise WorkloadError("unknown framework %r: expected one of torch, jax, tensorflow" % (name,))
    return fw


def normalize_dtype(name: str) -> str:
    dt = DTYPE_ALIASES.get(str(name).strip().lower())
    if dt is None:
        raise WorkloadError("unknown dtype %r: expected one of %s" % (name, ", ".join(DTYPES)))
    return dt


def normalize_compile(framework: str, mode) -> str:
    modes = COMPILE_MODES[framework]
    if mode is None or mode == "default":
        return modes[0]
    m = str(mode).strip().lower()
    if m not in modes:
        raise WorkloadError("compile mode %r does not apply to %s (choose %s)" % (mode, framework, " or ".join(modes)))
    return m


def cpu_name() -> str:
    """The CPU's model name ('model name' in /proc/cpuinfo on Linux), for device_name on the CPU."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"
