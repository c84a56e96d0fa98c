"""The CLI: no framework in the parent, and one clear line (exit 2) for every bad input."""

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import PYTHON, REPO, run_fwtop

FRAMEWORK_MODULES = ("torch", "jax", "jaxlib", "tensorflow", "keras", "optax")


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["devices"],
        ["devices", "--json"],
        ["compare", "--help"],
        ["run", "--help"],
        ["attach", "--help"],
        # The script's child imports torch; fwtop itself (run, attach, py-spy) never does.
        ["run", "--headless", "--no-record", str(REPO / "tests" / "scripts" / "torch_adam.py"), "2"],
    ],
)
def test_parent_never_imports_a_framework(argv):
    code = textwrap.dedent(f"""
        import sys
        from fwtop.tui.cli import main
        import fwtop.session.pyspy, fwtop.session.profiler_server, fwtop.workloads.attached
        try:
            main({argv!r})
        except SystemExit:
            pass
        loaded = [m for m in {FRAMEWORK_MODULES!r} if m in sys.modules]
        print("LOADED", loaded, file=sys.stderr)
        sys.exit(1 if loaded else 0)
    """)
    proc = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_devices_lists_backends_and_frameworks():
    proc = run_fwtop("devices", "--json")
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    names = {b["name"]: b for b in info["backends"]}
    assert names["cpu"]["available"]
    # No GPU library on a CPU machine is the "no driver" case: n/a with a reason, no traceback.
    for b in info["backends"]:
        if not b["available"]:
            assert b["detail"].startswith("n/a")
    interp = info["interpreters"][0]
    assert interp["python"] and set(interp["frameworks"]) == {"torch", "jax", "tensorflow"}
    text = run_fwtop("devices")
    assert text.returncode == 0 and "interpreters:" in text.stdout


