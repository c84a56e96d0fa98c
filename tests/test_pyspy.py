"""py-spy (dump and record) and fwtop attach, on real processes: an unmodified PyTorch
script fwtop did not launch, a process tree, and a reference workload fwtop runs."""

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from conftest import PYTHON, REPO, TINY, needs, pilot_wait_for, run_fwtop

from fwtop.session import pyspy

SCRIPTS = REPO / "tests" / "scripts"


def _start(cmd, ready: str, timeout=120):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    t0 = time.monotonic()
    for line in proc.stdout:
        if ready in line:
            return proc
        assert time.monotonic() - t0 < timeout, "process never became ready"
    proc.kill()
    raise AssertionError(f"process exited before printing {ready!r}")


def _end(proc):
    proc.kill()
    proc.wait(timeout=30)


@pytest.fixture(scope="module")
def torch_script():
    """A running PyTorch training script that fwtop did not start."""
    if not (Path(sys.prefix) / "lib").exists():
        pytest.skip("no environment")
    pytest.importorskip("torch")
    proc = _start([PYTHON, str(SCRIPTS / "torch_forever.py")], "training")
    yield proc
    _end(proc)


TREE = """\
import multiprocessing as mp, sys

def spin_worker():
    while True:
        sum(range(1000))

if __name__ == "__main__":
    mp.set_start_method("spawn")
    p = mp.Process(target=spin_worker)
    p.start()
    print("ready", flush=True)
    spin_worker()
"""


@pytest.fixture(scope="module")
def process_tree(tmp_path_factory):
    script = tmp_path_factory.mktemp("tree") / "tree.py"
    script.write_text(TREE)
    proc = _start([PYTHON, str(script)], "ready")
    yield proc
    for child in psutil.Process(proc.pid).children(recursive=True):
        child.kill()
    _end(proc)


def test_attach_streams_metrics_and_detaches(torch_script, tmp_path):
    proc = run_fwtop("attach", str(torch_script.pid), "--headless", "--duration", "3", "--runs-dir", str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if "rss" in line and "threads" in line]
    assert len(lines) >= 2, proc.stdout
    assert "torch" in proc.stdout  # the framework seen in its memory maps
    (run_dir,) = tmp_path.iterdir()
    samples = [json.loads(x) for x in (run_dir / "samples.jsonl").read_text().splitlines()]
    mine = [s for s in samples if s.get("sample", s).get("target") == "w0"]
    assert mine and all(s.get("sample", s)["values"]["rss"] > 0 for s in mine)
    assert torch_script.poll() is None  # detaching never touches the process
    assert "detached" in proc.stdout


