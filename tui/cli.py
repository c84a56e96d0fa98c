"""The ``fwtop`` command line.

Nothing here imports a framework, and textual is imported only when the
dashboard opens, so ``fwtop --help``, ``fwtop devices`` and headless runs start fast.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys

from fwtop import __version__
from fwtop.workloads.child import common, models
from fwtop.workloads.errors import UserError

from .launch import resume_gc

COMMANDS = ("compare", "run", "attach", "devices", "replay")

DESCRIPTION = """\
A terminal dashboard and profiler for deep-learning frameworks.

commands:
  fwtop                         the default comparison (the installed frameworks, default model, best device)
  fwtop -c fwtop.toml           the workloads of a config file
  fwtop compare FW [FW ...]     compare frameworks (torch, jax, tensorflow) on a reference model
  fwtop run SCRIPT [ARGS ...]   your own training script, unmodified, with its steps detected
  fwtop attach PID              watch a running process: its metrics, py-spy dump and record
  fwtop devices                 the backends, devices and frameworks found
  fwtop replay RUN_DIR          show a recorded run (runs/<timestamp>-<name>/) in the dashboard

In a terminal fwtop opens the dashboard (workloads run until you quit, unless
--steps is given); with --headless, --json or when output is not a terminal it
prints progress and a comparison table instead. Run `fwtop COMMAND --help` for a
command's options.
"""


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _size(text: str) -> tuple[str, int]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=N, got {text!r}")
    try:
        return key.strip().replace("-", "_"), int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {key} must be a whole number, got {value!r}") from None


def _add_run_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("run")
    g.add_argument(
        "--headless", action="store_true", help="no dashboard: print progress and a table (the default for now)"
    )
    g.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (progress goes to stderr)")
    g.add_argument("--sequential", action="store_true", help="run the workloads one after another, not in parallel")
    g.add_argument("--runs-dir", default=None, help="where run directories go (default: ./runs or $FWTOP_RUNS_DIR)")
    g.add_argument("--no-record", action="store_true", help="do not write a run directory")
    g.add_argument(
        "--stall-after",
        type=float,
        default=None,
        metavar="SECONDS",
        help="mark a workload stalled after this long without a step (default 300; 0: never)",
    )
    g.add_argument("--name", default=None, help="name of the run (used in the run directory's name)")
    g.add_argument(
        "--probe-interval",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between device and host samples (default 0.5, i.e. 2 Hz; 0.1 to 60)",
    )
    g.add_argument(
        "--profile-at",
        type=_positive_int,
        default=None,
        metavar="STEP",
        help="capture a framework profiler trace of every workload from step STEP (0-based; traces go to RUN_DIR/traces)",
    )
    g.add_argument(
        "--profile-steps",
        type=_positive_int,
        default=None,
        metavar="N",
        help="steps in that capture (default 5)",
    )
    g.add_argument(
        "--profile-with",
        default=None,
        metavar="OPTIONS",
        help="comma-separated profiler options: shapes, memory, stacks (torch: record_shapes, profile_memory, "
        "with_stack; jax, tensorflow: stacks turns the Python tracer on)",
    )
    g.add_argument(
        "--theme",
        default=None,
        help="dashboard theme: fwtop-dark (default), fwtop-light, fwtop-contrast, "
        "a theme file's name from ~/.config/fwtop/themes/, or a Textual theme",
    )
    _add_refresh_option(g)


def _add_refresh_option(p) -> None:
    p.add_argument(
        "--refresh",
        type=float,
        default=None,
        metavar="SECONDS",
        help="seconds between redraws of the dashboard's charts and statistics (default 1; 0.1 to 60); "
        "states and the log redraw twice a second, or at this rate if faster",
    )


def _add_workload_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("workload")
    g.add_argument(
        "--model", default=models.MODELS[3], help=f"reference model: {', '.join(models.MODELS)} (default %(default)s)"
    )
    g.add_argument("--device", default="auto", help="auto, cpu, cuda[:N], rocm[:N] or mps (default %(default)s)")
    g.add_argument("--dtype", default="float32", help=f"{', '.join(common.DTYPES)} (default %(default)s)")
    g.add_argument(
        "--compile",
        default=None,
        help="torch: eager|compile; jax: jit|eager; tensorflow: function|eager|xla (default: the first)",
    )
    g.add_argument(
        "--steps",
        type=_positive_int,
        default=None,
        help="steps to run, 0 for until stopped (default: 50 headless, until stopped in the dashboard)",
    )
    g.add_argument(
        "--warmup", type=_positive_int, default=None, help="warm-up steps kept out of the statistics (default 2)"
    )
    g.add_argument("--seed", type=_positive_int, default=0)
    g.add_argument("--lr", type=float, default=None, help="Adam learning rate (default 1e-3)")
    g.add_argument("--batch", type=_positive_int, default=None)
    g.add_argument("--width", type=_positive_int, default=None)
    g.add_argument("--depth", type=_positive_int, default=None)
    g.add_argument("--seq-len", type=_positive_int, default=None)
    g.add_argument(
        "--size",
        type=_size,
        action="append",
        default=[],
        metavar="KEY=N",
        help="any other model size, e.g. --size heads=8 (see docs/models.md)",
    )
    g.add_argument("--python", default=None, help="interpreter to run the workloads in (default: this one)")


def _main_parser() -> Parser:
    p = Parser(prog="fwtop", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"fwtop {__version__}")
    p.add_argument("-c", "--config", default=None, help="a TOML file declaring the workloads")
    _add_run_options(p)
    return p


def _compare_parser() -> Parser:
    p = Parser(prog="fwtop compare", description="Run a reference model in several frameworks and compare them.")
    p.add_argument(
        "frameworks", nargs="+", metavar="FRAMEWORK", help="torch, jax, tensorflow (repeat one to compare settings)"
    )
    _add_workload_options(p)
    _add_run_options(p)
    return p


def _devices_parser() -> Parser:
    p = Parser(prog="fwtop devices", description="The device backends, devices and frameworks found.")
    p.add_argument("--python", action="append", default=[], help="also inspect this interpreter (repeatable)")
    p.add_argument("-c", "--config", default=None, help="inspect the interpreters of this config file too")
    p.add_argument(
        "--probe",
        action="store_true",
        help="import each framework (in a child process) to list the devices it sees; slower",
    )
    p.add_argument("--json", action="store_true")
    return p


def _default_steps(args) -> int | None:
    """In the dashboard, workloads run until stopped unless --steps says otherwise."""
    return 0 if use_dashboard(args) else None


def _replay_parser() -> Parser:
    p = Parser(prog="fwtop replay", description="Show a recorded run directory in the dashboard.")
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, e.g. runs/20261122-101500-default")
    p.add_argument("--speed", type=float, default=1.0, help="playback speed (default 1: as recorded)")
    p.add_argument("--end", action="store_true", help="jump to the end at once")
    p.add_argument("--headless", action="store_true", help="no dashboard: print the recorded comparison table")
    p.add_argument("--json", action="store_true", help="print the recorded summary as JSON")
    p.add_argument("--theme", default=None, help="dashboard theme (see fwtop --help)")
    _add_refresh_option(p)
    return p


def _cmd_replay(args) -> int:
    from fwtop.session.replay import ReplaySession

    from .headless import comparison_table

    headless = not use_dashboard(args)
    app_options = _refresh(args.refresh)
    session = ReplaySession(args.run_dir, speed=args.speed, jump_to_end=args.end or headless)
    if headless:
        asyncio.run(session.run())
        summary = session.summary()
        print(json.dumps(summary, indent=2, default=str) if args.json else comparison_table(summary))
        return 0
    from .app import FwtopApp

    FwtopApp(session, theme=args.theme, **app_options).run()
    return 0


def _refresh(seconds: float | None) -> dict:
    """FwtopApp's keyword for the chart redraw interval, checked ({} for the default)."""
    if seconds is None:
        return {}
    from fwtop.session.config import refresh_interval

    return {"chart_interval": refresh_interval(seconds)}


