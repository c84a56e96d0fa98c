"""Start-up: what opening the dashboard imports before its first frame (issue 3, "Start-up").

Each check runs a fresh interpreter, since an import already done by this test process
would hide the one under test.
"""

from __future__ import annotations

import json
import subprocess

from conftest import PYTHON, REPO

# Imported at first use, not to open the dashboard: psutil when a probe starts or an
# attached process is watched (probes/host.py, trees.py, gpu.py; session.start_workload),
# gzip when a trace is summarized, Textual's DataTable when a traces screen is composed,
# Textual's Log when the log view is first shown, the traces view (tui/traces.py) when the dashboard first refreshes after its first frame.
LAZY = (
    "psutil",
    "fwtop.workloads.attached",
    "gzip",
    "textual.widgets._data_table",
    "textual.widgets._log",
    "fwtop.tui.traces",
)

OPEN_DASHBOARD = """
import json, sys
import fwtop.tui.app, fwtop.session.replay, fwtop.tui.cli
from fwtop.probes import default_probes
probes = default_probes()  # tui/cli.py creates them before the app starts
{after}
print(json.dumps(sorted(sys.modules)))
"""


def _modules(after: str = "") -> set[str]:
    out = subprocess.run(
        [PYTHON, "-c", OPEN_DASHBOARD.format(after=after)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    return set(json.loads(out.stdout))


def test_opening_the_dashboard_leaves_the_heavy_modules_for_later():
    loaded = _modules()
    assert "fwtop.tui.app" in loaded and "fwtop.session.replay" in loaded
    assert [m for m in LAZY if m in loaded] == []


def test_the_host_probe_imports_psutil_when_it_starts():
    """The lazy import is really made where it is needed: starting the probe loads psutil."""
    loaded = _modules("probes[0].start(); assert probes[0]._cpu_count >= 1")
    assert "psutil" in loaded


def _bare_python(tmp_path):
    """A fresh venv without any framework, and a PYTHONPATH entry holding this fwtop."""
    import shutil
    import sys

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    pp = tmp_path / "pp"
    shutil.copytree(REPO / "fwtop_pkg", pp / "fwtop", ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("workloads", "probes", "session", "tui", "themes"):
        (pp / "fwtop" / sub).symlink_to(REPO / sub)
    return str(venv / "bin" / "python"), pp


def test_frameworks_of_this_interpreter_are_found_as_a_child_would_find_them(tmp_path):
    """Plain `fwtop` finds this interpreter's frameworks without starting a child (discover.py):
    the same answer, including for a package in the current directory (on this process's
    path, not a child's) and one on PYTHONPATH (on both)."""
    python, pp = _bare_python(tmp_path)
    cwd = tmp_path / "cwd"
    (cwd / "torch").mkdir(parents=True)
    (cwd / "torch" / "__init__.py").write_text("")
    extra = tmp_path / "extra"
    (extra / "jax").mkdir(parents=True)
    (extra / "jax" / "__init__.py").write_text("")
    code = (
        "import json; from fwtop.workloads.discovery import discover, installed_frameworks; "
        "d = discover(None); print(json.dumps([installed_frameworks(None), "
        "[fw for fw, v in d['frameworks'].items() if v['installed']]]))"
    )
    for pythonpath, want in ((str(pp), []), (f"{pp}:{extra}", ["jax"])):
        out = subprocess.run(
            [python, "-c", code],
            cwd=cwd,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": pythonpath},
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        here, child = json.loads(out.stdout)
        assert here == child == want


FIXTURE = REPO / "tests" / "data" / "replay-three"

HEADLESS_RUN = """
import gc, json, sys
import fwtop.tui.headless as headless
from fwtop.tui import launch
seen = []
table = headless.comparison_table
def spy(summary):  # called with the replayed summary, while the command works
    seen.append(gc.isenabled())
    return table(summary)
headless.comparison_table = spy
status = launch.main(["replay", sys.argv[1]])  # stdout is a pipe: the headless report
print(json.dumps({"status": status, "during": seen, "after": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def test_the_launcher_pauses_the_collector_only_for_start_up():
    """tui/launch.py turns the garbage collector off before fwtop's imports; a command without
    the dashboard turns it back on as soon as it knows (before it does its work)."""
    out = subprocess.run(
        [PYTHON, "-c", HEADLESS_RUN, str(FIXTURE)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        check=True,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["status"] == 0 and got["during"] == [True] and got["after"] is True
    assert got["frozen"] > 10_000  # start-up's objects were moved out of the collector's way


async def test_the_dashboard_turns_the_collector_back_on_after_its_start():
    """As launched (collector off), the dashboard turns it back on once its first frame and its
    session's start are done; what start-up built is frozen."""
    import gc

    from conftest import pilot_wait_for

    from fwtop.session.replay import ReplaySession
    from fwtop.tui.app import FwtopApp

    app = FwtopApp(ReplaySession(FIXTURE, jump_to_end=True))
    gc.disable()
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot_wait_for(pilot, gc.isenabled, 10, "the collector back on")
            assert all(w.ended for w in app.session.workloads)  # the session had started
            assert gc.get_freeze_count() > 0
    finally:
        gc.enable()
        gc.unfreeze()
