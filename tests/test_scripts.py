"""fwtop run: real, unmodified scripts (tests/scripts/) with their steps detected.

Each script prints how many optimizer steps it took; the number of step events
recorded must be exactly that.
"""

import asyncio
import json
import re
import sys
import time
from pathlib import Path

import pytest
from conftest import PYTHON, REPO, needs, run_fwtop
from textual.widgets import Log

SCRIPTS = REPO / "tests" / "scripts"


def run_script(tmp_path, script, *args, opts=(), timeout=300):
    proc = run_fwtop(
        "run", "--headless", "--runs-dir", str(tmp_path), *opts, str(SCRIPTS / script), *args, timeout=timeout
    )
    runs = sorted(tmp_path.iterdir())
    return proc, (runs[-1] if runs else None)


def events(run_dir: Path, kind=None):
    out = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    return [e for e in out if kind is None or e["event"] == kind]


def reported_steps(text: str) -> int:
    m = re.search(r"optimizer steps: (\d+)", text)
    assert m, text[-2000:]
    return int(m.group(1))


def check_stopped_after(proc, run_dir, steps: int, absent: str) -> None:
    """``--steps`` ended the script cleanly after ``steps`` steps; ``absent`` is not in its log."""
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert len(events(run_dir, "step")) == steps
    assert events(run_dir, "bye")[-1]["reason"] == "done"
    log = run_dir / "logs" / "w0.log"
    assert not log.exists() or absent not in log.read_text()


def check_steps(proc, run_dir, source):
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    log = (run_dir / "logs" / "w0.log").read_text()
    n = reported_steps(log)
    steps = events(run_dir, "step")
    assert len(steps) == n > 0
    assert [s["index"] for s in steps] == list(range(n))
    assert all(s["duration"] > 0 for s in steps)
    hello = events(run_dir, "hello")[-1]
    assert hello["steps_from"] == source
    # The script's own output comes through to the terminal too.
    assert f"optimizer steps: {n}" in proc.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["workloads"][0]["state"] == "finished"
    return steps, hello


@needs("torch")
def test_torch_adam_loop(tmp_path):
    proc, run_dir = run_script(tmp_path, "torch_adam.py", "7")
    steps, hello = check_steps(proc, run_dir, "torch.optim")
    assert hello["framework"] == "torch" and hello["device"] == "cpu"
    assert hello["script"] == str(SCRIPTS / "torch_adam.py")
    assert [s["warmup"] for s in steps] == [True, True] + [False] * 5


@needs("torch")
def test_two_optimizers_count_one_step_per_iteration(tmp_path):
    proc, run_dir = run_script(tmp_path, "torch_two_optimizers.py", "6")
    check_steps(proc, run_dir, "torch.optim")


@needs("torch")
def test_dataloader_workers(tmp_path):
    """DataLoader worker processes (forked with the script's hooks in them) report no steps."""
    proc, run_dir = run_script(tmp_path, "torch_dataloader.py")
    check_steps(proc, run_dir, "torch.optim")
    assert reported_steps(proc.stdout) == 12


@pytest.mark.gpu
@needs("torch")
def test_torch_script_on_cuda(tmp_path):
    """On a GPU: the device comes from the optimizer's parameters, the CUDA memory figures come with
    every step, and the step ends after a synchronize."""
    proc, run_dir = run_script(tmp_path, "torch_device.py", "8")
    steps, hello = check_steps(proc, run_dir, "torch.optim")
    assert hello["device"] == "cuda:0" and hello["device_kind"] == "cuda"
    assert all(s["mem"] and s["mem"]["allocated"] > 0 and s["mem"]["peak"] > 0 for s in steps)


def test_child_modules_are_python_38_syntax():
    """workloads/child/ runs in the workload's interpreter, down to Python 3.8."""
    import ast

    for path in sorted((REPO / "workloads" / "child").glob("*.py")):
        ast.parse(path.read_text(), filename=str(path), feature_version=(3, 8))


@needs("keras")
@needs("tensorflow")
def test_keras_fit(tmp_path):
    proc, run_dir = run_script(tmp_path, "keras_fit.py")
    steps, hello = check_steps(proc, run_dir, "keras.fit")
    assert hello["framework"] == "keras"
    assert all(s["loss"] is not None for s in steps)  # fit's loss, read per batch


@needs("jax")
@needs("optax")
def test_jax_optax_loop_inside_jit(tmp_path):
    proc, run_dir = run_script(tmp_path, "jax_optax.py", "9")
    steps, hello = check_steps(proc, run_dir, "optax")
    assert hello["framework"] == "jax"
    assert len(steps) == 9