def test_version():
    proc = run_fwtop("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("fwtop ")


def _write(tmp_path, text, name="fwtop.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return str(p)


BAD_CONFIGS = {
    "unknown top key": ("[[workload]]\nframework='torch'\n[extra]\nx=1\n", "extra: unknown key"),
    "unknown workload key": ("[[workload]]\nframework='torch'\nstepz=3\n", "workload[0].stepz: unknown key"),
    "wrong type": (
        "[[workload]]\nframework='torch'\nsteps='ten'\n",
        "workload[0].steps: expected an integer, got a string",
    ),
    "wrong size type": (
        "[[workload]]\nframework='torch'\nsizes={batch='8'}\n",
        "workload[0].sizes.batch: expected an integer",
    ),
    "env not string": ("[[workload]]\nframework='torch'\nenv={A=1}\n", "workload[0].env.A: expected a string"),
    "no workloads": ("[session]\nname='x'\n", "no [[workload]] tables"),
    "missing framework": ("[[workload]]\nmodel='mlp'\n", "workload[0].framework: missing"),
    "unknown framework": ("[[workload]]\nframework='mxnet'\n", "unknown framework 'mxnet'"),
    "unknown model": ("[[workload]]\nframework='jax'\nmodel='bert'\n", "unknown model 'bert'"),
    "unknown device": ("[[workload]]\nframework='jax'\ndevice='tpu'\n", "unknown device 'tpu'"),
    "bad compile": ("[[workload]]\nframework='jax'\ncompile='xla'\n", "does not apply to jax"),
    "bad python": ("[[workload]]\nframework='jax'\npython='/nope/python'\n", "interpreter /nope/python does not exist"),
    "stall type": (
        "[session]\nstall_after='x'\n[[workload]]\nframework='jax'\n",
        "session.stall_after: expected a number",
    ),
    "negative stall": ("[session]\nstall_after=-1\n[[workload]]\nframework='jax'\n", "session.stall_after: must be 0"),
    "session type": (
        "[session]\nsequential='yes'\n[[workload]]\nframework='jax'\n",
        "session.sequential: expected true or false",
    ),
    "bad toml": ("[[workload]\nframework=", "not valid TOML"),
    "refresh type": (
        "[session]\nrefresh='fast'\n[[workload]]\nframework='jax'\n",
        "session.refresh: expected a number",
    ),
    "refresh range": ("[session]\nrefresh=0.01\n[[workload]]\nframework='jax'\n", "session.refresh: must be 0.1 to 60"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_one_line_exit_2(tmp_path, case):
    text, message = BAD_CONFIGS[case]
    path = _write(tmp_path, text)
    proc = run_fwtop("-c", path, "--no-record", timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0] and path in lines[0]


BAD_FLAGS = {
    "missing config": (["-c", "/nonexistent/fwtop.toml"], "does not exist"),
    "unknown flag": (["compare", "torch", "--speed", "3"], "unrecognized arguments"),
    "no frameworks": (["compare"], "required"),
    "unknown framework": (["compare", "caffe"], "unknown framework 'caffe'"),
    "unknown model": (["compare", "torch", "--model", "vgg"], "unknown model 'vgg'"),
    "unknown device": (["compare", "torch", "--device", "cuda:x"], "unknown device 'cuda:x'"),
    "mps index": (["compare", "torch", "--device", "mps:1"], "takes no index"),
    "unknown dtype": (["compare", "torch", "--dtype", "int8"], "unknown dtype 'int8'"),
    "bad compile": (["compare", "torch", "--compile", "jit"], "does not apply to torch"),
    "bad steps": (["compare", "torch", "--steps", "-3"], "whole number"),
    "bad size": (["compare", "torch", "--model", "mlp", "--size", "heads=4"], "has no size 'heads'"),
    "size syntax": (["compare", "torch", "--size", "heads"], "expected KEY=N"),
    "bad python": (["compare", "torch", "--python", "/bin/nonexistent-python"], "does not exist"),
    "python is a dir": (["compare", "torch", "--python", "/tmp"], "not an executable"),
    "python not on PATH": (["compare", "torch", "--python", "python9.9"], "not on PATH"),
    "unknown command flag": (["devices", "--gpu"], "unrecognized arguments"),
    "bad stall": (["compare", "torch", "--stall-after", "soon"], "invalid float value"),
    "negative stall": (["compare", "torch", "--stall-after", "-1"], "stall_after must be 0"),
    "refresh not a number": (["compare", "torch", "--refresh", "soon"], "invalid float value"),
    "refresh too fast": (["compare", "torch", "--refresh", "0.05"], "--refresh: must be 0.1 to 60 seconds"),
    "replay refresh too slow": (
        ["replay", "tests/data/replay-three", "--refresh", "61"],
        "--refresh: must be 0.1 to 60",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_flags_are_one_line_exit_2(case):
    argv, message = BAD_FLAGS[case]
    proc = run_fwtop(*argv, timeout=60)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert message in lines[0], lines[0]


def test_not_a_python(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho nope\nexit 3\n")
    fake.chmod(0o755)
    proc = run_fwtop("devices", "--python", str(fake), timeout=60)
    assert proc.returncode == 2
    assert "is not a usable Python" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_unwritable_runs_dir(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_fwtop("compare", "torch", "--runs-dir", str(blocker / "runs"), "--steps", "1", timeout=60)
    assert proc.returncode == 2 and "cannot create a run directory" in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_main_module_runs():
    proc = subprocess.run([sys.executable, "-m", "fwtop", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "fwtop compare" in proc.stdout


@pytest.mark.parametrize(
    "argv, config, expected",
    [
        (["replay", "RUN"], None, 1.0),
        (["replay", "RUN", "--refresh", "2.5"], None, 2.5),
        (["-c", "CONFIG"], 0.25, 0.25),
        (["-c", "CONFIG", "--refresh", "4"], 0.25, 4.0),  # the flag wins over the file
    ],
)
def test_refresh_sets_the_dashboards_chart_interval(tmp_path, monkeypatch, argv, config, expected):
    """--refresh (and [session] refresh) reach the dashboard as its chart redraw interval."""
    from fwtop.tui import app, cli

    seen = []
    monkeypatch.setattr(cli, "use_dashboard", lambda args: True)
    monkeypatch.setattr(app.FwtopApp, "run", lambda self: seen.append(self.chart_interval))
    run_dir = str(REPO / "tests" / "data" / "replay-three")
    path = _write(tmp_path, f"[session]\nrefresh = {config}\n[[workload]]\nframework = 'torch'\n") if config else ""
    argv = [run_dir if a == "RUN" else path if a == "CONFIG" else a for a in argv]
    cli.main([*argv, "--runs-dir", str(tmp_path)] if argv[0] == "-c" else argv)
    assert seen == [expected]
