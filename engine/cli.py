"""The ``engine`` command: validate, plan, run, evaluate a spec; write the JSON Schemas.

Exit codes: 0 success; 1 the run failed (bad data, unwritable output,
outputs another run is writing); 2 invalid spec or command line; 70 internal
error (a bug: please report); 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM), never with a traceback (engine.interrupts). ``engine plan
--detailed-exitcode`` follows Terraform instead: 0 no change, 1 any error
(an invalid spec included), 2 changes pending. ``--json`` (plan, run, eval)
prints one JSON document on stdout, an ``{"error": ...}`` document when the
command fails (its message still goes to stderr, with the same exit code).
``-v``/``-vv``/``--log-level`` log what the engine does on stderr
(engine.logs).
"""

from __future__ import annotations

# Before anything else: an interrupt during the imports below then ends quietly.
import engine.interrupts as interrupts

# isort: split
import argparse
import json
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import engine as api
from engine import __version__, kinds, logs
from engine.documents import dumps, error_document, eval_document, plan_document, run_document
from engine.errors import (
    EXIT_CHANGES,
    EXIT_DATA,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_SPEC,
    EngineError,
    UsageError,
)
from engine.kinds import Plan
from engine.plan import setup_plan

__all__ = [
    "EXIT_CHANGES",
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_TERMINATED",
    "SCHEMA_DIR",
    "main",
    "parse_steps",
]

EXIT_TERMINATED = interrupts.EXIT_TERMINATED

#: The checkout's root (two levels up from this file), when this is a checkout.
_ROOT = Path(__file__).resolve().parent.parent
#: Where a specengine checkout keeps its JSON Schemas (``engine schema``'s default there).
SCHEMA_DIR = _ROOT / "schemas" / "json"
#: Options that come before the command (``engine -v run ...``) and take a value.
_GLOBAL_WITH_VALUE = ("--log-level",)
#: Commands that take ``--json``.
_JSON_COMMANDS = ("plan", "run", "eval", "fit")


class _UsageExit(Exception):
    """argparse's error, raised instead of exiting so that main() picks the exit code."""

    def __init__(self, usage: str, message: str) -> None:
        super().__init__(message)
        self.usage = usage
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageExit(self.format_usage(), f"{self.prog}: error: {message}")


class _PlanRefused(Exception):
    """A plan shown, then refused: the error, and the plan's JSON document."""

    def __init__(self, error: EngineError, document: dict[str, Any]) -> None:
        super().__init__(str(error))
        self.error = error
        self.document = document


def checkout_root() -> Path | None:
    """The specengine checkout this engine runs from (its pyproject.toml), or None (a wheel)."""
    try:
        text = (_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return None
    return _ROOT if re.search(r'^name\s*=\s*"specengine"', text, re.MULTILINE) else None


def _logging_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=default,
        help="log what the engine does on stderr: -v each step, page, batch and task (INFO),"
        " -vv details (DEBUG)",
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=list(logs.LEVELS),
        default=default,
        help="the log level (default: warning; overrides -v)",
    )


#: The most thresholds ``engine eval --steps`` sweeps: each is a pass over the pairs
#: (``--steps 1000000`` ran for minutes).
MAX_STEPS = 1000


