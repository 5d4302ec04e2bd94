"""The ``engine`` command: validate, plan, run a spec; write the JSON Schemas.

Exit codes: 0 success; 1 the run failed (bad data, unwritable output);
2 invalid spec or command line; 70 internal error (a bug: please report);
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from engine import __version__, image, pool
from engine.alignment.report import eval_text, plan_text, summary_text
from engine.errors import EXIT_OK, EXIT_SPEC, EngineError
from engine.execute import execute, new_state, with_outputs_in
from engine.loader import load_spec
from engine.plan import build

__all__ = ["main"]

EXIT_INTERNAL = 70
#: ``engine plan``: what is published (or on the host) would change.
EXIT_CHANGES = 2
EXIT_INTERRUPTED = 130

#: Where ``engine schema`` writes by default: the repository's schemas/json.
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas" / "json"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engine",
        description="Run declarative specs: alignment jobs (record linkage to owl:sameAs"
        " links), image recipes, volume pools.",
        epilog="exit codes: 0 ok, 1 run failed, 2 invalid spec or usage, 70 internal error",
    )
    parser.add_argument("--version", action="version", version=f"specengine {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser(
        "validate", help="check specs; report every error with file:line"
    )
    validate.add_argument("specs", nargs="+", type=Path, metavar="SPEC")

    plan = commands.add_parser(
        "plan", help="show what a run would do (reads sources, writes nothing)"
    )
    plan.add_argument("spec", type=Path, metavar="SPEC")

    run = commands.add_parser("run", help="run a spec and write its outputs")
    run.add_argument("spec", type=Path, metavar="SPEC")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bars, no summary")
    run.add_argument(
        "--out-dir", type=Path, help="write the outputs into this folder instead (same file names)"
    )
    run.add_argument(
        "--force", action="store_true", help="image recipes: build again even when cached"
    )

    evaluate = commands.add_parser(
        "eval", help="run without writing; score links and blocking against gold links"
    )
    evaluate.add_argument("spec", type=Path, metavar="SPEC")
    evaluate.add_argument(
        "--gold", type=Path, required=True, help="CSV: a header, then align id, target id per row"
    )
    evaluate.add_argument("--steps", type=int, default=10, help="thresholds in the sweep")

    generate = commands.add_parser(
        "generate",
        help="write a synthetic linkage task (two CSV files and gold links) to try specs on",
        add_help=False,
    )
    generate.add_argument("rest", nargs=argparse.REMAINDER)

    setup = commands.add_parser(
        "setup",
        help="prepare a volume pool's storage host with admin rights (storage-host.yml)",
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

    schema = commands.add_parser("schema", help="write the JSON Schemas of the spec language")
    schema.add_argument(
        "--out", type=Path, default=SCHEMA_DIR, help="folder (default: %(default)s)"
    )
    schema.add_argument(
        "--check", action="store_true", help="exit 1 if the files on disk are not up to date"
    )
    return parser


def _validate(specs: list[Path]) -> int:
    status = EXIT_OK
    for path in specs:
        try:
            spec = load_spec(path)
        except EngineError as exc:
            print(exc.render(), file=sys.stderr)
            status = max(status, exc.exit_code)
            continue
        print(f"{path}: valid {spec.kind} spec '{spec.name}'")
    return status


def _plan(path: Path) -> int:
    spec = load_spec(path)
    plan = build(spec, str(path))
    state = execute(plan, new_state(plan, spec), dry_run=True)
    if plan.kind == "image":
        print(image.plan_text(plan.steps, state, plan.spec_file))
        return EXIT_OK if state.cached else EXIT_CHANGES
    if plan.kind == "volume-pool":
        print(pool.plan_text(state))
        return EXIT_CHANGES if state.changes else EXIT_OK
    print(plan_text(plan, state))
    # Like terraform's -detailed-exitcode: 2 when publishing would change the store.
    if state.publish_diff is not None and state.publish_diff.changes:
        return EXIT_CHANGES
    return EXIT_OK


def _run(path: Path, quiet: bool, out_dir: Path | None = None, force: bool = False) -> int:
    started = time.perf_counter()
    spec = load_spec(path)
    if out_dir is not None:
        spec = with_outputs_in(spec, out_dir.resolve())
    plan = build(spec, str(path))
    progress = not quiet and sys.stderr.isatty()
    state = execute(plan, new_state(plan, spec, progress=progress, force=force))
    if not quiet:
        seconds = time.perf_counter() - started
        if plan.kind == "image":
            print(image.summary_text(state, seconds))
        elif plan.kind == "volume-pool":
            print(pool.summary_text(state, seconds))
        else:
            print(summary_text(state, seconds))
    return EXIT_OK


def _eval(path: Path, gold: Path, steps: int) -> int:
    spec = load_spec(path)
    if spec.kind != "alignment":
        print(
            f"engine: {path}: eval scores alignment specs; this is a {spec.kind} spec",
            file=sys.stderr,
        )
        return EXIT_SPEC
    plan = build(spec, str(path))
    state = execute(plan, new_state(plan, spec), write=False)
    print(eval_text(state, gold, max(1, steps)))
    return EXIT_OK


def _setup(path: Path, quiet: bool) -> int:
    from engine.hosts.ansible import run_playbook
    from schemas.volume_pool import VolumePoolSpec

    spec = load_spec(path)
    if not isinstance(spec, VolumePoolSpec):
        print(f"engine: {path}: setup prepares volume-pool hosts; this is a {spec.kind} spec",
              file=sys.stderr)  # fmt: skip
        return EXIT_SPEC
    started = time.perf_counter()
    progress = None if quiet else (lambda task: print(f"  {task}", file=sys.stderr, flush=True))
    result = run_playbook(pool.setup_run(spec), progress=progress)
    changed = [task for task, status in result.tasks if status == "ok"]
    if not quiet:
        seconds = time.perf_counter() - started
        print(f"storage host {spec.host.address} prepared for {spec.zfs.base}"
              f" ({len(changed)} task(s)) in {seconds:.1f} s")  # fmt: skip
    return EXIT_OK


def _schema(out: Path, check: bool) -> int:
    from schemas import json_schemas

    stale: list[str] = []
    for name, schema in json_schemas().items():
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


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``engine`` console script; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["generate"]:  # its own options (engine.generate's parser)
        from engine.generate import main as generate_main

        return generate_main(argv[1:])
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "validate":
            return _validate(args.specs)
        if args.command == "plan":
            return _plan(args.spec)
        if args.command == "run":
            return _run(args.spec, args.quiet, args.out_dir, args.force)
        if args.command == "eval":
            return _eval(args.spec, args.gold, args.steps)
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
    except EngineError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"engine: {exc.render()}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader went away (``engine plan | head``): not an error of the run.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print("engine: interrupted; previous outputs left as they were", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(
            f"engine: internal error: {type(exc).__name__}: {exc}\n"
            "(this is a bug; run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return EXIT_SPEC


if __name__ == "__main__":
    sys.exit(main())
