"""Headless profiling: `fwtop compare ... --profile-at STEP --profile-steps N`, and its bad uses."""

import json
import shutil
from pathlib import Path

import pytest
from conftest import TINY, needs, run_fwtop

SIZES = ["--batch", str(TINY["mlp"]["batch"]), "--width", str(TINY["mlp"]["width"]), "--depth", "2"]


@needs("torch")
def test_headless_profile_at_writes_a_capture_and_lists_it(tmp_path):
    proc = run_fwtop(
        "compare", "torch", "--model", "mlp", *SIZES, "--device", "cpu", "--steps", "8",
        "--profile-at", "4", "--profile-steps", "2", "--runs-dir", str(tmp_path), "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    (cap,) = summary["captures"]
    assert cap["state"] == "done" and cap["first_step"] == 4 and cap["captured"] == 2 and not cap["partial"]
    (trace,) = [f for f in cap["files"] if f["role"] == "trace"]
    path = Path(trace["path"])
    assert path.is_file() and path.stat().st_size == trace["bytes"]
    assert path.is_relative_to(Path(summary["run_dir"]) / "traces" / "w0" / "plugins" / "profile")
    assert "profile: done" in proc.stderr and str(path) in proc.stderr  # progress names the file
    assert summary["workloads"][0]["excluded_steps"] == 2 + 2  # warm-up and profiled steps
    recorded = json.loads((Path(summary["run_dir"]) / "summary.json").read_text())
    assert recorded["captures"][0]["files"] == cap["files"]


@needs("torch")
def test_headless_table_lists_capture_paths_without_recording(tmp_path):
    proc = run_fwtop(
        "compare", "torch", "--model", "mlp", *SIZES, "--device", "cpu", "--steps", "6",
        "--profile-at", "3", "--profile-steps", "1", "--no-record", "--headless", cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "profile of torch-mlp (steps 3-3):" in proc.stdout
    where = Path(proc.stdout.split("traces (not recording): ", 1)[1].split()[0])
    try:
        line = next(x for x in proc.stdout.splitlines() if x.strip().endswith(")") and ".pt.trace.json" in x)
        path = Path(line.strip().rsplit(" (", 1)[0])
        assert path.is_file() and path.is_relative_to(where)
        assert not (tmp_path / "runs").exists()
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--profile-steps", "3"], "--profile-steps needs --profile-at"),
        (["--profile-at", "2", "--profile-steps", "0"], "--profile-steps must be from 1"),
        (["--steps", "5", "--profile-at", "3", "--profile-steps", "4"], "ends after the last step of torch"),
        (["--profile-at", "x"], "expected a whole number"),
    ],
)
def test_bad_profile_flags_are_one_line_exit_2(argv, message):
    proc = run_fwtop("compare", "torch", "--no-record", *argv, timeout=60)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