def _specs_from_compare(args) -> list:
    from fwtop.workloads.spec import WorkloadSpec

    sizes = dict(args.size)
    for key in ("batch", "width", "depth", "seq_len"):
        value = getattr(args, key)
        if value is not None:
            sizes[key] = value
    default_steps = _default_steps(args)
    specs = []
    for fw in args.frameworks:
        kw = {
            "model": args.model,
            "sizes": sizes,
            "device": args.device,
            "dtype": args.dtype,
            "compile": args.compile,
            "seed": args.seed,
            "python": args.python,
        }
        for key in ("steps", "warmup", "lr"):
            if getattr(args, key) is not None:
                kw[key] = getattr(args, key)
        if args.steps is None and default_steps is not None:
            kw["steps"] = default_steps
        specs.append(WorkloadSpec.create(fw, **kw))
    return specs


def _default_specs(args) -> list:
    from fwtop.workloads.discovery import installed_frameworks
    from fwtop.workloads.spec import WorkloadSpec

    found = installed_frameworks(None)
    if not found:
        raise UserError(
            f"no framework is installed in {sys.executable}: pip install 'fwtop[all]' (or torch, jax, tensorflow)"
        )
    steps = _default_steps(args)
    return [WorkloadSpec.create(fw, **({"steps": steps} if steps is not None else {})) for fw in found]


