"""Deterministic generators of Febrl-like record-linkage tasks.

Two generators write an *align* file, a *target* file and the gold links between them:

``people``
    Person records with exactly the columns of the Febrl data sets (``rec_id, given_name,
    surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth,
    soc_sec_id``). File A holds the originals (``rec-<i>-org``); file B holds one corrupted
    duplicate (``rec-<i>-dup-0``) of a share of them plus fresh records. The corruption model
    (:class:`ErrorRates`) imitates Febrl 4: most duplicates have 1 to 3 modified fields.
``places``
    Place records (``id, name, country, lat, long, population``) clustered around cities,
    whose duplicates have jittered coordinates and spelling variants of their names, for
    geographic specs.

Everything is drawn from ``numpy.random.default_rng(seed)`` in a fixed order, so the same
``(n, seed)`` (and options) always writes byte-identical files. Work is vectorised with numpy;
Python runs per record only to build strings and to corrupt the fields of duplicates.

The generators draw from word lists kept as data files (``data/``, read by
:mod:`engine.generate.data`). The modules: :mod:`~engine.generate.people` and
:mod:`~engine.generate.places` (the generators), :mod:`~engine.generate.rates` (the error
model), :mod:`~engine.generate.noise` (string corruptions), :mod:`~engine.generate.pools`
(the value pools of person records), :mod:`~engine.generate.output` (writing a task).

Command line::

    engine generate people --size 200000 --seed 1 --out data/gen
    engine generate places --size 50000 --seed 1 --out data/gen
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from engine.generate.noise import NICKNAMES
from engine.generate.output import GeneratedTask
from engine.generate.people import PEOPLE_COLUMNS, people
from engine.generate.places import PLACES_COLUMNS, places
from engine.generate.rates import PEOPLE_FIELDS, ErrorRates

__all__ = [
    "NICKNAMES",
    "PEOPLE_COLUMNS",
    "PEOPLE_FIELDS",
    "PLACES_COLUMNS",
    "ErrorRates",
    "GeneratedTask",
    "main",
    "people",
    "places",
]


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``generate {people,places} --size N --seed S --out DIR``: write a task, return 0.

    Returns 2 for an invalid command line (after argparse's message) and 1 when the files
    cannot be written.
    """
    parser = argparse.ArgumentParser(
        prog="engine generate",
        description="Write a deterministic Febrl-like linkage task: an align file, a target "
        "file and the gold links.",
    )
    parser.add_argument("kind", choices=("people", "places"), help="the kind of records")
    parser.add_argument("--size", type=_positive, required=True, help="records per file")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--duplicates", type=float, default=1.0,
                        help="share of the align records with a duplicate (default 1.0)")  # fmt: skip
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2
    start = time.perf_counter()
    generate = people if args.kind == "people" else places
    try:
        task = generate(args.size, args.seed, args.out, duplicates=args.duplicates)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    print(
        f"{args.kind}: {task.n_align} + {task.n_target} records, {task.n_links} links "
        f"-> {task.align}, {task.target}, {task.gold} ({elapsed:.1f} s)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