@needs("jax")
@needs("optax")
def test_steps_flag_stops_a_jitted_jax_loop_cleanly(tmp_path):
    """The stop is raised in the host callback inside jit and passes through XLA to the script."""
    proc, run_dir = run_script(tmp_path, "jax_optax.py", "500", opts=("--steps", "3"))
    check_stopped_after(proc, run_dir, 3, "StopScript")


def test_explicit_api(tmp_path):
    proc, run_dir = run_script(tmp_path, "explicit_api.py", "6")
    steps, hello = check_steps(proc, run_dir, "api")
    assert hello["framework"] is None
    assert {(s["samples"], s["tokens"]) for s in steps} == {(32, 32 * 128)}
    assert steps[0]["loss"] == 1.0 and steps[-1]["loss"] == pytest.approx(1 / 6)
    # the loop sleeps 10 ms per step: a step can't be measured shorter than that
    assert min(s["duration"] for s in steps) >= 0.01


def _python_without_fwtop() -> str | None:
    base = Path(sys.base_prefix) / "bin" / "python3"
    if not base.exists() or Path(sys.prefix) == Path(sys.base_prefix):
        return None
    return str(base)


def test_explicit_api_where_fwtop_is_not_installed(tmp_path):
    """The bootstrap provides `import fwtop` in an interpreter that lacks it."""
    python = _python_without_fwtop()
    if python is None:
        pytest.skip("no interpreter without fwtop (not running in a venv)")
    import subprocess

    probe = subprocess.run([python, "-c", "import fwtop"], capture_output=True)
    if probe.returncode == 0:
        pytest.skip(f"{python} has fwtop installed")
    proc, run_dir = run_script(tmp_path, "explicit_api.py", "4", opts=("--python", python))
    check_steps(proc, run_dir, "api")


