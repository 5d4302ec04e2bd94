"""Benchmark specengine against its peers: Splink 5 (DuckDB), recordlinkage 0.16, Nazca 3.2.2.

Usage:
    python bench/peers.py [--sizes febrl4,50k,200k,1m,places]
        [--tools specengine,splink,recordlinkage,nazca] [--timeout 1800]
        [--throughput auto|none|SIZE] [--no-run] [--write]

Run it with the project's interpreter (``.venv/bin/python``): it imports ``engine``. Each peer
gets its own virtualenv under ``bench/.venvs/<tool>`` (created and installed once, then
reused). Every run is a separate child process, timed with ``perf_counter`` and measured with
``os.wait4`` (peak RSS of the child), killed after ``--timeout`` seconds. All tools block on
the keys of ``specs/febrl4.yaml`` (read from the spec, handed to each runner as JSON) and
return one-to-one links, scored against the gold links.

Data: ``febrl4`` is ``data/febrl/``; ``50k``, ``200k`` and ``1m`` are generated with
``engine.generate.people(n, seed=0)`` into ``bench/data/<size>/`` (cached). ``places`` is a
geographic task (35,000 places against a gazetteer of 150,000, from
``engine.generate.places(150_000, seed=0)``, see ``places_task``) run with
``specs/places-geographic.yaml`` (a kd-tree on the coordinates, then names) by specengine and
by Nazca's ``KdTreeBlocking`` (``bench/peers/run_nazca_places.py``). Results are kept
per run in ``bench/results/<size>/<tool>.json``; ``--write`` renders all kept results into
``docs/benchmarks.md`` between ``<!-- peers:begin -->`` and ``<!-- peers:end -->``.
``--throughput`` also times the comparison stage alone (specengine's metrics against
rapidfuzz's raw ``cpdist``/``cdist``) on the candidate pairs of a task (``auto``: 200k when
its data is there, else febrl4).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENVS = BENCH / ".venvs"
DATA = BENCH / "data"
RESULTS = BENCH / "results"
RUNNERS = BENCH / "peers"
DOC = ROOT / "docs" / "benchmarks.md"
SPEC = ROOT / "specs" / "febrl4.yaml"
PLACES_SPEC = ROOT / "specs" / "places-geographic.yaml"
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"

TOOLS = ("specengine", "splink", "recordlinkage", "nazca")
SIZES = {"febrl4": 5_000, "50k": 50_000, "200k": 200_000, "1m": 1_000_000}
#: Geographic tasks: (gazetteer places, align places), generated with engine.generate.places
#: (see places_task) and run with specs/places-geographic.yaml.
PLACES = {"places": (150_000, 35_000)}
TASKS = (*SIZES, *PLACES)
#: The tools with a runner for the geographic tasks.
PLACES_TOOLS = ("specengine", "nazca")
SEED = 0
IRI = "http://example.org/febrl/"
PLACES_IRI = "http://example.org/place/"
POLL_SECONDS = 180
#: Address-space cap of the pure-Python runs, so that a run too big for the machine fails
#: with MemoryError instead of calling the kernel's OOM killer. Splink (DuckDB, which
#: reserves address space and spills to disk on its own) runs without it.
MEM_LIMIT_GIB = 20


@dataclass(frozen=True)
class Peer:
    requirements: tuple[str, ...]
    imports: str
    versions: tuple[str, ...]


PEERS = {
    "splink": Peer(("splink>=5",), "import splink, duckdb; splink.DuckDBAPI", ("splink", "duckdb")),
    "recordlinkage": Peer(
        ("recordlinkage==0.16",), "import recordlinkage", ("recordlinkage", "pandas", "jellyfish")
    ),
    "nazca": Peer(
        ("nazca==3.2.2",), "import nazca.rl.aligner, nazca.rl.blocking", ("nazca", "scipy")
    ),
}


def log(message: str) -> None:
    print(f"[peers {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- virtualenvs


def venv_python(tool: str) -> Path:
    return VENVS / tool / "bin" / "python"


def ensure_venv(tool: str) -> str | None:
    """Create and fill the tool's venv unless it is already there; return an error or None."""
    peer = PEERS[tool]
    marker = VENVS / tool / ".bench-installed"
    wanted = " ".join(peer.requirements)
    python = venv_python(tool)
    if marker.exists() and marker.read_text() == wanted and python.exists():
        return None
    log(f"installing {wanted} into {VENVS / tool}")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENVS / tool)], check=True)
    steps = [
        [str(python), "-m", "pip", "install", "-q", *peer.requirements],
        [str(python), "-c", peer.imports],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(step[1:])}` failed: " + " / ".join(tail)
    marker.write_text(wanted)
    return None


def versions() -> dict[str, str]:
    """Versions of every tool (from each venv) and of the engine's own stack."""
    out = {"python": platform.python_version()}
    engine = subprocess.run([str(engine_bin()), "--version"], capture_output=True, text=True)
    out["specengine"] = engine.stdout.strip().split()[-1] if engine.returncode == 0 else "?"
    from importlib.metadata import version

    for name in ("rapidfuzz", "numpy"):
        out[name] = version(name)
    for tool, peer in PEERS.items():
        python = venv_python(tool)
        if not python.exists():
            continue
        code = (
            "import importlib.metadata as m, json; "
            f"print(json.dumps({{n: m.version(n) for n in {list(peer.versions)!r}}}))"
        )
        done = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
        if done.returncode == 0:
            out.update(json.loads(done.stdout))
    return out


def engine_bin() -> Path:
    sibling = Path(sys.executable).parent / "engine"
    return sibling if sibling.exists() else Path("/tmp/venv0/bin/engine")


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Task:
    size: str
    align: Path
    target: Path
    gold: Path
    folder: Path
    #: ``people`` (Febrl-like records, the spec specs/febrl4.yaml) or ``places`` (PLACES).
    kind: str = "people"
    gold_columns: tuple[str, str] = ("rec_id_a", "rec_id_b")


def places_task(folder: Path, n_target: int, n_align: int, seed: int) -> Task:
    """A geographic task: ``n_align`` places against a gazetteer of ``n_target`` (cached).

    ``engine generate places --size n_target --seed seed`` writes ``places-a.csv`` and
    ``places-b.csv`` (n_target places each, every place of A with one duplicate in B, rows
    shuffled); the align side is the first ``n_align`` rows of ``places-a.csv`` (a random
    sample, since the rows are shuffled), the target side all of ``places-b.csv``, and the
    gold the generated links of the sampled places. So each align place has its one
    counterpart among ``n_target`` places, the others being its neighbours around the same
    generated cities, as the reference's cities meet the gazetteer's places.
    """
    files = Task(
        folder.name,
        folder / "align.csv",
        folder / "places-b.csv",
        folder / "gold.csv",
        folder,
        kind="places",
        gold_columns=("id_a", "id_b"),
    )
    if files.gold.exists():
        return files
    from engine.generate import places

    log(f"generating {folder.name} ({n_align:,} places against {n_target:,}, seed {seed})")
    started = time.perf_counter()
    places(n_target, seed, folder)
    with (folder / "places-a.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [row for _, row in zip(range(n_align), reader, strict=False)]
    with (folder / "places-gold.csv").open(newline="", encoding="utf-8") as fh:
        links = dict(csv.reader(fh))
    tmp = files.gold.with_suffix(".tmp")
    with files.align.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows([header, *rows])
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(files.gold_columns)
        writer.writerows([row[0], links[row[0]]] for row in rows)
    tmp.replace(files.gold)  # last: the gold's presence says the task is complete
    log(f"generated {folder.name} in {time.perf_counter() - started:.1f} s")
    return files


def task(size: str, wait: bool) -> Task | None:
    """The task's files, generating (and caching) them; None when the generator is missing."""
    folder = DATA / size
    if size in PLACES:
        n_target, n_align = PLACES[size]
        return places_task(folder, n_target, n_align, SEED)
    if size == "febrl4":
        febrl = ROOT / "data" / "febrl"
        folder.mkdir(parents=True, exist_ok=True)
        return Task(
            size,
            febrl / "febrl4a.csv",
            febrl / "febrl4b.csv",
            febrl / "febrl4_true_links.csv",
            folder,
        )
    files = Task(
        size, folder / "people-a.csv", folder / "people-b.csv", folder / "people-gold.csv", folder
    )
    if files.gold.exists():
        return files
    people = generator(wait)
    if people is None:
        return None
    log(f"generating {size} ({SIZES[size]:,} records per side, seed {SEED}) in {folder}")
    started = time.perf_counter()
    people(SIZES[size], SEED, folder)
    log(f"generated {size} in {time.perf_counter() - started:.1f} s")
    return files


def generator(wait: bool) -> Callable[..., Any] | None:
    while True:
        try:
            from engine.generate import people
        except ImportError as exc:
            if not wait:
                log(f"engine.generate is not there yet ({exc})")
                return None
            log(f"engine.generate is not there yet ({exc}); checking again in {POLL_SECONDS} s")
            time.sleep(POLL_SECONDS)
        else:
            return people  # type: ignore[no-any-return]


def write_spec(t: Task) -> Path:
    """The task's spec (specs/febrl4.yaml, or specs/places-geographic.yaml for a geographic
    task): its attributes, blocking, threshold and matching on this task's files."""
    source = PLACES_SPEC if t.kind == "places" else SPEC
    spec = yaml.safe_load(source.read_text(encoding="utf-8"))
    template = {"template": (PLACES_IRI + "{id}") if t.kind == "places" else IRI + "{rec_id}"}
    spec["name"] = f"bench-{t.size}"
    spec["description"] = f"{source.name} on the {t.size} task (written by bench/peers.py)"
    spec["sources"] = {
        "align": {"csv": os.path.relpath(t.align, t.folder), "id": template},
        "target": {"csv": os.path.relpath(t.target, t.folder), "id": template},
    }
    spec["outputs"] = [{"csv": "out/specengine.csv"}]
    path = t.folder / "spec.yaml"
    text = "# Written by bench/peers.py; do not edit.\n" + yaml.safe_dump(spec, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return path


def spec_keys() -> list[dict[str, Any]]:
    """The spec's blocking keys as ``{"parts": [...], "soundex": bool}``, for every tool.

    Only what every peer can do is accepted: a union of ``key`` rules on one or several
    attributes (the spec's attributes have no ``normalise:`` of their own), optionally with
    ``normalise: [soundex]`` (English).
    """
    spec = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    blocking = spec["blocking"]
    rules = blocking["union"] if isinstance(blocking, dict) and "union" in blocking else [blocking]
    attributes = {a["name"]: a for a in spec["attributes"]}
    keys = []
    for rule in rules:
        key = rule.get("key") if isinstance(rule, dict) else None
        if not key or set(key) - {"attribute", "normalise"}:
            raise SystemExit(f"{SPEC}: the peers cannot run the blocking rule {rule}")
        parts = [key["attribute"]] if isinstance(key["attribute"], str) else key["attribute"]
        chain = key.get("normalise") or []
        names = [n if isinstance(n, str) else next(iter(n)) for n in chain]
        if names not in ([], ["soundex"]) or any(attributes[p].get("normalise") for p in parts):
            raise SystemExit(f"{SPEC}: the peers cannot run the blocking rule {rule}")
        if any(isinstance(n, dict) and n["soundex"].get("language", "en") != "en" for n in chain):
            raise SystemExit(f"{SPEC}: the peers only know English soundex: {rule}")
        keys.append({"parts": list(parts), "soundex": names == ["soundex"]})
    return keys


def places_config() -> dict[str, Any]:
    """specs/places-geographic.yaml as the Nazca runner's configuration (JSON).

    Only what Nazca can do the same way is accepted: a ``radius`` rule with a number (a
    kd-tree, euclidean on the two coordinate columns, Nazca's ``KdTreeBlocking``), names with
    ``unaccent``, ``lowercase``, ``simplify`` (no stopwords) and ``regex_replace`` and the
    raw ``levenshtein`` (token-aware or not: both are Nazca's ``levenshtein``), points with
    ``geographic`` in km; the weights and the threshold as they are.
    """
    spec = yaml.safe_load(PLACES_SPEC.read_text(encoding="utf-8"))

    def refuse(what: Any) -> SystemExit:
        return SystemExit(f"{PLACES_SPEC}: the Nazca runner cannot do {what!r}")

    radius = (spec["blocking"] or {}).get("radius") if isinstance(spec["blocking"], dict) else None
    if not radius or not isinstance(radius.get("radius"), int | float) or radius.get("target"):
        raise refuse(spec["blocking"])
    if set(radius) - {"align", "radius"} or len(radius["align"]) != 2:
        raise refuse(spec["blocking"])
    attributes = []
    for a in spec["attributes"]:
        metric = a["metric"]
        name, options = (metric, {}) if isinstance(metric, str) else next(iter(metric.items()))
        options = options or {}
        if set(a) - {"name", "align", "normalise", "metric", "weight"}:
            raise refuse(a)
        entry: dict[str, Any] = {"weight": a.get("weight", 1.0)}
        if name == "levenshtein" and not options.get("normalised"):
            chain = []
            for step in a.get("normalise") or []:
                key, opts = (step, {}) if isinstance(step, str) else next(iter(step.items()))
                if key not in ("unaccent", "lowercase", "simplify", "regex_replace"):
                    raise refuse(step)
                if key == "simplify" and (opts or {}).get("stopwords"):
                    raise refuse(step)
                chain.append([key, opts or {}])
            entry.update(
                kind="levenshtein",
                field=a.get("align", a["name"]),
                normalise=chain,
                tokens=options.get("tokens", True),
            )
        elif name == "geographic" and set(options) <= {"unit"} and not a.get("normalise"):
            fields = a.get("align")
            if not isinstance(fields, list) or len(fields) != 2:
                raise refuse(a)
            entry.update(kind="geographic", fields=fields, unit=options.get("unit", "km"))
        else:
            raise refuse(a)
        attributes.append(entry)
    if spec.get("matching") != "one-to-one":
        raise refuse(spec.get("matching"))
    return {
        "radius": radius["radius"],
        "points": radius["align"],
        "attributes": attributes,
        "threshold": spec["threshold"],
    }


def describe_places() -> str:
    config = places_config()
    return f"kd-tree on {', '.join(config['points'])} within {config['radius']:g} (euclidean)"


def describe_keys(keys: list[dict[str, Any]]) -> str:
    def one(key: dict[str, Any]) -> str:
        parts = [f"soundex({p})" if key["soundex"] else p for p in key["parts"]]
        return " + ".join(parts)

    return ", ".join(one(k) for k in keys)


def read_pairs(path: Path, a: str, b: str) -> set[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return {(row[a], row[b]) for row in csv.DictReader(fh)}


def read_engine_links(path: Path, prefix: str = IRI) -> set[tuple[str, str]]:
    def rec(iri: str) -> str:
        return unquote(iri.removeprefix(prefix))

    with path.open(newline="", encoding="utf-8") as fh:
        return {(rec(r["align_id"]), rec(r["target_id"])) for r in csv.DictReader(fh)}


# --------------------------------------------------------------------------- runs


@dataclass
class Child:
    status: str  # ok, failed, timeout
    code: int
    wall: float
    rss_mib: float
    cpu: float  # user + system seconds of the child and its own children
    stdout: str
    stderr: str


def run_child(
    cmd: Sequence[str], cwd: Path, timeout: float, log_path: Path, mem_limit: bool
) -> Child:
    """Run ``cmd`` as a child process; wall time, peak RSS (os.wait4) and its output."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    out_path, err_path = log_path.with_suffix(".out"), log_path.with_suffix(".err")

    def limit() -> None:  # in the child, before exec
        cap = MEM_LIMIT_GIB << 30
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with out_path.open("w") as out, err_path.open("w") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(
            list(cmd),
            cwd=cwd,
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
            preexec_fn=limit if mem_limit else None,
        )
        timed_out = threading.Event()

        def kill() -> None:
            timed_out.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    state = "timeout" if timed_out.is_set() else ("ok" if code == 0 else "failed")
    return Child(
        state,
        code,
        wall,
        usage.ru_maxrss / 1024,
        usage.ru_utime + usage.ru_stime,
        out_path.read_text(),
        err_path.read_text(),
    )


def failure(child: Child) -> str:
    if child.status == "timeout":
        return f"timed out after {child.wall:.0f} s"
    lines = [ln for ln in child.stderr.strip().splitlines() if ln.strip()]
    last = lines[-1].strip() if lines else ""
    if child.code < 0:
        return f"killed by signal {-child.code}" + (f": {last}" if last else "")
    if "MemoryError" in child.stderr or "Unable to allocate" in child.stderr:
        return f"out of memory (address space capped at {MEM_LIMIT_GIB} GiB): {last[:160]}"
    return f"exit {child.code}: {last[:200]}"


def run_tool(tool: str, t: Task, timeout: float) -> dict[str, Any]:
    result: dict[str, Any] = {
        "tool": tool,
        "size": t.size,
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "timeout_s": timeout,
    }
    logs = RESULTS / t.size / tool
    places = t.kind == "places"
    if places and tool not in PLACES_TOOLS:
        result.update(status="not supported", error="no runner for a geographic task")
        return result
    if tool == "specengine":
        spec = write_spec(t)
        links_path = t.folder / "out" / "specengine.csv"
        links_path.unlink(missing_ok=True)
        cmd = [str(engine_bin()), "run", str(spec)]
        cwd = t.folder
    else:
        error = ensure_venv(tool)
        if error:
            result.update(status="install failed", error=error)
            return result
        links_path = RESULTS / t.size / f"{tool}-links.csv"
        links_path.unlink(missing_ok=True)
        runner = RUNNERS / (f"run_{tool}_places.py" if places else f"run_{tool}.py")
        config = json.dumps(places_config() if places else spec_keys())
        cmd = [
            str(venv_python(tool)),
            str(runner),
            str(t.align),
            str(t.target),
            str(links_path),
            config,
        ]
        cwd = RUNNERS
    log(f"{t.size} / {tool}: {' '.join(cmd)}")
    result["blocking"] = describe_places() if places else describe_keys(spec_keys())
    result["load_before"] = os.getloadavg()[0]
    child = run_child(cmd, cwd, timeout, logs, mem_limit=tool != "splink")
    result.update(
        status=child.status, wall_s=child.wall, cpu_s=child.cpu, peak_rss_mib=child.rss_mib
    )
    if child.status != "ok":
        result["error"] = failure(child)
        log(f"{t.size} / {tool}: {result['error']}")
        return result
    if tool == "specengine":
        m = re.search(r"compared ([\d,]+) candidate pairs", child.stdout + child.stderr)
        if m:
            result["candidate_pairs"] = int(m.group(1).replace(",", ""))
        found = read_engine_links(links_path, PLACES_IRI if places else IRI)
    else:
        for line in child.stdout.splitlines():
            if line.startswith("PEER-RESULT "):
                result.update(json.loads(line.removeprefix("PEER-RESULT ")))
        found = read_pairs(links_path, "rec_id_a", "rec_id_b")
    gold = read_pairs(t.gold, *t.gold_columns)
    tp = len(found & gold)
    precision = tp / len(found) if found else 0.0
    recall = tp / len(gold) if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    result.update(
        links=len(found),
        gold=len(gold),
        true_positives=tp,
        precision=precision,
        recall=recall,
        f1=f1,
    )
    log(f"{t.size} / {tool}: {child.wall:.1f} s, {child.rss_mib:.0f} MiB, F1 {f1:.4f}")
    return result


def save(result: dict[str, Any]) -> None:
    path = RESULTS / result["size"] / f"{result['tool']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- throughput


def candidate_pairs(
    t: Task, cap: int
) -> tuple[Any, Any, int, list[dict[str, str]], list[dict[str, str]]]:
    """The first ``cap`` candidate pairs of the spec's blocking (engine's own blocking rules)."""
    import numpy as np

    from engine.alignment.blocking import KeyRule, Union
    from engine.alignment.normalise import NORMALISERS
    from schemas.alignment import SoundexOptions

    def rows(path: Path) -> list[dict[str, str]]:
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))

    soundex, options = NORMALISERS["soundex"].func, SoundexOptions()

    def sdx(v: str) -> str | None:
        return soundex(v, options) if v else None

    ra, rb = rows(t.align), rows(t.target)
    rules = []
    for key in spec_keys():

        def value(row: dict[str, str], key: dict[str, Any] = key) -> str | None:
            parts = [row[p] or None for p in key["parts"]]
            if key["soundex"]:
                parts = [sdx(v) if v else None for v in parts]
            return None if None in parts else "\x1f".join(parts)  # type: ignore[arg-type]

        rules.append(KeyRule([value(r) for r in ra], [value(r) for r in rb]))
    union = Union(rules)
    got_a, got_b, n = [], [], 0
    for ia, ib in union.pairs():
        got_a.append(ia)
        got_b.append(ib)
        n += len(ia)
        if n >= cap:
            break
    ia = np.concatenate(got_a)[:cap]
    ib = np.concatenate(got_b)[:cap]
    return ia, ib, union.estimate(), ra, rb


def best_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def throughput(size: str, cap: int = 20_000_000, distinct_cap: int = 4_000) -> dict[str, Any]:
    """Pairs/s of specengine's metrics vs rapidfuzz's raw cpdist/cdist on the same strings."""
    import numpy as np
    from rapidfuzz import process
    from rapidfuzz.distance import JaroWinkler, Levenshtein

    from engine.alignment.metrics import METRICS
    from schemas.alignment import EditOptions, JaroWinklerOptions

    t = task(size, wait=False)
    assert t is not None
    log(f"throughput: gathering up to {cap:,} candidate pairs of {size}")
    ia, ib, estimate, ra, rb = candidate_pairs(t, cap)
    rows: list[dict[str, Any]] = []
    cases = [
        ("levenshtein", EditOptions(tokens=False), Levenshtein.distance, None),
        (
            "jaro_winkler",
            JaroWinklerOptions(),
            JaroWinkler.normalized_distance,
            {"prefix_weight": 0.1},
        ),
    ]
    for attribute in ("surname", "address_1"):
        va = [r[attribute] or None for r in ra]
        vb = [r[attribute] or None for r in rb]
        for name, options, scorer, kwargs in cases:
            metric = METRICS[name].func()
            started = time.perf_counter()
            pa, pb = metric.prepare(va, options), metric.prepare(vb, options)
            prepare_s = time.perf_counter() - started
            engine_s = best_time(lambda m=metric, a=pa, b=pb, o=options: m.compute(a, b, ia, ib, o))
            col_a, col_b = pa.column, pb.column
            ca, cb = col_a.codes[ia], col_b.codes[ib]
            valid = (ca >= 0) & (cb >= 0)
            sa, sb = col_a.uniques[ca[valid]], col_b.uniques[cb[valid]]
            n_valid = int(valid.sum())
            base = {
                "attribute": attribute,
                "metric": name,
                "pairs": len(ia),
                "valid_pairs": n_valid,
            }
            rows.append(
                {
                    **base,
                    "impl": "specengine compute",
                    "workers": "-1 (built in)",
                    "seconds": engine_s,
                    "pairs_per_s": n_valid / engine_s,
                    "prepare_s": prepare_s,
                }
            )
            for workers in (1, -1):
                secs = best_time(
                    lambda w=workers, s=scorer, k=kwargs, a=sa, b=sb: process.cpdist(
                        a, b, scorer=s, scorer_kwargs=k, workers=w
                    )
                )
                rows.append(
                    {
                        **base,
                        "impl": "rapidfuzz cpdist (gathered pairs)",
                        "workers": str(workers),
                        "seconds": secs,
                        "pairs_per_s": n_valid / secs,
                    }
                )
            ua = col_a.uniques[:distinct_cap]
            ub = col_b.uniques[:distinct_cap]
            cells = len(ua) * len(ub)
            for workers in (1, -1):
                secs = best_time(
                    lambda w=workers, s=scorer, k=kwargs, a=ua, b=ub: process.cdist(
                        a, b, scorer=s, scorer_kwargs=k, workers=w, dtype=np.float32
                    )
                )
                rows.append(
                    {
                        **base,
                        "impl": f"rapidfuzz cdist ({len(ua):,} x {len(ub):,} distinct)",
                        "workers": str(workers),
                        "seconds": secs,
                        "pairs_per_s": cells / secs,
                    }
                )
            log(f"throughput: {attribute} {name} done")
    return {
        "size": size,
        "candidate_pairs_estimate": estimate,
        "pairs": len(ia),
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "rows": rows,
    }


# --------------------------------------------------------------------------- report


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{mem_kib / 1024**2:.0f} GiB RAM"
    except OSError:
        ram = "? RAM"
    return f"{os.cpu_count()} cores ({cpu}), {ram}, {platform.system()} {platform.release()}"


def load_results(sizes: Sequence[str], tools: Sequence[str]) -> list[dict[str, Any]]:
    out = []
    for size in sizes:
        for tool in tools:
            path = RESULTS / size / f"{tool}.json"
            if path.exists():
                out.append(json.loads(path.read_text()))
            else:
                out.append(
                    {
                        "tool": tool,
                        "size": size,
                        "status": "not run",
                        "date": "",
                        "error": "no kept result for this task and tool",
                    }
                )
    return out


def fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "—"


def table(results: list[dict[str, Any]]) -> list[str]:
    """The results as a Markdown table, then one note per run that did not finish."""
    lines = [
        "| task | tool | candidate pairs | links | precision | recall | F1 | wall s | "
        "CPU s | peak RSS MiB | time / specengine | load before |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    by_key = {(r["size"], r["tool"]): r for r in results}
    for r in results:
        ours = by_key.get((r["size"], "specengine"))
        ok_ours = bool(ours and ours["status"] == "ok")
        ratio = "—"
        if r["tool"] == "specengine" and r["status"] == "ok":
            ratio = "1"
        elif r["status"] == "ok" and ok_ours:
            ratio = f"{r['wall_s'] / ours['wall_s']:.1f}x"  # type: ignore[index]
        elif r["status"] == "timeout" and ok_ours:
            ratio = f"> {r['wall_s'] / ours['wall_s']:.0f}x"  # type: ignore[index]
        pairs = fmt_int(r.get("candidate_pairs"))
        if r.get("candidate_pairs_note"):
            pairs += " ¹"
        if r["status"] == "ok":
            cells = [
                pairs,
                f"{r['links']:,}",
                f"{r['precision']:.4f}",
                f"{r['recall']:.4f}",
                f"**{r['f1']:.4f}**",
                f"{r['wall_s']:.1f}",
                f"{r['cpu_s']:.1f}" if "cpu_s" in r else "—",
                f"{r['peak_rss_mib']:,.0f}",
                ratio,
            ]
        else:
            wall = f"{r['wall_s']:.0f}" if "wall_s" in r else "—"
            rss = f"{r['peak_rss_mib']:,.0f}" if "peak_rss_mib" in r else "—"
            cells = ["—", "—", "—", "—", f"{r['status']}", wall, "—", rss, ratio]
            notes.append(f"- {r['size']} / {r['tool']}: {r['status']}: {r.get('error', '')}")
        load = f"{r['load_before']:.1f}" if "load_before" in r else "—"
        lines.append(f"| {r['size']} | {r['tool']} | " + " | ".join([*cells, load]) + " |")
    return lines + (["", *notes] if notes else [])


def archive() -> list[dict[str, Any]]:
    """Results kept under bench/results/broad-blocking/ (an earlier spec's blocking)."""
    out = []
    for size in SIZES:
        for path in sorted((RESULTS / "broad-blocking" / size).glob("*.json")):
            out.append(json.loads(path.read_text()))
    order = {t: i for i, t in enumerate(TOOLS)}
    out.sort(key=lambda r: (list(SIZES).index(r["size"]), order.get(r["tool"], 9), r["tool"]))
    return out


def render(
    results: list[dict[str, Any]], through: dict[str, Any] | None, info: dict[str, str]
) -> str:
    sizes = list(dict.fromkeys(r["size"] for r in results))
    tools = list(dict.fromkeys(r["tool"] for r in results))
    dates = sorted(r["date"][:10] for r in results if r["date"])
    timeout = max((r.get("timeout_s", 1800) for r in results), default=1800)
    blocking = next(
        (r["blocking"] for r in results if r.get("blocking") and r["size"] in SIZES), None
    )
    geo = [r for r in results if r["size"] in PLACES]
    cmd = (
        f".venv/bin/python bench/peers.py --sizes {','.join(sizes)} --tools {','.join(tools)}"
        f" --timeout {timeout:.0f} --write"
    )
    if through:
        cmd += f" --throughput {through['size']}"
    span = f"{dates[0]} to {dates[-1]}" if dates and dates[-1] != dates[0] else dates[0]
    lines = [
        "Reproduce with:",
        "",
        f"    {cmd}",
        "",
        f"Measured {span} on {machine()}; one run each, and other work may have shared the "
        "machine (see load before).",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".",
        "",
        *(
            [
                f"Blocking, the same for every tool (from `specs/febrl4.yaml`): union of {blocking}.",
                "",
            ]
            if blocking
            else []
        ),
        *(places_notes(geo) if geo else []),
        *table(results),
        "",
        *(
            [
                "¹ Nazca compares each block of each key separately: a pair sharing two keys is "
                "compared twice; the others report distinct pairs (Splink does not report them; "
                "it scores the same union once)."
            ]
            if any(r.get("candidate_pairs_note") for r in results)
            else []
        ),
        "Links are one-to-one for every tool: specengine's assignment (`matching: one-to-one`), "
        "recordlinkage's greedy `OneToOneLinking` (most probable first), and the same greedy pass "
        "over Splink's predictions and over Nazca's thresholded pairs (Nazca itself only offers "
        "best-per-record; Splink's own `cluster_using_single_best_links` is much slower, see "
        "below). Time / specengine is the peer's wall time over specengine's on the same task. "
        "Load before is the 1-minute load average when the run started; it still holds the tail "
        "of the previous run (it decays over minutes), so 1 to 2 is normal between runs, and "
        "above 2 means other work shared the 2 cores and inflated the times.",
    ]
    old = archive()
    if old:
        lines += [
            "",
            f"Earlier runs ({old[0]['date'][:10]}) with the previous spec's broad blocking "
            f"(union of {old[0]['blocking']}), kept in `bench/results/broad-blocking/`; "
            "`splink (native one-to-one)` used Splink's `cluster_using_single_best_links`:",
            "",
            *table(old),
        ]
    if through:
        lines += ["", *render_throughput(through)]
    return "\n".join(lines) + "\n"


def places_notes(results: list[dict[str, Any]]) -> list[str]:
    """What the geographic tasks are and how each tool runs them."""
    tasks = "; ".join(
        f"`{size}`: {PLACES[size][1]:,} places against a gazetteer of {PLACES[size][0]:,}"
        for size in dict.fromkeys(r["size"] for r in results)
    )
    config = places_config()
    return [
        f"Geographic task ({tasks}), generated with `engine generate places --seed "
        f"{SEED}` (see `places_task`): `specs/places-geographic.yaml` for specengine; for Nazca "
        f"`bench/peers/run_nazca_places.py` with its `KdTreeBlocking` on the same kd-tree "
        f"(euclidean on {', '.join(config['points'])}, radius {config['radius']:g}: the same "
        "candidate pairs), the same name normalisation, Nazca's own Levenshtein (on whole names "
        "when the spec says `tokens: false`) and geographical distance with the spec's "
        "weights, the spec's threshold, and the greedy one-to-one pass over its pairs.",
        "",
    ]