def test_attach_ends_when_the_process_exits(tmp_path):
    proc = subprocess.Popen([PYTHON, "-c", "import time; time.sleep(4)"])
    try:
        res = run_fwtop("attach", str(proc.pid), "--headless", "--runs-dir", str(tmp_path), timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"pid {proc.pid} has exited" in res.stdout
    (run_dir,) = tmp_path.iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["workloads"][0]["state"] == "finished"


def test_attach_dump_names_the_training_function(torch_script):
    proc = run_fwtop("attach", str(torch_script.pid), "--dump")
    assert proc.returncode == 0, proc.stderr
    assert f"Process {torch_script.pid}" in proc.stdout
    assert "train_forever (" in proc.stdout and "torch_forever.py" in proc.stdout


def test_record_writes_speedscope_naming_the_step_function(torch_script, tmp_path):
    path = tmp_path / "rec.speedscope.json"
    out = pyspy.record(torch_script.pid, path, duration=2)
    assert out == path and not (tmp_path / ".rec.speedscope.json.tmp").exists()
    data = json.loads(path.read_text())
    assert data["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    names = {f["name"] for f in data["shared"]["frames"]}
    assert "train_forever" in names
    assert data["profiles"] and any(p["samples"] for p in data["profiles"])


def test_record_flamegraph_svg_through_the_cli(torch_script, tmp_path):
    out = tmp_path / "flame.svg"
    proc = run_fwtop("attach", str(torch_script.pid), "--record", "1", "--format", "flamegraph", "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "<svg" in text and "train_forever" in text


def test_dump_every_process_of_a_tree(process_tree):
    def spinning(dumps):
        return [d.pid for d in dumps if any(f.name == "spin_worker" for t in d.threads for f in t.frames)]

    t0 = time.monotonic()
    while True:  # the spawned worker may still be starting up
        dumps = pyspy.dump_tree(process_tree.pid)
        if len(spinning(dumps)) >= 2 or time.monotonic() - t0 > 60:
            break
        time.sleep(0.5)
    assert all(not d.error for d in dumps), [d.error for d in dumps]
    # the parent and its worker (plus multiprocessing's resource tracker), each dumped
    assert process_tree.pid in spinning(dumps) and len(spinning(dumps)) == 2, "\n".join(pyspy.format_dump(dumps))


def test_bad_pid_is_one_line_exit_2():
    for args, needle in ((("999999999",), "no process with pid"), (("x1",), "PID must be")):
        proc = run_fwtop("attach", *args, "--headless")
        assert proc.returncode == 2
        assert needle in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_pyspy_missing_says_how_to_install(monkeypatch, tmp_path):
    """Fallback logic of find_pyspy: not next to the interpreter, not on PATH."""
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pyspy.PySpyError, match="py-spy is not installed: pip install py-spy"):
        pyspy.dump_tree(os.getpid())


def test_permission_denied_gives_the_fix(torch_script):
    """The real py-spy, run as another user, may not trace the process: fwtop's message says
    why and how to fix it."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run py-spy as another user")
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="fwtop-pyspy-"))
    try:
        folder.chmod(0o755)
        exe = folder / "py-spy"
        shutil.copy(pyspy.find_pyspy(), exe)
        exe.chmod(0o755)
        proc = subprocess.run(
            [str(exe), "dump", "--pid", str(torch_script.pid), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            user=65534,
            group=65534,
            cwd="/",
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert proc.returncode != 0
    message = pyspy._explain_failure(torch_script.pid, proc.returncode, proc.stderr)
    assert message.startswith(f"py-spy may not trace pid {torch_script.pid}: permission denied"), proc.stderr
    assert "root" in message or "ptrace_scope" in message


@needs("torch")
def test_dump_and_record_a_reference_workload(tmp_path):
    """fwtop's own child: its stack shows the reference loop and the framework's step."""
    from fwtop.session.session import RUNNING, Session
    from fwtop.workloads.spec import WorkloadSpec

    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=0)

    async def scenario():
        session = Session([spec], runs_dir=str(tmp_path), name="spy")
        await session.start()
        w = session.workloads[0]
        t0 = time.monotonic()
        while not (w.state == RUNNING and session.timeline.steps(w.id).count >= 3):
            assert time.monotonic() - t0 < 120, list(w.log)[-5:]
            await asyncio.sleep(0.1)
        dumps = await asyncio.to_thread(pyspy.dump_tree, w.runner.pid)
        path = await asyncio.to_thread(pyspy.record, w.runner.pid, tmp_path / "ref.speedscope.json", 2)
        await session.stop()
        return dumps, path

    dumps, path = asyncio.run(scenario())
    frames = [(f.name, f.filename) for d in dumps for t in d.threads for f in t.frames]
    assert any(name == "run" and fn.endswith("reference.py") for name, fn in frames), frames
    frames = json.loads(path.read_text())["shared"]["frames"]
    # the framework module's step method (e.g. "_Trainer.step" in fw_torch.py) and the loop around it
    assert any(f["name"].endswith("step") and f.get("file", "").endswith("fw_torch.py") for f in frames), frames
    assert any(f["name"] == "run" and f.get("file", "").endswith("reference.py") for f in frames)


@needs("torch")
async def test_d_and_s_keys_in_the_dashboard(tmp_path):
    from textual.widgets import Input

    from fwtop.session.session import Session
    from fwtop.tui.app import FwtopApp
    from fwtop.tui.pyspy import PySpyDumpScreen, RecordOptionsScreen
    from fwtop.workloads.spec import WorkloadSpec

    spec = WorkloadSpec.create("torch", model="mlp", sizes=TINY["mlp"], device="cpu", steps=0, name="spied")
    session = Session([spec], runs_dir=str(tmp_path))
    app = FwtopApp(session, chart_interval=0.25)
    async with app.run_test(size=(160, 50)) as pilot:
        w = session.workloads[0]
        await pilot_wait_for(pilot, lambda: session.timeline.steps(w.id).count >= 3, what="steps")

        await pilot.press("d")
        await pilot_wait_for(pilot, lambda: isinstance(app.screen, PySpyDumpScreen) and app.screen.text, 60, "dump")
        # The training loop (reference.py) is on the main thread's stack in every dump; the
        # model's step (fw_torch.py) only while a step runs, not between two steps (reporting
        # the step): r dumps again, of the same process, until one shows it.
        for _ in range(20):
            text = app.screen.text
            assert f"Process {w.runner.pid}" in text and "reference.py" in text, text
            if "fw_torch.py" in text:
                break
            app.screen.text = ""
            await pilot.press("r")
            await pilot_wait_for(pilot, lambda: app.screen.text, 60, "another dump")
        else:
            raise AssertionError(f"no dump in 20 showed the model's step (fw_torch.py):\n{text}")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, PySpyDumpScreen)

        await pilot.press("S")
        await pilot.pause()
        assert isinstance(app.screen, RecordOptionsScreen)
        app.screen.query_one("#duration", Input).value = "1"
        await pilot.click("#record")
        await pilot_wait_for(pilot, lambda: len(app.pyspy_recordings) == 1, 60, "first recording")
        await pilot.press("s")  # the same options again, a new file
        await pilot_wait_for(pilot, lambda: len(app.pyspy_recordings) == 2, 60, "second recording")
        first, second = app.pyspy_recordings
        assert first != second and first.parent == second.parent == session.rundir.path / "pyspy"
        for path in (first, second):
            data = json.loads(path.read_text())
            assert any(f["name"] == "run" for f in data["shared"]["frames"])
        assert not list(first.parent.glob(".*.tmp"))
        await pilot.press("q")
    records = [json.loads(x) for x in (session.rundir.path / "events.jsonl").read_text().splitlines()]
    assert [r["path"] for r in records if r["event"] == "pyspy"] == [str(first), str(second)]


async def test_attach_in_the_dashboard_with_d(torch_script, tmp_path):
    """An attached process gets a panel; d dumps its stack; quitting leaves it running."""
    from fwtop.session.session import RUNNING, Session
    from fwtop.tui.app import FwtopApp
    from fwtop.tui.pyspy import PySpyDumpScreen
    from fwtop.workloads.spec import WorkloadSpec

    session = Session([WorkloadSpec.for_attach(torch_script.pid)], runs_dir=str(tmp_path))
    app = FwtopApp(session, chart_interval=0.25)
    async with app.run_test(size=(160, 50)) as pilot:
        w = session.workloads[0]
        await pilot_wait_for(pilot, lambda: w.state == RUNNING and session.timeline.latest("host", w.id), 60, "samples")
        await pilot.press("d")
        await pilot_wait_for(pilot, lambda: isinstance(app.screen, PySpyDumpScreen) and app.screen.text, 60, "dump")
        assert "train_forever" in app.screen.text
        await pilot.press("escape")
        await pilot.press("q")
    assert torch_script.poll() is None
    assert w.state == "stopped"


async def test_d_and_s_on_an_ended_workload_say_why(tmp_path):
    from fwtop.session.session import ENDED, Session
    from fwtop.tui.app import FwtopApp
    from fwtop.tui.pyspy import PySpyDumpScreen
    from fwtop.workloads.spec import WorkloadSpec

    spec = WorkloadSpec.for_script(str(SCRIPTS / "explicit_api.py"), ["2"])
    session = Session([spec], runs_dir=str(tmp_path))
    app = FwtopApp(session, chart_interval=0.25)
    async with app.run_test(size=(160, 50)) as pilot:
        w = session.workloads[0]
        await pilot_wait_for(pilot, lambda: w.state in ENDED, 60, "the end")
        await pilot.press("d", "s")
        await pilot.pause(0.3)
        assert not isinstance(app.screen, PySpyDumpScreen)
        messages = [n.message for n in app._notifications]
        assert messages.count("explicit_api is not running") == 2, messages
        assert not app.pyspy_recordings
        await pilot.press("q")
