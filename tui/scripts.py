"""``fwtop run SCRIPT`` (your own training script) and ``fwtop attach PID`` (a running process)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from fwtop.workloads.errors import UserError

from .cli import Parser, _add_run_options, _positive_int, _run, check_theme, use_dashboard

RUN_DESCRIPTION = """\
Run your own training script, unmodified, in a panel like any workload.

fwtop finds its steps without code changes: every torch.optim optimizer step,
every batch of a Keras model.fit, every optax.apply_updates (JAX). For other
loops, mark steps with two lines (see README "Your own script"):

    import fwtop
    fwtop.step(samples=64)      # at the end of each step; a no-op without fwtop

Options before SCRIPT are fwtop's; everything after it goes to the script.
Several scripts side by side: a config file with [[workload]] script = "..." (fwtop -c).
"""


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def _run_parser() -> Parser:
    p = Parser(prog="fwtop run", description=RUN_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("script", metavar="SCRIPT", help="the training script (a .py file)")
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="the script's own arguments")
    g = p.add_argument_group("script")
    g.add_argument("--python", default=None, help="interpreter to run the script in (default: this one)")
    g.add_argument("--cwd", default=None, help="working directory of the script (default: the current one)")
    g.add_argument(
        "--env", type=_env_pair, action="append", default=[], metavar="KEY=VALUE", help="set in its environment"
    )
    g.add_argument(
        "--device",
        default="auto",
        help="limit what the script sees: cpu hides the GPUs, cuda:N / rocm:N shows only GPU N (default: all)",
    )
    g.add_argument(
        "--steps", type=_positive_int, default=0, help="stop the script after this many steps (default 0: its own end)"
    )
    g.add_argument("--warmup", type=_positive_int, default=2, help="first steps kept out of the statistics (default 2)")
    _add_run_options(p)
    return p


def cmd_run(argv: list[str]) -> int:
    from fwtop.workloads.spec import WorkloadSpec

    args = _run_parser().parse_args(argv)
    check_theme(args.theme)
    spec = WorkloadSpec.for_script(
        args.script,
        args.args,
        cwd=args.cwd,
        python=args.python,
        env=dict(args.env),
        name=args.name or "",
        device=args.device,
        steps=args.steps,
        warmup=args.warmup,
    )
    sessions: list = []

    def on_session(session) -> None:
        sessions.append(session)
        if not use_dashboard(args):  # headless: the script's own output, as it comes
            session.listeners.append(ScriptOutput(session, sys.stderr if args.json else sys.stdout))

    rc = _run([spec], args, name=spec.label, on_session=on_session)
    # The script's own exit status comes through (sys.exit(3) -> 3), unless fwtop was interrupted.
    if rc in (0, 1) and sessions:
        w = sessions[0].workloads[0]
        if w.exit_code is not None and w.exit_code > 0:
            return w.exit_code
    return rc


class ScriptOutput:
    """Headless ``fwtop run``: the script's own output lines, prefixed with its label."""

    echoes_output = True  # headless.run_headless: no log tail again when the script fails

    def __init__(self, session, out) -> None:
        self.session = session
        self.out = out
        self._shown: dict[str, int] = {}

    def __call__(self, kind: str, wid: str | None) -> None:
        if kind != "log" or wid is None:
            return
        w = self.session.get(wid)
        new = w.log_count - self._shown.get(wid, 0)
        self._shown[wid] = w.log_count
        for line in list(w.log)[-min(new, len(w.log)) :] if new > 0 else []:
            print(f"[{w.label}] | {line}", file=self.out, flush=True)


ATTACH_DESCRIPTION = """\
Watch a running process that fwtop did not launch: its process tree's CPU,
memory and threads and the devices' figures from the probes, in a panel (or,
headless, one line a second); py-spy dump (d) and record (s) work on it.
fwtop never signals it: quitting detaches.
"""


