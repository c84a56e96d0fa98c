"""The package builds as a wheel that works from a fresh venv (not only as an editable install)."""

import json
import shutil
import subprocess
import sys
import zipfile

import pytest
from conftest import PYTHON, REPO, TINY, has_framework

IGNORE = shutil.ignore_patterns(".venv", ".git", "runs", "build", "dist", "*.egg-info", "__pycache__", ".*cache")


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=IGNORE)
    subprocess.run(
        [PYTHON, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    wheel = next((tmp / "dist").glob("fwtop-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    return wheel, venv


def test_wheel_contents(wheel_venv):
    wheel, _ = wheel_venv
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "fwtop/__init__.py",
        "fwtop/tui/cli.py",
        "fwtop/session/session.py",
        "fwtop/probes/host.py",
        "fwtop/workloads/runner.py",
        "fwtop/workloads/child/bootstrap.py",
        "fwtop/workloads/child/fw_torch.py",
        "fwtop/workloads/child/fw_jax.py",
        "fwtop/workloads/child/fw_tensorflow.py",
    ):
        assert required in names, required
    assert not any(n.startswith(("tests/", "tui/", "session/", "probes/", "workloads/")) for n in names)


def test_installed_wheel_runs(wheel_venv, tmp_path):
    _, venv = wheel_venv
    fwtop = str(venv / "bin" / "fwtop")
    proc = subprocess.run([fwtop, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "fwtop compare" in proc.stdout
    proc = subprocess.run([fwtop, "devices", "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    # No framework in that venv:
    info = json.loads(proc.stdout)
    assert not any(f["installed"] for f in info["interpreters"][0]["frameworks"].values())
    if not has_framework("torch"):
        return
    # The installed package's child bootstrap runs a real workload in another interpreter.
    proc = subprocess.run(
        [
            fwtop,
            "compare",
            "torch",
            "--python",
            PYTHON,
            "--model",
            "mlp",
            "--device",
            "cpu",
            "--steps",
            "3",
            "--batch",
            str(TINY["mlp"]["batch"]),
            "--width",
            "64",
            "--depth",
            "2",
            "--size",
            "in_dim=32",
            "--runs-dir",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["workloads"][0]["state"] == "finished"