def check_theme(name: str | None) -> None:
    """An unknown --theme is a usage error (exit 2), not a silent fallback."""
    if name is None:
        return
    from textual.theme import BUILTIN_THEMES

    from .themes import load_themes, theme_names

    themes, _ = load_themes()
    known = theme_names(themes) + sorted(BUILTIN_THEMES)
    if name not in known:
        raise UserError(f"unknown theme {name!r}: choose one of {', '.join(known)}")


def use_dashboard(args) -> bool:
    """The dashboard needs a terminal; --headless, --json or a pipe get the headless report.
    Without the dashboard the garbage collector, paused for start-up, is back on at once."""
    dashboard = not (args.headless or args.json) and sys.stdout.isatty() and sys.stdin.isatty()
    if not dashboard:
        resume_gc()
    return dashboard


def _probes(args, config_intervals: dict | None = None) -> list:
    """The probes at the configured intervals (--probe-interval overrides the config file)."""
    from fwtop.probes import default_probes
    from fwtop.session.config import probe_intervals

    intervals = dict(config_intervals or {})
    if args.probe_interval is not None:
        intervals = probe_intervals(args.probe_interval, where="--probe-interval")
    return default_probes(intervals)


def _run(
    specs: list,
    args,
    name: str,
    sequential: bool = False,
    runs_dir: str | None = None,
    stall_after=None,
    probe_intervals: dict | None = None,
    profile: tuple = (None, None),
    refresh: float | None = None,
    on_session=None,
) -> int:
    from fwtop.session.session import DEFAULT_STALL_AFTER, Session

    from .headless import comparison_table, run_headless

    runs = args.runs_dir or runs_dir or os.environ.get("FWTOP_RUNS_DIR") or "runs"
    stall = args.stall_after if args.stall_after is not None else stall_after
    stall = DEFAULT_STALL_AFTER if stall is None else stall
    if stall < 0:
        raise UserError(f"stall_after must be 0 (never) or a number of seconds, got {stall}")
    profile_at = _profile_at(args, specs, *profile)
    app_options = _refresh(args.refresh if args.refresh is not None else refresh)  # the flag wins over the file
    session = Session(
        specs,
        name=args.name or name,
        runs_dir=runs,
        record=not args.no_record,
        sequential=args.sequential or sequential,
        stall_after=stall or None,  # 0: never
        probes=_probes(args, probe_intervals),
    )
    session.profile_at = profile_at
    session.profile_options = _profile_options(args.profile_with)
    if on_session is not None:  # fwtop run / attach look at the session they started
        on_session(session)
    if not use_dashboard(args):
        return asyncio.run(run_headless(session, as_json=args.json))
    from .app import FwtopApp

    app = FwtopApp(session, theme=args.theme, **app_options)
    try:
        app.run()
    finally:
        session.kill_all()  # whatever way the dashboard ended, no child outlives it
    if session.started_at is not None:
        print(comparison_table(session.summary()))
    return app.return_code or (1 if session.failed else 0)