def _attach_parser() -> Parser:
    p = Parser(
        prog="fwtop attach", description=ATTACH_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("pid", metavar="PID", help="the process id")
    g = p.add_argument_group("attach")
    g.add_argument(
        "--duration", type=float, default=0, help="detach after this many seconds (default 0: when it exits)"
    )
    g.add_argument("--dump", action="store_true", help="print a py-spy dump of every process of its tree, and exit")
    g.add_argument(
        "--record", type=float, default=None, metavar="SECONDS", help="py-spy record it for SECONDS, and exit"
    )
    g.add_argument("--format", default="speedscope", help="recording format: speedscope (default), flamegraph (SVG)")
    g.add_argument("--output", default=None, help="recording file (default: ./pyspy-<name>-<time>.<ext>)")
    g.add_argument(
        "--trace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="capture a trace for SECONDS through its JAX/TensorFlow profiler server (--profiler-port), and exit",
    )
    g.add_argument(
        "--profiler-port",
        type=int,
        default=None,
        metavar="PORT",
        help="the port of its profiler server on localhost (jax.profiler.start_server(PORT))",
    )
    g.add_argument(
        "--python",
        default=None,
        help="interpreter with TensorFlow's profiler client for --trace (default: the process's own)",
    )
    g.add_argument("--native", action="store_true", help="py-spy: include native (C/C++) frames")
    g.add_argument("--no-subprocesses", action="store_true", help="py-spy record: only the process itself")
    _add_run_options(p)
    return p


def _parse_pid(text: str) -> int:
    try:
        pid = int(text)
    except ValueError:
        raise UserError(f"PID must be a process id (a whole number), got {text!r}") from None
    if pid <= 0:
        raise UserError(f"PID must be a positive process id, got {text!r}")
    return pid


class AttachProgress:
    """Headless attach: one line a second with the process tree's figures."""

    def __init__(self, session, out) -> None:
        self.session = session
        self.out = out
        self._last = 0.0

    def __call__(self, kind: str, wid: str | None) -> None:
        if kind != "sample" or not self.session.workloads:
            return
        now = time.monotonic()
        if now - self._last < 1.0:
            return
        w = self.session.workloads[0]
        sample = self.session.timeline.latest("host", w.id)
        if sample is None:
            return
        self._last = now
        v = sample.values
        from .format import fmt_bytes

        print(
            f"[{w.label}] cpu {v.get('cpu_percent', 0):.0f}%  rss {fmt_bytes(v.get('rss'))}  "
            f"threads {v.get('threads')}  processes {v.get('processes')}",
            file=self.out,
            flush=True,
        )


def cmd_attach(argv: list[str]) -> int:
    from fwtop.session import pyspy
    from fwtop.workloads.spec import WorkloadSpec

    args = _attach_parser().parse_args(argv)
    check_theme(args.theme)
    pid = _parse_pid(args.pid)
    spec = WorkloadSpec.for_attach(pid, name=args.name or "")
    try:
        if args.dump:
            print("\n".join(pyspy.format_dump(pyspy.dump_tree(pid, native=args.native))))
            return 0
        if args.record is not None:
            out = Path(args.output) if args.output else pyspy.output_path(Path.cwd(), spec.label, args.format)
            path = pyspy.record(
                pid,
                out,
                duration=args.record,
                fmt=args.format,
                native=args.native,
                subprocesses=not args.no_subprocesses,
            )
            print(f"py-spy recording of pid {pid} ({args.record:g} s): {path}")
            return 0
    except pyspy.PySpyError as exc:
        raise UserError(str(exc)) from None
    if args.trace is not None:
        return _trace(pid, spec, args)
    if args.duration < 0:
        raise UserError(f"--duration must be >= 0 seconds, got {args.duration}")
    out = sys.stderr if args.json else sys.stdout

    def on_session(session) -> None:
        if use_dashboard(args):
            return
        session.listeners.append(AttachProgress(session, out))
        if args.duration > 0:
            session.listeners.append(_DetachAfter(session, args.duration))

    return _run([spec], args, name=f"attach-{pid}", on_session=on_session)


def _trace(pid: int, spec, args) -> int:
    from fwtop.session.profiler_server import ProfilerServerError, capture

    if args.profiler_port is None:
        raise UserError("--trace needs --profiler-port PORT (the port the process's profiler server listens on)")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = Path(args.output) if args.output else Path.cwd() / f"fwtop-trace-{pid}-{stamp}"
    python = None
    if args.python:
        from fwtop.workloads.spec import resolve_python

        python = resolve_python(args.python)
    try:
        files = capture(pid, args.profiler_port, args.trace, out, python=python)
    except ProfilerServerError as exc:
        raise UserError(str(exc)) from None
    print(f"trace of pid {pid} through its profiler server ({args.trace:g} s): {out}")
    for path, size in files:
        print(f"  {path} ({size} bytes)")
    print(f"view it: tensorboard --logdir {out} (with the profile plugin), or xprof {out}")
    return 0


class _DetachAfter:
    def __init__(self, session, duration: float) -> None:
        self.session = session
        self.duration = duration
        self._armed = False

    def __call__(self, kind: str, wid: str | None) -> None:
        if kind == "session" and not self._armed:
            import asyncio

            self._armed = True
            loop = asyncio.get_running_loop()
            for w in self.session.workloads:
                loop.call_later(self.duration, lambda w=w: asyncio.ensure_future(self.session.stop_workload(w.id)))
