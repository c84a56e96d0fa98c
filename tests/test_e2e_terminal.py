"""End to end through a real terminal: fwtop inside tmux, over a real ssh connection
to an sshd on loopback that this module installs (if needed) and starts itself."""

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil
import pytest
from conftest import TINY, needs

pytestmark = [needs("torch"), pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")]


def _sshd_binary() -> str | None:
    found = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
    if found or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "install", "-y", "-qq", "openssh-server"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "openssh-server"],
    ):
        subprocess.run(cmd, env=env, capture_output=True, timeout=600)
        if os.path.exists("/usr/sbin/sshd"):
            return "/usr/sbin/sshd"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    binary = _sshd_binary()
    if binary is None:
        pytest.skip("no sshd, and it cannot be installed here")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "id"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    shutil.copy(d / "id.pub", d / "authorized_keys")
    port = _free_port()
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host_key'}\n"
        f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\nPermitRootLogin yes\n"
        f"StrictModes no\nUsePAM no\nPidFile {d / 'sshd.pid'}\nAcceptEnv TERM\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)
    proc = subprocess.Popen([binary, "-D", "-e", "-f", str(d / "sshd_config")], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.skip(f"sshd did not start: {proc.stderr.read(2000)!r}")
    yield {"port": port, "key": str(d / "id"), "user": os.environ.get("USER") or "root"}
    proc.terminate()
    proc.wait(10)


class Pane:
    def __init__(self, name: str, tmux) -> None:
        self.name = name
        self.tmux = tmux

    def text(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", self.name, *keys, check=True)

    def wait_for(self, *needles: str, timeout: float = 120.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            text = self.text()
            if all(n in text for n in needles):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {needles}; screen:\n{text}")
            time.sleep(0.2)

    def kill(self) -> None:
        self.tmux("kill-session", "-t", self.name)


def _children(mark: str) -> list[psutil.Process]:
    """Every workload child (bootstrap.py) started under this test's marker."""
    found = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if (
                any("bootstrap.py" in part for part in p.info["cmdline"] or [])
                and p.environ().get("FWTOP_E2E_MARK") == mark
            ):
                found.append(p)
        except psutil.Error:
            continue
    return found


def _gone(procs: list[psutil.Process], timeout: float) -> bool:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def _start(sshd, tmux, tmp_path, name: str, mark: str) -> Pane:
    tiny = TINY["mlp"]
    remote = (
        f"FWTOP_E2E_MARK={mark} {sys.executable} -m fwtop compare torch torch --model mlp --device cpu "
        f"--batch {tiny['batch']} --width {tiny['width']} --depth {tiny['depth']} "
        f"--size in_dim={tiny['in_dim']} --runs-dir {tmp_path}"
    )
    ssh = (
        f"ssh -tt -p {sshd['port']} -i {sshd['key']} -o StrictHostKeyChecking=no "
        f"-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR {sshd['user']}@127.0.0.1 '{remote}'"
    )
    pane = Pane(name, tmux)
    pane.kill()
    # The server keeps the pane after ssh exits (remain-on-exit): a loaded machine could
    # otherwise miss the table fwtop prints on quit.
    tmux("new-session", "-d", "-s", name, "-x", "160", "-y", "45", ssh, check=True)
    return pane


def test_dashboard_over_ssh_keys_and_quit(sshd, tmux_server, tmp_path):
    mark = uuid.uuid4().hex
    pane = _start(sshd, tmux_server, tmp_path, "fwtop-e2e", mark)
    try:
        screen = pane.wait_for("torch-mlp-2", "step time", "median", "running")
        assert "torch-mlp " in screen or "torch-mlp |" in screen
        children = _children(mark)  # the two workloads and their guards (bootstrap.py's fork)
        assert sorted(p.name() == "fwtop-guard" for p in children) == [False, False, True, True]
        pane.keys("?")
        pane.wait_for("fwtop keys", "Zoom panel")
        pane.keys("Escape")
        time.sleep(0.5)
        pane.keys("z")
        time.sleep(1.5)
        assert "torch-mlp-2" not in pane.text()  # only the selected panel is shown
        pane.keys("z")
        pane.wait_for("torch-mlp-2")
        pane.keys("q")
        screen = pane.wait_for("vs first", "run directory:", timeout=60)  # the table printed after the dashboard
        assert _gone(children, timeout=5), "a workload outlived fwtop's quit"
    finally:
        pane.kill()
    runs = list(Path(tmp_path).iterdir())
    assert len(runs) == 1 and (runs[0] / "summary.json").exists()


def test_ssh_hangup_ends_every_workload(sshd, tmux_server, tmp_path):
    """The connection drops mid-run (the ssh client is killed): sshd hangs up fwtop, whose
    children must all be gone within 5 s."""
    mark = uuid.uuid4().hex
    pane = _start(sshd, tmux_server, tmp_path, "fwtop-e2e-hup", mark)
    try:
        pane.wait_for("step time", "running")
        children = _children(mark)  # the two workloads and their guards (bootstrap.py's fork)
        assert sorted(p.name() == "fwtop-guard" for p in children) == [False, False, True, True]
        client = [
            p
            for p in psutil.process_iter(["cmdline"])
            if (p.info["cmdline"] or [])[:1] == ["ssh"] and mark in " ".join(p.info["cmdline"])
        ]
        assert client, "ssh client not found"
        for p in client:
            p.kill()
        assert _gone(children, timeout=5), "a workload outlived the dropped connection"
    finally:
        pane.kill()