def test_explicit_api_without_fwtop_running_is_a_no_op():
    import subprocess

    proc = subprocess.run([PYTHON, str(SCRIPTS / "explicit_api.py"), "3"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "optimizer steps: 3" in proc.stdout


@needs("torch")
def test_script_that_raises_is_failed_with_its_traceback(tmp_path):
    proc, run_dir = run_script(tmp_path, "torch_adam.py", "8", "--fail-at", "3")
    assert proc.returncode == 1
    log = (run_dir / "logs" / "w0.log").read_text()
    assert "Traceback (most recent call last)" in log
    assert "RuntimeError: deliberate failure at step 3" in log
    assert 'torch_adam.py", line' in log and "runpy" not in log  # from the script's own frames on
    assert len(events(run_dir, "step")) == 3
    (error,) = events(run_dir, "error")
    assert error["type"] == "RuntimeError" and "deliberate failure" in error["traceback"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["workloads"][0]["state"] == "failed"
    assert "RuntimeError: deliberate failure at step 3" in proc.stdout
    # The script's output is printed as it comes, so its traceback is not repeated at the end.
    assert proc.stdout.count("Traceback (most recent call last)") == 1, proc.stdout


@needs("torch")
def test_exit_status_comes_through(tmp_path):
    proc, run_dir = run_script(tmp_path, "torch_adam.py", "2", "--exit", "3")
    assert proc.returncode == 3
    assert len(events(run_dir, "step")) == 2
    exit_rec = events(run_dir, "exit")[-1]
    assert exit_rec["exit_code"] == 3 and exit_rec["state"] == "failed"


@needs("torch")
def test_steps_flag_stops_the_script_at_a_step_boundary(tmp_path):
    proc, run_dir = run_script(tmp_path, "torch_adam.py", "50", opts=("--steps", "4"))
    check_stopped_after(proc, run_dir, 4, "optimizer steps")  # it never reached its end


def test_missing_script_is_one_line_exit_2(tmp_path):
    proc = run_fwtop("run", "--headless", "--no-record", str(tmp_path / "nope.py"))
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"fwtop: script {tmp_path / 'nope.py'} does not exist"


def test_bad_flags_are_one_line_exit_2(tmp_path):
    script = str(SCRIPTS / "explicit_api.py")
    for args, needle in (
        (("--device", "tpu", script), "unknown device"),
        (("--cwd", str(tmp_path / "nowhere"), script), "is not a directory"),
        (("--python", str(tmp_path / "py"), script), "does not exist"),
        (("--env", "NOEQUALS", script), "KEY=VALUE"),
    ):
        proc = run_fwtop("run", "--headless", "--no-record", *args)
        assert proc.returncode == 2, args
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


ENV_SCRIPT = """\
import os, sys
import fwtop
print("name", __name__)
print("argv", sys.argv[1:])
print("path0", sys.path[0])
print("cwd", os.getcwd())
print("env", os.environ.get("FWTOP_TEST_VALUE"))
for i in range(3):
    fwtop.step()
print("optimizer steps: 3")
"""


def test_config_scripts_side_by_side(tmp_path):
    """Two script workloads from a config file: args, env, cwd as python would give them."""
    (tmp_path / "proj").mkdir()
    (tmp_path / "work").mkdir()
    (tmp_path / "proj" / "show.py").write_text(ENV_SCRIPT)
    cfg = tmp_path / "two.toml"
    cfg.write_text(
        f"""
[session]
runs_dir = "{tmp_path / "runs"}"

[[workload]]
script = "proj/show.py"
args = ["--flag", "a b"]
cwd = "work"
env = {{ FWTOP_TEST_VALUE = "42" }}

[[workload]]
script = "{SCRIPTS / "explicit_api.py"}"
args = ["5"]
"""
    )
    proc = run_fwtop("-c", str(cfg), "--headless")
    assert proc.returncode == 0, proc.stdout[-3000:]
    (run_dir,) = (tmp_path / "runs").iterdir()
    log = (run_dir / "logs" / "w0.log").read_text()
    assert "name __main__" in log
    assert "argv ['--flag', 'a b']" in log
    assert f"path0 {tmp_path / 'proj'}" in log
    assert f"cwd {tmp_path / 'work'}" in log
    assert "env 42" in log
    by_w = {}
    for e in events(run_dir, "step"):
        by_w[e["w"]] = by_w.get(e["w"], 0) + 1
    assert by_w == {"w0": 3, "w1": 5}


def test_headless_shows_a_failed_workloads_last_lines_once(tmp_path):
    """A config's script workload has no output printed as it comes (only `fwtop run` does
    that): when it fails, the headless progress shows its last log lines, once."""
    (tmp_path / "fails.py").write_text('print("loading data")\nraise ValueError("no such dataset")\n')
    cfg = tmp_path / "fwtop.toml"
    cfg.write_text('[[workload]]\nscript = "fails.py"\n')
    proc = run_fwtop("-c", str(cfg), "--headless", "--runs-dir", str(tmp_path / "runs"), timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "FAILED after 0 steps: ValueError: no such dataset" in proc.stdout
    assert "  | loading data" in proc.stdout and "  | ValueError: no such dataset" in proc.stdout
    assert proc.stdout.count("Traceback (most recent call last)") == 1, proc.stdout


def test_config_script_errors(tmp_path):
    (tmp_path / "s.py").write_text("pass\n")
    for body, needle in (
        ('script = "s.py"\nmodel = "mlp"', "workload[0].model: does not apply to a script"),
        ('script = "missing.py"', "script missing.py does not exist"),
        ('script = "s.py"\nargs = [1]', "workload[0].args: expected an array of strings"),
        ('framework = "torch"\nargs = ["x"]', "only a script workload takes args"),
    ):
        cfg = tmp_path / "c.toml"
        cfg.write_text("[[workload]]\n" + body + "\n")
        proc = run_fwtop("-c", str(cfg), "--headless", "--no-record")
        assert proc.returncode == 2, body
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@needs("torch")
def test_pause_resume_stop_at_detected_steps(tmp_path):
    """Commands reach a script at its optimizer steps: pause holds it, stop ends it cleanly."""
    from fwtop.session.session import PAUSED, RUNNING, STOPPED, Session
    from fwtop.workloads.spec import WorkloadSpec

    async def scenario():
        spec = WorkloadSpec.for_script(str(SCRIPTS / "torch_forever.py"))
        session = Session([spec], runs_dir=str(tmp_path), name="ctl")
        await session.start()
        w = session.workloads[0]
        series = session.timeline.steps(w.id)

        async def until(cond, timeout=120):
            t0 = time.monotonic()
            while not cond():
                assert time.monotonic() - t0 < timeout, (w.state, list(w.log)[-10:])
                await asyncio.sleep(0.05)

        await until(lambda: series.count >= 5 and w.state == RUNNING)
        session.pause(w.id)
        await until(lambda: w.state == PAUSED)
        held = series.count
        await asyncio.sleep(1.0)
        assert series.count == held  # no step while paused
        session.resume(w.id)
        await until(lambda: series.count > held + 3)
        await session.stop_workload(w.id)
        assert w.state == STOPPED and w.bye["reason"] == "stopped" and w.exit_code == 0
        await session.close()

    asyncio.run(scenario())


def test_stop_waits_for_a_script_that_said_bye(tmp_path):
    """A script whose exit handlers outlast the stop's polite grace (2 s) is not SIGTERMed:
    once it said bye it is on its way out and exits on its own, status 0."""
    from fwtop.session.session import STOPPED, Session
    from fwtop.workloads.spec import WorkloadSpec

    async def scenario():
        session = Session([WorkloadSpec.for_script(str(SCRIPTS / "slow_exit.py"))], runs_dir=str(tmp_path))
        await session.start()
        w = session.workloads[0]
        t0 = time.monotonic()
        while session.timeline.steps(w.id).count < 3:
            assert time.monotonic() - t0 < 60, list(w.log)[-10:]
            await asyncio.sleep(0.05)
        t0 = time.monotonic()
        await session.stop_workload(w.id)
        took = time.monotonic() - t0
        await session.close()
        return w, took

    w, took = asyncio.run(scenario())
    assert w.state == STOPPED and w.bye["reason"] == "stopped" and w.exit_code == 0, (w.exit_code, list(w.log))
    assert took >= 3.0  # it waited for the handler rather than signalling at 2 s
    assert "exit handler finished" in (next(tmp_path.iterdir()) / "logs" / "w0.log").read_text()


@needs("torch")
def test_profile_command_reaches_a_script(tmp_path):
    """Framework profiler captures (workloads/child/capture.py, from the profiling work) start and
    stop at a script's detected steps. Skipped where capture.py is not part of the tree."""
    import importlib.util

    if importlib.util.find_spec("fwtop.workloads.child.capture") is None:
        pytest.skip("workloads/child/capture.py (profiler captures) is not in this tree")
    from fwtop.session.session import Session
    from fwtop.workloads.spec import WorkloadSpec

    traces = []

    async def scenario():
        session = Session([WorkloadSpec.for_script(str(SCRIPTS / "torch_forever.py"))], runs_dir=str(tmp_path))
        original = session._on_event

        def on_event(w, ev):
            if getattr(ev, "kind", "") == "trace":
                traces.append(ev.data)
            original(w, ev)

        session._on_event = on_event
        await session.start()
        w = session.workloads[0]
        t0 = time.monotonic()
        while session.timeline.steps(w.id).count < 5:
            assert time.monotonic() - t0 < 120
            await asyncio.sleep(0.1)
        assert w.runner.send("profile", dir=str(tmp_path / "traces"), steps=3, id="t1")
        while not any(t.get("state") in ("done", "failed") for t in traces):
            assert time.monotonic() - t0 < 180, traces
            await asyncio.sleep(0.1)
        await session.stop()

    asyncio.run(scenario())
    done = traces[-1]
    assert done["state"] == "done" and done["framework"] == "torch" and done["captured"] == 3, done
    assert all(Path(f["path"]).is_file() for f in done["files"])


@needs("torch")
async def test_script_in_the_dashboard(tmp_path):
    from fwtop.session.session import FINISHED, Session
    from fwtop.tui.app import FwtopApp
    from fwtop.tui.panel import WorkloadPanel

    spec = script_spec(SCRIPTS / "torch_adam.py", "6")
    session = Session([spec], runs_dir=str(tmp_path))
    app = FwtopApp(session, chart_interval=0.25)
    async with app.run_test(size=(160, 50)) as pilot:
        w = session.workloads[0]
        t0 = time.monotonic()
        while w.state != FINISHED:
            assert time.monotonic() - t0 < 120, (w.state, list(w.log)[-5:])
            await pilot.pause(0.1)
        await pilot.pause(0.6)
        panel = app.query_one(WorkloadPanel)
        title = panel.part_text("title")
        assert title.startswith("torch_adam | torch "), title
        assert "torch_adam.py" in title and "cpu" in title
        assert session.timeline.steps(w.id).count == 6
        await pilot.press("l")
        await pilot.pause(0.6)
        assert any("optimizer steps: 6" in line for line in w.log)
        shown = app.query_one("#log", Log).lines  # the log view shows the script's output
        assert any("optimizer steps: 6" in line for line in shown), shown[-5:]
        await pilot.press("q")


def script_spec(path, *args):
    from fwtop.workloads.spec import WorkloadSpec

    return WorkloadSpec.for_script(str(path), args)


def test_device_flag_narrows_what_a_script_sees(tmp_path):
    script = tmp_path / "env.py"
    script.write_text(
        "import os\nfor k in ('CUDA_VISIBLE_DEVICES', 'JAX_PLATFORMS', 'HIP_VISIBLE_DEVICES'):\n"
        "    print(k, repr(os.environ.get(k)))\n"
    )
    outputs = {}
    for device in ("cpu", "cuda:1", "auto"):
        proc = run_fwtop(
            "run", "--headless", "--no-record", "--device", device, str(script), env={"CUDA_VISIBLE_DEVICES": "0,1"}
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        outputs[device] = proc.stdout
    assert "CUDA_VISIBLE_DEVICES ''" in outputs["cpu"] and "JAX_PLATFORMS 'cpu'" in outputs["cpu"]
    assert "CUDA_VISIBLE_DEVICES '1'" in outputs["cuda:1"]
    assert "CUDA_VISIBLE_DEVICES '0,1'" in outputs["auto"]  # auto leaves the environment as it is
