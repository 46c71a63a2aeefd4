"""The ``mixup-tune`` command: run, plan, resume, sync, status, runs, analyze.

Bad input of any kind (spec, arguments, data, an unreachable store) is one
line on stderr and exit code 2, with no MLflow run created.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rich.console import Console

if TYPE_CHECKING:
    from .spec import SweepSpec
    from .sweep_end import SweepDrawing

EXIT_USAGE = 2
console = Console(stderr=False, highlight=False)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Version(argparse.Action):
    """``--version``: the package, and the code version every run logs as ``mixup_tune.code_version``
    (the checkout's git commit, ``-dirty`` with local changes); asked of git only when given."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(
            option_strings, dest, nargs=0, default=argparse.SUPPRESS, help="print the code version runs log"
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: object) -> None:
        from . import __version__
        from .records.store import code_version

        print(f"mixup-tune {__version__}, code version {code_version()}")  # stdout, as argparse's own
        parser.exit(0)


def _ui_port(text: str) -> int:
    port = int(text) if text.strip().isdigit() else 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a TCP port (1 to 65535): {text!r}")
    return port


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mixup-tune", description="mixup studies as Ray Tune sweeps, recorded in MLflow.")
    parser.add_argument("--version", action=_Version)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def tracking(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--tracking-uri",
            help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///./mlflow.db)",
        )

    def ray_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--address", help="join a running Ray cluster (HOST:PORT or auto); default: start a local Ray"
        )
        sub.add_argument(
            "--storage",
            help="Ray storage for checkpoints and results (default: ./mixup_tune_results); shared across "
            "nodes",
        )
        sub.add_argument("--quiet", action="store_true", help="no per-trial progress table")
        sub.add_argument(
            "--ui-port",
            type=_ui_port,
            # read as `mlflow ui` reads it, so that the printed link and the UI it starts agree
            default=os.environ.get("MLFLOW_PORT", "5000"),
            metavar="PORT",
            help="the port of the `mlflow ui` command printed at the end (default: $MLFLOW_PORT, else 5000)",
        )

    run = commands.add_parser("run", help="run a sweep file")
    run.add_argument("spec", type=Path, help="sweep file (YAML)")
    run.add_argument("--name", help="sweep name (default: the spec's name)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a spec key, e.g. trainable.epochs=5 or alpha=[0,1]",
    )
    tracking(run)
    ray_options(run)

    plan = commands.add_parser(
        "plan", help="dry run: the trials `run` would start, and those FINISHED in MLflow it would skip"
    )
    plan.add_argument("spec", type=Path, help="sweep file (YAML)")
    plan.add_argument("--name", help="sweep name (default: the spec's name)")
    plan.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    plan.add_argument("--show", type=int, default=40, metavar="N", help="list at most N trials (default 40)")
    tracking(plan)

    resume = commands.add_parser("resume", help="finish a sweep that was interrupted")
    resume.add_argument("name")
    tracking(resume)
    ray_options(resume)

    sync = commands.add_parser(
        "sync",
        help="copy a sweep's results from Ray's storage into MLflow (after the tracking store was down)",
    )
    sync.add_argument("name")
    sync.add_argument(
        "--storage", help="Ray storage the sweep used (default: as recorded on the sweep's parent run)"
    )
    tracking(sync)

    status = commands.add_parser(
        "status", help="how far a sweep has got, from MLflow: counts, each trial's epoch, best so far, ETA"
    )
    status.add_argument("name")
    status.add_argument(
        "--watch",
        type=float,
        nargs="?",
        const=5.0,
        metavar="SECONDS",
        help="look again every SECONDS (default 5) until the sweep ends",
    )
    status.add_argument("--json", action="store_true", help="one JSON object per look, for scripts")
    tracking(status)

    runs = commands.add_parser("runs", help="list a sweep's trials with their params and final metrics")
    runs.add_argument("name")
    runs.add_argument("--csv", type=Path, help="also write the full table here")
    tracking(runs)

    analyze = commands.add_parser("analyze", help="regenerate a sweep's tables and figures")
    analyze.add_argument("name")
    analyze.add_argument("--out", type=Path, help="output folder (default: results/NAME)")
    analyze.add_argument(
        "--partial",
        action="store_true",
        help="a sweep still running: its finished trials, in files marked partial, logged nowhere",
    )
    tracking(analyze)

    check = commands.add_parser(
        "check", help="hold a mixing method to the plugin contract: seeded, resumable, no global RNG, ..."
    )
    check.add_argument(
        "method", help="a registered mixing method (mixup-tune check --list names them)", nargs="?"
    )
    check.add_argument(
        "--plugins", nargs="+", default=[], metavar="PLUGIN", help="modules or .py files to import first"
    )
    check.add_argument(
        "--set",
        dest="options",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="alpha=2, mix.scope=[0.2,0.6]",
    )
    check.add_argument("--list", action="store_true", help="list the registered methods")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":  # a method on tiny data: no tracking store, no Ray
        from .method_check import check_command

        return check_command(args.method, args.plugins, args.options, args.list)
    from .errors import UserError
    from .records import check_tracking, configure_mlflow_client, default_tracking_uri
    from .spec import SpecError

    configure_mlflow_client()
    if args.command in ("run", "resume") and args.address is None and "RAY_ADDRESS" not in os.environ:
        # What Ray 2.60 does for a new local Ray anyway (token authentication on), said explicitly: else Ray
        # warns so on every sweep's stderr. Read as Ray is imported, so here, before it is.
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    tracking_uri = args.tracking_uri or default_tracking_uri()
    try:
        if args.command not in ("run", "plan"):  # plan reads a store only where there is one
            _require_existing_store(tracking_uri)
        # one line for a dead server or a broken store, not a traceback
        if args.command in ("runs", "analyze", "status"):
            check_tracking(tracking_uri)
        return {
            "run": _run,
            "plan": _plan,
            "resume": _resume,
            "sync": _sync,
            "status": _status,
            "runs": _runs,
            "analyze": _analyze,
        }[args.command](args, tracking_uri)
    except (SpecError, UserError) as error:
        print(f"mixup-tune: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _require_existing_store(tracking_uri: str) -> None:
    """Reading a sweep from a sqlite file that is not there would create an empty one: say so instead."""
    from .errors import UserError
    from .records import sqlite_file

    database = sqlite_file(tracking_uri)
    if database is not None and not database.exists():
        raise UserError(
            f"no MLflow database at {database}; run from the sweep's directory or pass --tracking-uri"
        )


# What the driver's records draw, which is the analysis's: the CLI, at the top, hands it down (the driver
# imports no analysis). Module functions, because the snapshot drawer is pickled with the record into Ray's
# saved state; each imports matplotlib only when it draws.


def _log_comparison(sweep: str, tracking_uri: str, metric: str, mode: str, parent_run_id: str) -> int:
    from analysis.compare import log_comparison  # matplotlib and Optuna: only at a sweep's end

    return log_comparison(sweep, tracking_uri, metric, mode, parent_run_id)


def _draw_snapshot(axis: Any, points: Any, target: str, title: str) -> None:
    from analysis.render import draw_snapshot  # the same panel as the analysis's Figure 5

    draw_snapshot(axis, points, target, title)


def _drawing() -> SweepDrawing:
    from .sweep_end import SweepDrawing

    return SweepDrawing(compare=_log_comparison, draw_snapshot=_draw_snapshot)


def _run(args: argparse.Namespace, tracking_uri: str) -> int:
    from .runner import run_sweep
    from .spec import load_spec

    overrides = list(args.overrides) + ([f"name={args.name}"] if args.name else [])
    spec = load_spec(args.spec, overrides)
    _warn_selection(spec)
    outcome = run_sweep(
        spec,
        tracking_uri,
        address=args.address,
        storage=args.storage,
        verbose=0 if args.quiet else 1,
        drawing=_drawing(),
    )
    from .summary import print_summary

    return print_summary(console, outcome, args.ui_port)


def _warn_selection(spec: SweepSpec) -> None:
    """One line on stderr when the sweep's searcher chooses on a test metric (mixup_tune.selection)."""
    from .selection import selection_warning

    warning = selection_warning(spec)
    if warning:
        print(f"mixup-tune: warning: {warning}", file=sys.stderr)


def _plan(args: argparse.Namespace, tracking_uri: str) -> int:
    from .checks import check_sweep_data
    from .plan import plan_sweep, render_plan
    from .search import with_absolute_paths
    from .spec import load_spec

    overrides = list(args.overrides) + ([f"name={args.name}"] if args.name else [])
    spec = load_spec(args.spec, overrides)
    _warn_selection(spec)
    check_sweep_data(with_absolute_paths(spec))  # the data each trial would load, loaded and checked once
    for table in render_plan(plan_sweep(spec, tracking_uri), spec, shown=args.show):
        console.print(table)
    return 0


def _resume(args: argparse.Namespace, tracking_uri: str) -> int:
    from .records import check_tracking
    from .runner import load_sweep_spec, run_sweep

    spec, recorded_storage = load_sweep_spec(check_tracking(tracking_uri), args.name)
    outcome = run_sweep(
        spec,
        tracking_uri,
        address=args.address,
        storage=args.storage or recorded_storage,
        verbose=0 if args.quiet else 1,
        restore=True,
        drawing=_drawing(),
    )
    from .summary import print_summary

    return print_summary(console, outcome, args.ui_port)


def _sync(args: argparse.Namespace, tracking_uri: str) -> int:
    from .runner import sync_recorded_sweep

    report = sync_recorded_sweep(tracking_uri, args.name, args.storage, draw_snapshot=_draw_snapshot)
    _print_rows(
        f"sweep {args.name}: Ray's storage -> MLflow",
        [
            ("trials in Ray's storage", str(report.trials)),
            ("runs created", str(report.runs_created)),
            ("epoch results copied", str(report.epochs_logged)),
            ("runs given their end (FINISHED / FAILED)", str(report.runs_ended)),
            ("runs found RUNNING (driver gone), reconciled", str(report.reconciled)),
            ("trials not finished (mixup-tune resume runs them)", str(report.unfinished)),
        ],
    )
    return 0


def _print_rows(title: str, rows: list[tuple[str, str]]) -> None:
    from .summary import print_rows

    print_rows(console, title, rows)


def _status(args: argparse.Namespace, tracking_uri: str) -> int:
    from mlflow.tracking import MlflowClient

    from .errors import UserError
    from .status import show_status

    if args.watch is not None and args.watch <= 0:
        raise UserError(f"--watch {args.watch:g}: the interval must be a positive number of seconds")
    show_status(MlflowClient(tracking_uri), args.name, args.watch, args.json, console)
    return 0


def _runs(args: argparse.Namespace, tracking_uri: str) -> int:
    from analysis.runs import NoRunsError, load_runs, varying_options

    from .errors import UserError
    from .runs_table import runs_table

    try:
        runs = load_runs(args.name, tracking_uri)
    except NoRunsError as error:
        raise UserError(str(error)) from None
    console.print(runs_table(runs, args.name, varying_options(runs), console.width))
    if args.csv:
        runs.to_csv(args.csv, index=False)
        console.print(f"wrote {args.csv}")
    return 0


def _analyze(args: argparse.Namespace, tracking_uri: str) -> int:
    from analysis import NoRunsError, SweepRunning, analyze

    from .errors import UserError

    out = args.out or Path("results") / args.name
    try:
        files = analyze(args.name, tracking_uri, out, partial=args.partial)
    except (NoRunsError, SweepRunning) as error:
        raise UserError(str(error)) from None
    for path in files:
        console.print(f"wrote {path}")
    if any(path.stem.endswith("-partial") for path in files):
        console.print("Partial: the sweep is still running; nothing was logged to MLflow.")
    else:
        console.print("Also logged to the sweep's parent run, under artifacts/analysis/.")
    return 0


def console_main() -> None:
    """The ``mixup-tune`` command: ``main``, then a quick exit.

    Ray is stopped here, explicitly, and then the process ends at once: after
    a sweep, the interpreter's own teardown of Ray's and torch's native
    modules takes another 1.5 s and writes nothing. Every MLflow write is
    synchronous and done by now; the buffered streams are flushed first.
    """
    code = main()
    if "ray" in sys.modules:
        from .ray_session import stop_ray

        stop_ray()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    console_main()