def render_throughput(th: dict[str, Any]) -> list[str]:
    lines = [
        f"Comparison stage alone, on the first {th['pairs']:,} candidate pairs of the "
        f"{th['size']} task (the blocking yields about {th['candidate_pairs_estimate']:,} "
        "before de-duplication), best of 3: specengine's `METRICS[name].func().compute(...)` "
        "(values prepared once per side; levenshtein with `tokens: false`) against rapidfuzz's "
        "raw `process.cpdist` on the same gathered string pairs (pairs with a missing value "
        "left out) and `process.cdist` on distinct strings (cells/s).",
        "",
        "| attribute | metric | implementation | workers | pairs/s | specengine / this |",
        "|---|---|---|---|---|---|",
    ]
    ours = {
        (r["attribute"], r["metric"]): r["pairs_per_s"]
        for r in th["rows"]
        if r["impl"] == "specengine compute"
    }
    for r in th["rows"]:
        ratio = ours[(r["attribute"], r["metric"])] / r["pairs_per_s"]
        lines.append(
            f"| {r['attribute']} | {r['metric']} | {r['impl']} | {r['workers']} | "
            f"{r['pairs_per_s'] / 1e6:,.1f}M | {ratio:.2f} |"
        )
    return lines


def write_doc(section: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    block = f"{BEGIN}\n{section}{END}"
    if BEGIN in text and END in text:
        head, _, rest = text.partition(BEGIN)
        _, _, tail = rest.partition(END)
        text = f"{head}{block}{tail}"
    else:
        text = (
            text.rstrip("\n") + "\n\n## Against the peers (Splink, recordlinkage, Nazca)\n\n"
            f"{block}\n"
        )
    DOC.write_text(text, encoding="utf-8")


# --------------------------------------------------------------------------- main


def csv_list(valid: Sequence[str]) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [s.strip().lower() for s in text.split(",") if s.strip()]
        bad = [s for s in items if s not in valid]
        if bad:
            raise argparse.ArgumentTypeError(f"unknown {bad} (valid: {', '.join(valid)})")
        return items

    return parse


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=csv_list(TASKS), default=["febrl4", "50k"])
    parser.add_argument("--tools", type=csv_list(TOOLS), default=list(TOOLS))
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per run")
    parser.add_argument(
        "--throughput", default="none", help="auto, none or a size: time the comparison stage alone"
    )
    parser.add_argument("--no-run", action="store_true", help="only render kept results")
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args()
    if not shutil.which(str(engine_bin())):
        raise SystemExit(f"no engine command at {engine_bin()}")
    if not args.no_run:
        people = any(size in SIZES for size in args.sizes)
        for tool in args.tools:
            # A tool without a runner for the geographic tasks needs no venv for them alone.
            if tool != "specengine" and (people or tool in PLACES_TOOLS):
                error = ensure_venv(tool)
                if error:
                    log(f"{tool}: {error}")
        # febrl4 first: it needs no generator; generated sizes wait for engine.generate.
        for size in sorted(args.sizes, key=TASKS.index):
            t = task(size, wait=True)
            if t is None:
                continue
            for tool in args.tools:
                save(run_tool(tool, t, args.timeout))
    through = None
    th_path = RESULTS / "throughput.json"
    if args.throughput != "none" and not args.no_run:
        size = args.throughput
        if size == "auto":
            size = "200k" if (DATA / "200k" / "people-gold.csv").exists() else "febrl4"
        through = throughput(size)
        th_path.parent.mkdir(parents=True, exist_ok=True)
        th_path.write_text(json.dumps(through, indent=2) + "\n", encoding="utf-8")
    elif th_path.exists():
        through = json.loads(th_path.read_text())
    results = load_results(args.sizes, args.tools)
    if not results:
        raise SystemExit("no results to show")
    section = render(results, through, versions())
    print(section)
    if args.write:
        write_doc(section)


if __name__ == "__main__":
    main()
