"""`engine fit` against `engine run` of the spec it fits, whole processes side by side.

Usage: python bench/fit.py [--sizes febrl4,50k] [--repeat 3] [--src DIR]

Run it with the project's interpreter (``.venv/bin/python``). The tasks are those of
``bench/peers.py`` (``febrl4`` is ``data/febrl/``; ``50k`` and ``200k`` are generated with
``engine.generate.people(n, seed=0)`` into ``bench/data/<size>/``), with the spec it writes
(``specs/febrl4.yaml``'s attributes and blocking). Each task's spec loses its hand-set
scoring (every ``weight`` and ``missing``, the ``threshold``): that is the spec a user gives
``engine fit``. Then, ``--repeat`` times, in turn: ``engine fit SPEC --out FITTED`` and
``engine run -q --out-dir TMP FITTED``, each a fresh process timed with ``perf_counter`` and
measured with ``os.wait4`` (CPU seconds, peak RSS). The table shows medians and the ratios
fit / run of wall and CPU seconds taken pair by pair (pairing keeps the ratio meaningful on a
busy machine), and the F1 of the fitted spec against the task's gold links (``engine eval
--json``). ``--src DIR`` runs every command from another source tree (``python -m engine``
with it first on ``PYTHONPATH``), to measure another version side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # bench/ is not a package: found through sys.path


def unfitted(spec: Path, folder: Path) -> Path:
    """The spec without its hand-set scoring, written beside it (its relative paths hold)."""
    data = yaml.safe_load(spec.read_text(encoding="utf-8"))
    data.pop("threshold", None)
    for attribute in data["attributes"]:
        attribute.pop("weight", None)
        attribute.pop("missing", None)
    data["outputs"] = [{"csv": str(folder / "out" / "links.csv")}]
    path = spec.parent / f"spec-unfitted-{os.getpid()}.yaml"  # two benches at once: apart
    text = "# Written by bench/fit.py; do not edit.\n" + yaml.safe_dump(data, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall and CPU seconds and peak MiB of one child process; exits on its failure."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "mib": usage.ru_maxrss / 1024,
    }


def bench(size: str, repeat: int, src: Path | None = None) -> dict[str, Any]:
    """Fit and run of one task, ``repeat`` times each in turn; medians, ratios and F1.

    ``src``: the engine of this source tree instead of the interpreter's.
    """
    t = peers.task(size, wait=False)
    if t is None:
        raise SystemExit(f"no data for {size}: engine.generate is missing")
    engine = [str(peers.engine_bin())]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
        engine = [sys.executable, "-m", "engine"]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = unfitted(peers.write_spec(t), folder)
        fitted = spec.with_name(spec.name.replace("unfitted", "fitted"))
        fits, runs = [], []
        for _ in range(repeat):
            fits.append(timed([*engine, "fit", str(spec), "--out", str(fitted)], t.folder, env))
            out = str(folder / "run")
            runs.append(timed([*engine, "run", "-q", "--out-dir", out, str(fitted)], t.folder, env))
        scored = subprocess.run(
            [*engine, "eval", str(fitted), "--gold", str(t.gold), "--json"],
            cwd=t.folder,
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        spec.unlink()
        fitted.unlink()
    f1 = float(json.loads(scored.stdout)["links"]["f1"])

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    def ratio(key: str) -> float:
        return statistics.median(f[key] / r[key] for f, r in zip(fits, runs, strict=True))

    return {
        "size": size,
        "repeat": repeat,
        "fit": {key: median(fits, key) for key in ("wall", "cpu", "mib")},
        "run": {key: median(runs, key) for key in ("wall", "cpu", "mib")},
        "ratio_wall": ratio("wall"),
        "ratio_cpu": ratio("cpu"),
        "f1": f1,
    }


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| task | fit wall s | fit CPU s | fit MiB | run wall s | run CPU s | run MiB"
        " | fit / run (wall, paired) | fit / run (CPU, paired) | F1 fitted |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        fit, run = r["fit"], r["run"]
        lines.append(
            f"| {r['size']} | {fit['wall']:.2f} | {fit['cpu']:.2f} | {fit['mib']:.0f}"
            f" | {run['wall']:.2f} | {run['cpu']:.2f} | {run['mib']:.0f}"
            f" | {r['ratio_wall']:.2f} | {r['ratio_cpu']:.2f} | {r['f1']:.4f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="febrl4,50k")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--src", type=Path, help="run the engine from this source tree")
    args = parser.parse_args()
    results = [bench(size, args.repeat, args.src) for size in args.sizes.split(",")]
    print(f"{peers.machine()}; medians of {args.repeat}")
    print(table(results))


if __name__ == "__main__":
    main()
