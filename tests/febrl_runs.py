"""Runs of the ``engine`` command as a process, over the Febrl 4 data: about a second each.

For the tests that kill, interrupt or race runs (tests/test_kills.py,
tests/engine/test_cli_signals.py). Two variants of one alignment ("a" and
"b": another name and threshold) write the same five outputs with different
content, so that a folder tells whose outputs it holds.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from renderers import is_transient

ROOT = Path(__file__).resolve().parent.parent
THRESHOLDS = {"a": 5.5, "b": 4.0}
OUTPUTS = ("links.nt", "links.void.ttl", "links.csv", "links.sssom.tsv", "report.html")

_SPEC = """\
kind: alignment
name: kill{variant}
sources:
  align:
    csv: {data}/febrl4a.csv
    id: {{template: "http://example.org/febrl/{{rec_id}}"}}
  target:
    csv: {data}/febrl4b.csv
    id: {{template: "http://example.org/febrl/{{rec_id}}"}}
attributes:
  - {{name: given_name, metric: jaro_winkler, weight: 1.5, missing: 0.5}}
  - {{name: surname, metric: jaro_winkler, weight: 1.5, missing: 0.5}}
  - {{name: address_1, metric: {{levenshtein: {{normalised: true, tokens: false}}}}, weight: 1}}
  - {{name: suburb, metric: jaro_winkler, weight: 1, missing: 0.5}}
  - {{name: date_of_birth, metric: {{levenshtein: {{normalised: true, tokens: false}}}}, weight: 1.5}}
  - {{name: soc_sec_id, metric: {{levenshtein: {{normalised: true, tokens: false}}}}, weight: 1.5}}
blocking:
  union:
    - key: {{attribute: date_of_birth}}
    - key: {{attribute: soc_sec_id}}
    - key: {{attribute: [surname, given_name], normalise: [soundex]}}
threshold: {threshold}
matching: one-to-one
outputs:
  - {{rdf: out/links.nt, void: out/links.void.ttl}}
  - {{csv: out/links.csv}}
  - {{sssom: out/links.sssom.tsv}}
  - {{html: out/report.html}}
"""


def write_specs(folder: Path) -> dict[str, Path]:
    """The two variants' specs in ``folder`` (both write ``folder/out``)."""
    specs = {}
    for variant, threshold in THRESHOLDS.items():
        path = folder / f"kill{variant}.yaml"
        data = ROOT / "data" / "febrl"
        path.write_text(_SPEC.format(variant=variant, threshold=threshold, data=data))
        specs[variant] = path
    return specs


def engine_argv(*args: str, script: bool = False) -> list[str]:
    """The ``engine`` command line: its console script, or ``python -m engine``."""
    if script:
        return [str(Path(sys.executable).parent / "engine"), *args]
    return [sys.executable, "-m", "engine", *args]


def environment() -> dict[str, str]:
    """The environment of the runs: this checkout's code."""
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``engine ARGS`` to its end."""
    return subprocess.run(
        engine_argv(*args),
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def start(*args: str, cwd: Path, script: bool = False) -> subprocess.Popen[str]:
    """Start ``engine ARGS`` (stdout and stderr captured)."""
    return subprocess.Popen(
        engine_argv(*args, script=script),
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: Callable[[], bool], timeout: float = 30, what: str = "") -> None:
    """Poll ``condition`` until it holds; AssertionError naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.005)


def locked(out: Path) -> bool:
    """Whether a run holds (or a killed run left) the lock of an output in ``out``."""
    return out.is_dir() and any(p.name.endswith(".specengine-lock") for p in out.iterdir())


def transient(folder: Path) -> list[str]:
    """The engine's transient files (and any hidden file) under ``folder``."""
    return sorted(
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if is_transient(p.name) or p.name.startswith(".")
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class OutputSets:
    """Tells which variant's run wrote a folder of outputs, and that it is one run's."""

    def __init__(self) -> None:
        #: sha256 of the outputs that are the same in every run of a variant.
        self.fixed: dict[str, dict[str, str]] = {}

    def learn(self, variant: str, out: Path) -> None:
        """Record the fixed outputs of a complete run of ``variant`` in ``out``."""
        self.fixed[variant] = {name: digest(out / name) for name in ("links.nt", "links.csv")}

    def whose(self, out: Path) -> str | None:
        """The variant whose one run wrote every output in ``out``, or None (a mixed set)."""
        try:
            texts = {name: (out / name).read_bytes() for name in OUTPUTS}
        except FileNotFoundError:
            return None
        labels: set[str | None] = set()
        for name in ("links.nt", "links.csv"):
            sha = hashlib.sha256(texts[name]).hexdigest()
            labels.add(next((v for v, d in self.fixed.items() if d[name] == sha), None))
        for name, pattern in (
            ("links.void.ttl", rb"urn:specengine:kill(\w):linkset"),
            ("links.sssom.tsv", rb"mapping_set_title: kill(\w)"),
            ("report.html", rb"<h1>kill(\w)</h1>"),
        ):
            found = re.search(pattern, texts[name])
            labels.add(found.group(1).decode() if found else None)
        if len(labels) != 1:
            return None
        # One run's: the run the VoID description names is the one the report shows.
        stamp = re.search(
            rb"run:(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)(\d{6})Z", texts["links.void.ttl"]
        )
        assert stamp is not None
        y, mo, d, h, mi, s, us = (part.decode() for part in stamp.groups())
        if f"{y}-{mo}-{d}T{h}:{mi}:{s}.{us}".encode() not in texts["report.html"]:
            return None
        return labels.pop()