def parse_steps(text: str) -> int | list[float]:
    """``engine eval --steps``: a count of thresholds (``10``) or the thresholds (``0.1,0.5``).

    Parsed here, not by a kind: the command line imports no kind until it runs one.

    Raises ``argparse.ArgumentTypeError`` (the command line's own error, exit 2).
    """
    value = text.strip()
    if value.isdigit():
        count = int(value)
        if count < 1:
            raise argparse.ArgumentTypeError(f"{text!r}: the sweep needs at least 1 threshold")
        if count > MAX_STEPS:
            raise argparse.ArgumentTypeError(
                f"{text!r}: the sweep takes at most {MAX_STEPS:,} thresholds"
            )
        return count
    try:
        thresholds = [float(part) for part in value.split(",")]
    except ValueError:
        thresholds = []
    if len(thresholds) > MAX_STEPS:
        raise argparse.ArgumentTypeError(
            f"{text[:40]!r}...: the sweep takes at most {MAX_STEPS:,} thresholds"
        )
    if not thresholds or any(not math.isfinite(t) or t < 0 for t in thresholds):
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a number of thresholds (10) or comma-separated thresholds >= 0"
            " (0.1,0.25,0.5)"
        )
    return sorted(set(thresholds))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="engine",
        description="Run declarative specs: alignment jobs (record linkage to owl:sameAs"
        " links), image recipes, volume pools.",
        epilog="exit codes: 0 ok, 1 run failed, 2 invalid spec or usage, 70 internal error,"
        " 130 interrupted, 143 terminated; plan --detailed-exitcode: 0 no change, 1 error,"
        " 2 changes pending",
    )
    parser.add_argument("--version", action="version", version=f"specengine {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    _logging_options(parser, None)
    # The same options after the command (`engine run -v SPEC`); SUPPRESS keeps the value
    # given before it when they are not repeated there.
    common = _Parser(add_help=False)
    _logging_options(common, argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="check specs; report every error with file:line", parents=[common]
    )
    validate.add_argument("specs", nargs="+", type=Path, metavar="SPEC")
    validate.add_argument(
        "--sources",
        action="store_true",
        help="also check the columns each spec names against its sources' headers",
    )

    plan = commands.add_parser(
        "plan", help="show what a run would do (reads sources, writes nothing)", parents=[common]
    )
    plan.add_argument("spec", type=Path, metavar="SPEC")
    plan.add_argument(
        "--detailed-exitcode",
        action="store_true",
        help="exit 0 when nothing would change, 2 when changes are pending, 1 on any error",
    )
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")

    run = commands.add_parser("run", help="run a spec and write its outputs", parents=[common])
    run.add_argument("spec", type=Path, metavar="SPEC")
    run.add_argument(
        "--json",
        action="store_true",
        help="print the summary and the outputs with their sha256 as one JSON document",
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars, no summary")
    run.add_argument(
        "--out-dir", type=Path, help="write the outputs into this folder instead (same file names)"
    )
    run.add_argument(
        "--force", action="store_true", help="image recipes: build again even when cached"
    )

    evaluate = commands.add_parser(
        "eval",
        help="run without writing; score links and blocking against gold links",
        parents=[common],
    )
    evaluate.add_argument("spec", type=Path, metavar="SPEC")
    evaluate.add_argument(
        "--gold",
        type=Path,
        help="CSV: a header, then align id, target id per row (default: the spec's curation)",
    )
    evaluate.add_argument(
        "--steps",
        type=parse_steps,
        default=10,
        metavar="N|T,T,...",
        help="the threshold sweep: N thresholds up to twice the spec's (default: %(default)s),"
        " or the thresholds themselves, comma-separated (0.1,0.25,0.5)",
    )
    evaluate.add_argument(
        "--json", action="store_true", help="print the figures as one JSON document"
    )

    fit = commands.add_parser(
        "fit",
        help="fit an alignment spec's scoring model from its data and write it into the spec",
        parents=[common],
    )
    fit.add_argument("spec", type=Path, metavar="SPEC")
    fit.add_argument(
        "--gold",
        type=Path,
        help="learn from these links (CSV as eval reads it) instead of unsupervised EM",
    )
    fit.add_argument(
        "--out", type=Path, help="write the fitted spec here instead of editing SPEC in place"
    )
    fit.add_argument(
        "--term-frequency",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        default=[],
        metavar="ATTR,...",
        help="weigh these attributes' exact agreements by how common the value is"
        " (kept by later fits)",
    )
    fit.add_argument("--json", action="store_true", help="print the model as one JSON document")

    generate = commands.add_parser(
        "generate",
        help="write a synthetic linkage task (two CSV files and gold links) to try specs on",
        add_help=False,
    )
    generate.add_argument("rest", nargs=argparse.REMAINDER)

    setup = commands.add_parser(
        "setup",
        help="prepare a volume pool's storage host with admin rights (storage-host.yml)",
        parents=[common],
    )
    setup.add_argument("spec", type=Path, metavar="SPEC")
    setup.add_argument("--quiet", "-q", action="store_true", help="no progress")

    from engine import lab

    lab.add_arguments(
        commands.add_parser("lab", help="start, stop or show a lab storage host under QEMU")
    )

    from engine.web import serve

    serve.add_arguments(
        commands.add_parser(
            "serve", help="a local web interface: browse, compose, run specs and see results"
        )
    )

    schema = commands.add_parser(
        "schema", help="write the JSON Schemas of the spec language", parents=[common]
    )
    schema.add_argument(
        "--out",
        type=Path,
        help="folder to write into (required, except in a specengine checkout: its schemas/json)",
    )
    schema.add_argument(
        "--check", action="store_true", help="exit 1 if the files on disk are not up to date"
    )
    return parser


def _validate(specs: list[Path], sources: bool = False) -> int:
    status = EXIT_OK
    for path in specs:
        try:
            spec = api.load_spec(path)
            if sources:
                kinds.get(spec.kind).check_sources(spec, path)
        except EngineError as exc:
            print(f"engine: {exc.render()}", file=sys.stderr)
            status = max(status, exc.exit_code)
            continue
        print(f"{path}: valid {spec.kind} spec '{spec.name}'")
    return status


def pending_changes(plan: Plan, state: Any) -> bool:
    """Whether running the plan would change something outside the run's own files.

    As its kind says (engine.kinds.Kind.pending_changes): an alignment that
    would change the store's graph it publishes to (a spec without
    ``publish:`` never has changes pending: a run rewrites its files whatever
    they hold), an image recipe not built yet (no cache entry), a volume pool
    that differs from its host.
    """
    return kinds.get(plan.kind).pending_changes(state)


def _plan(path: Path, as_json: bool = False, detailed: bool = False) -> int:
    spec = api.load_spec(path)
    plan = api.build_plan(spec, path)
    state = api.run(plan, spec, dry_run=True)
    changes = pending_changes(plan, state)
    refusal = kinds.get(plan.kind).refusal(state)
    if as_json:
        document = plan_document(plan, state, changes)
        if refusal is not None:  # the plan goes into the error document
            raise _PlanRefused(refusal, document)
        print(dumps(document))
    else:
        print(api.explain(plan, state))
    if refusal is not None:  # a rule over its max_pairs: the plan above, then the refusal
        raise refusal
    return EXIT_CHANGES if detailed and changes else EXIT_OK


def _run(
    path: Path,
    quiet: bool,
    out_dir: Path | None = None,
    force: bool = False,
    as_json: bool = False,
) -> int:
    started = time.perf_counter()
    spec = api.load_spec(path)
    if out_dir is not None:
        spec = api.with_outputs_in(spec, out_dir.resolve())
    plan = api.build_plan(spec, path)
    progress = not quiet and sys.stderr.isatty()
    state = api.run(plan, spec, progress=progress, force=force)
    seconds = time.perf_counter() - started
    if as_json:  # the document replaces the summary, -q or not
        print(dumps(run_document(plan, state, seconds)))
    elif not quiet:
        print(api.summary(plan, state, seconds))
    return EXIT_OK


def _eval(path: Path, gold: Path | None, steps: int | list[float], as_json: bool = False) -> int:
    spec = api.load_spec(path)
    kind = kinds.get(spec.kind)
    if not kind.evaluates:
        scored = " and ".join(name for name in kinds.names() if kinds.get(name).evaluates)
        raise UsageError(
            f"{path}: engine eval scores specs of kind {scored}; this spec is of kind {spec.kind}"
        )
    plan = api.build_plan(spec, path)
    state = api.run(plan, spec, write=False)
    if as_json:
        print(dumps(eval_document(plan, kind.eval_figures(state, gold, steps))))
    else:
        print(kind.eval_text(state, gold, steps))
    return EXIT_OK


def _fit(
    path: Path,
    gold: Path | None,
    out: Path | None,
    as_json: bool = False,
    term_frequency: Sequence[str] = (),
) -> int:
    spec = api.load_spec(path)
    kind = kinds.get(spec.kind)
    if not kind.fits:
        fitted = " and ".join(name for name in kinds.names() if kinds.get(name).fits)
        raise UsageError(
            f"{path}: engine fit fits specs of kind {fitted}; this spec is of kind {spec.kind}"
        )
    options = {"term_frequency": list(term_frequency)}
    text, figures = kind.fit(spec, path, gold=gold, out=out, options=options)
    if as_json:
        print(dumps({"command": "fit", "spec_file": str(path), **figures}))
    else:
        print(text)
    return EXIT_OK


def _setup(path: Path, quiet: bool) -> int:
    spec = api.load_spec(path)
    plan = setup_plan(spec, str(path))
    if plan is None:
        prepared = " and ".join(name for name in kinds.names() if kinds.get(name).has_setup)
        raise UsageError(
            f"{path}: engine setup prepares the hosts of kind {prepared}; this spec is of kind {spec.kind}"
        )
    started = time.perf_counter()
    # The kind's setup plan, run by the same executor; its progress is each task.
    state = api.run(plan, spec, progress=not quiet)
    if not quiet:
        print(kinds.get(plan.kind).setup_text(state, time.perf_counter() - started))
    return EXIT_OK


def _schema(out: Path | None, check: bool) -> int:
    from schemas.spec import json_schemas

    if out is None:
        # Outside a checkout the default would be site-packages: the user names the folder.
        root = checkout_root()
        if root is None:
            raise UsageError(
                "schema: name the folder to write the JSON Schemas into: engine schema --out DIR"
                " (only in a specengine checkout is the default its schemas/json)"
            )
        out = root / "schemas" / "json"

    stale: list[str] = []
    for name, schema in json_schemas(kinds.models()).items():
        text = json.dumps(schema, indent=2, sort_keys=True) + "\n"
        target = out / name
        if check:
            if not target.is_file() or target.read_text(encoding="utf-8") != text:
                stale.append(str(target))
            continue
        out.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
        print(f"wrote {target}")
    if stale:
        print("stale JSON Schema (run `engine schema`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return EXIT_OK


def _command_at(argv: list[str]) -> int:
    """The index of the command in ``argv``, past the options before it."""
    index = 0
    while index < len(argv) and argv[index].startswith("-"):
        index += 2 if argv[index] in _GLOBAL_WITH_VALUE else 1
    return index


def _dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command == "validate":
        return _validate(args.specs, args.sources)
    if args.command == "plan":
        return _plan(args.spec, args.json, args.detailed_exitcode)
    if args.command == "run":
        return _run(args.spec, args.quiet, args.out_dir, args.force, args.json)
    if args.command == "eval":
        return _eval(args.spec, args.gold, args.steps, args.json)
    if args.command == "fit":
        return _fit(args.spec, args.gold, args.out, args.json, args.term_frequency)
    if args.command == "setup":
        return _setup(args.spec, args.quiet)
    if args.command == "lab":
        from engine import lab

        return lab.command(args)
    if args.command == "serve":
        from engine.web import serve

        return serve.command(args)
    if args.command == "schema":
        return _schema(args.out, args.check)
    parser.error(f"unknown command {args.command}")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``engine`` console script; returns the exit code.

    Ctrl-C and SIGTERM, at any moment, end the command with a message and
    exit 130 or 143 (outputs rolled back by their transaction), never with a
    traceback.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    at = _command_at(argv)
    command = argv[at] if at < len(argv) else ""
    as_json = command in _JSON_COMMANDS and "--json" in argv[at:]
    with interrupts.terminate_as_interrupt():
        try:
            return _main(argv, at, command, as_json)
        except KeyboardInterrupt as interrupt:
            return _interrupted(interrupt, command, as_json)


def _interrupted(interrupt: KeyboardInterrupt, command: str, as_json: bool) -> int:
    """Say what stopped the command (and what became of the outputs); its exit code."""
    message = interrupts.what(interrupt)
    # Only renderers.atomic adds the note: not loaded, nothing was committed (and an
    # interrupt is no time to import it, with numpy, for a constant).
    atomic = sys.modules.get("renderers.atomic")
    if atomic is not None and atomic.COMMITTED_NOTE in getattr(interrupt, "__notes__", ()):
        message += " just after the outputs were written"
    elif command == "run":
        message += "; previous outputs left as they were"
    print(f"engine: {message}", file=sys.stderr)
    code = interrupts.exit_code(interrupt)
    if as_json:
        _print_document(dumps(error_document({"kind": "interrupted", "message": message}, code)))
    return code


def _main(argv: list[str], at: int, command: str, as_json: bool) -> int:
    # Terraform's convention: with --detailed-exitcode every error is 1, 2 is "changes".
    detailed = command == "plan" and "--detailed-exitcode" in argv[at:]
    parser = _parser()
    try:
        if command == "generate":  # its own options (engine.generate's parser)
            args = parser.parse_args([*argv[:at], "generate"])
        else:
            args = parser.parse_args(argv)
    except _UsageExit as exc:
        print(exc.usage + exc.message, file=sys.stderr)
        code = EXIT_DATA if detailed else EXIT_SPEC
        if as_json:
            _print_document(dumps(error_document({"kind": "usage", "message": exc.message}, code)))
        return code
    except SystemExit as exc:  # --help, --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    logs.configure(logs.level_for(args.verbose or 0, args.log_level))
    if command == "generate":
        from engine.generate import main as generate_main

        return generate_main(argv[at + 1 :])
    plan: dict[str, Any] | None = None
    try:
        return _dispatch(args, parser)
    except (EngineError, _PlanRefused) as caught:
        if args.debug:
            traceback.print_exc()
        error = caught.error if isinstance(caught, _PlanRefused) else caught
        plan = caught.document if isinstance(caught, _PlanRefused) else None
        print(f"engine: {error.render()}", file=sys.stderr)
        code, details = error.exit_code, error.details()
    except BrokenPipeError:
        # The reader went away (``engine plan | head``): not an error of the run.
        _stdout_to_devnull()
        return EXIT_OK
    except Exception as exc:
        interrupt = interrupts.received()
        if interrupt is not None:  # a library turned the interrupt into its own error
            return _interrupted(interrupt, command, as_json)
        if args.debug:
            traceback.print_exc()
        message = f"internal error: {type(exc).__name__}: {exc}"
        print(
            f"engine: {message}\n(this is a bug; run again with --debug for the traceback)",
            file=sys.stderr,
        )
        code, details = EXIT_INTERNAL, {"kind": "internal", "message": message}
    if detailed:
        code = EXIT_DATA
    if as_json:
        document = error_document(details, code)
        if plan is not None:
            document["plan"] = plan
        _print_document(dumps(document))
    return code


def _stdout_to_devnull() -> None:
    # Python's own flush at exit would fail again on the closed pipe (a traceback, exit 120).
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _print_document(text: str) -> None:
    """Print an error's JSON document; a reader gone (``| head -c1``) keeps the error's exit code."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        _stdout_to_devnull()


if __name__ == "__main__":
    sys.exit(main())