def _profile_options(text: str | None) -> dict:
    from fwtop.session.traces import PROFILE_OPTIONS

    if text is None:
        return {}
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [x for x in names if x not in PROFILE_OPTIONS]
    if bad or not names:
        raise UserError(
            f"--profile-with: unknown option {', '.join(bad) or repr(text)}: choose from {', '.join(PROFILE_OPTIONS)}"
        )
    return {x: True for x in names}


def _profile_at(args, specs: list, cfg_at: int | None = None, cfg_steps: int | None = None) -> tuple[int, int] | None:
    """--profile-at / --profile-steps (or the config's session keys) as (step, steps), checked against --steps."""
    from fwtop.session.traces import DEFAULT_PROFILE_STEPS, MAX_PROFILE_STEPS

    at = args.profile_at if args.profile_at is not None else cfg_at
    steps = args.profile_steps if args.profile_steps is not None else cfg_steps
    if at is None:
        if steps is not None:
            raise UserError("--profile-steps needs --profile-at STEP (the step the capture starts at)")
        return None
    n = DEFAULT_PROFILE_STEPS if steps is None else steps
    if not 1 <= n <= MAX_PROFILE_STEPS:
        raise UserError(f"--profile-steps must be from 1 to {MAX_PROFILE_STEPS}, got {n}")
    for spec in specs:
        if spec.steps and at + n > spec.steps:
            raise UserError(
                f"--profile-at {at} --profile-steps {n} ends after the last step of {spec.label} "
                f"({spec.steps} steps): raise --steps or profile earlier"
            )
    return (at, n)


def _cmd_devices(args) -> int:
    from fwtop.probes.backends import find_backends
    from fwtop.workloads.discovery import discover

    pythons = [None] + list(args.python)
    if args.config:
        from fwtop.session.config import load_config

        pythons += [s.python for s in load_config(args.config).specs]
    seen, infos = set(), []
    for py in pythons:
        info = discover(py, devices=args.probe)
        if info["python"] in seen:
            continue
        seen.add(info["python"])
        infos.append(info)
    backends = find_backends()
    if args.json:
        print(json.dumps({"backends": [b.__dict__ for b in backends], "interpreters": infos}, indent=2))
        return 0
    print("backends:")
    for b in backends:
        print(f"  {b.name:<5} {'yes' if b.available else 'no ':<4} {b.detail}")
        for d in b.devices:
            print(f"          {d}")
    print("interpreters:")
    for info in infos:
        print(f"  {info['python']} (Python {info['python_version']})")
        for fw, d in info["frameworks"].items():
            if not d["installed"]:
                print(f"    {fw:<11} not installed (pip install 'fwtop[{common.FRAMEWORK_EXTRA[fw]}]')")
                continue
            print(f"    {fw:<11} {d['version'] or '?'}")
            if "devices" in d:
                print(f"    {'':<11} devices: {', '.join(d['devices']) or 'none'}")
            if "error" in d:
                print(f"    {'':<11} failed to import: {d['error']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        if argv and argv[0] == "compare":
            args = _compare_parser().parse_args(argv[1:])
            check_theme(args.theme)
            specs = _specs_from_compare(args)
            return _run(specs, args, name="-".join(s.framework for s in specs) + f"-{args.model}")
        if argv and argv[0] == "run":
            from .scripts import cmd_run

            return cmd_run(argv[1:])
        if argv and argv[0] == "attach":
            from .scripts import cmd_attach

            return cmd_attach(argv[1:])
        if argv and argv[0] == "replay":
            args = _replay_parser().parse_args(argv[1:])
            check_theme(args.theme)
            return _cmd_replay(args)
        if argv and argv[0] == "devices":
            return _cmd_devices(_devices_parser().parse_args(argv[1:]))
        args = _main_parser().parse_args(argv)
        check_theme(args.theme)
        if args.config:
            from fwtop.session.config import load_config

            cfg = load_config(args.config)
            return _run(
                cfg.specs,
                args,
                name=cfg.name,
                sequential=cfg.sequential,
                runs_dir=cfg.runs_dir,
                stall_after=cfg.stall_after,
                probe_intervals=cfg.probe_intervals,
                profile=(cfg.profile_at, cfg.profile_steps),
                refresh=cfg.refresh,
            )
        return _run(_default_specs(args), args, name="default")
    except UserError as exc:
        print(f"fwtop: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
