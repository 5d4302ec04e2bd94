"""Helpers shared by the peer runners (standard library only: each runs in its tool's venv).

The blocking keys are the specengine spec's, handed over by the harness as JSON (a list of
``{"parts": [field, ...], "soundex": bool}``): a key is the field's value, or the American
Soundex of each token (as the engine's ``soundex`` normaliser writes it), and a composite key
joins its parts and is missing when any part is, as in the engine. Every tool computes its key
columns with :func:`key_value`, so all of them block on the very same keys.
"""

from __future__ import annotations

import csv
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

FIELDS = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
#: (field, kind, weight): the spec's attributes; kind is jaro_winkler, levenshtein or exact.
ATTRIBUTES = (
    ("given_name", "jaro_winkler", 1.5),
    ("surname", "jaro_winkler", 1.5),
    ("street_number", "exact", 0.5),
    ("address_1", "levenshtein", 1.0),
    ("suburb", "jaro_winkler", 1.0),
    ("postcode", "levenshtein", 1.0),
    ("state", "exact", 0.25),
    ("date_of_birth", "levenshtein", 1.5),
    ("soc_sec_id", "levenshtein", 1.5),
)

_CODES = {
    **dict.fromkeys("BFPV", "1"),
    **dict.fromkeys("CGJKQSXZ", "2"),
    **dict.fromkeys("DT", "3"),
    "L": "4",
    **dict.fromkeys("MN", "5"),
    "R": "6",
}
_LETTERS = re.compile(r"[A-Z]+")


def _unaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _code(letters: str) -> str:
    first = letters[0]
    codes: list[str] = []
    last = _CODES.get(first, "")
    for letter in letters[1:]:
        code = _CODES.get(letter)
        if code is None:
            if letter not in "HW":
                last = ""
            continue
        if code != last:
            codes.append(code)
            if len(codes) == 3:
                break
        last = code
    return (first + "".join(codes) + "000")[:4]


def soundex(value: str | None) -> str | None:
    """Per-token American Soundex codes joined by spaces; None when there is no letter."""
    if not value:
        return None
    text = _unaccent(value).upper().replace("'", "")
    tokens = _LETTERS.findall(text)
    return " ".join(_code(t) for t in tokens) or None


def key_name(key: dict[str, Any]) -> str:
    """The column name of a blocking key: ``key_surname_given_name_sdx``..."""
    return "key_" + "_".join(key["parts"]) + ("_sdx" if key["soundex"] else "")


def key_value(get: Callable[[str], str | None], key: dict[str, Any]) -> str | None:
    """A record's key (``get`` reads a field; empty or None is missing); None when missing."""
    parts = []
    for field in key["parts"]:
        value = get(field) or None
        if value is not None and key["soundex"]:
            value = soundex(value)
        if value is None:
            return None
        parts.append(value)
    return "\x1f".join(parts)


def read_rows(path: str | Path) -> list[dict[str, str]]:
    """All rows of a CSV file, every value a string ("" when empty)."""
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def greedy_one_to_one(scored: Iterable[tuple[str, str, float]]) -> list[tuple[str, str]]:
    """One-to-one links from (a, b, score) triples, best score (highest) first, greedily."""
    used_a: set[str] = set()
    used_b: set[str] = set()
    out: list[tuple[str, str]] = []
    for a, b, _ in sorted(scored, key=lambda t: (-t[2], t[0], t[1])):
        if a not in used_a and b not in used_b:
            used_a.add(a)
            used_b.add(b)
            out.append((a, b))
    return out


def write_links(path: str | Path, links: Iterable[tuple[str, str]]) -> int:
    """Write ``rec_id_a,rec_id_b`` rows; return how many."""
    n = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["rec_id_a", "rec_id_b"])
        for a, b in links:
            writer.writerow([a, b])
            n += 1
    return n


def report(**info: object) -> None:
    """Tell the harness what the run found (one JSON line on stdout, after a marker)."""
    print("PEER-RESULT " + json.dumps(info), flush=True)
    sys.stdout.flush()


def nazca_links(
    aligner: Any, refset: list[Any], targetset: list[Any], out: Path, started: float, **info: object
) -> None:
    """Run a Nazca aligner, pick one-to-one links greedily, write them and report."""
    import time

    _, matched = aligner.align(refset, targetset, get_matrix=False)
    aligned = time.perf_counter()
    scored = [
        (refset[i][0], targetset[j][0], -float(d)) for i, found in matched.items() for j, d in found
    ]
    n = write_links(out, greedy_one_to_one(scored))
    done = time.perf_counter()
    report(
        candidate_pairs=aligner.nb_comparisons,
        **info,
        above_threshold=len(scored),
        links=n,
        stages={"align": aligned - started, "one_to_one": done - aligned},
    )


def args() -> tuple[Path, Path, Path, list[dict[str, Any]]]:
    """``run_<tool>.py ALIGN.csv TARGET.csv OUT_LINKS.csv KEYS_JSON``."""
    if len(sys.argv) != 5:
        raise SystemExit(f"usage: {sys.argv[0]} ALIGN.csv TARGET.csv OUT_LINKS.csv KEYS_JSON")
    keys = json.loads(sys.argv[4])
    return Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), keys
