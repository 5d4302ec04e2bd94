"""Renamed keys: an old spec fails at the key's line with "renamed: write NEW" (exit 2).

One case per entry of ``schemas.renames.RENAMES``, through ``engine validate``;
the new spelling of each case validates.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.cli import main
from schemas.renames import RENAMES

ALIGNMENT = """\
kind: alignment
name: demo
sources:
  align: {csv: a.csv, id: uri}
  target: {csv: b.csv, id: uri}
attributes:
  - {name: name, metric: levenshtein}
  - {name: place, align: [lat, lon], metric: geographic}
blocking: none
threshold: 1
"""

IMAGE = """\
kind: image
name: demo
formats: [qcow2]
output: out
verify: {boot: true}
"""

POOL = """\
kind: volume-pool
name: demo
host: {address: 127.0.0.1, key: id_engine, known_hosts: known_hosts}
zfs: {base: tank/volumes}
iscsi: {portal: "127.0.0.1:3260", initiators: [ALL]}
"""

SPARQL = "{sparql: 'http://127.0.0.1:9/q', query: 'SELECT ?uri ?name WHERE {}', id: uri"
PUBLISH = "publish: {graph: 'http://x/g', graph_store: 'http://127.0.0.1:9/store'"

#: (kind, old key, base spec, text replaced, the old spelling, the new one, what the
#: message says to write).
CASES = [
    ("alignment", "timeout_s", ALIGNMENT, "{csv: b.csv, id: uri}",
     f"{SPARQL}, timeout_s: 30}}", f"{SPARQL}, timeout: 30s}}", "timeout: 30s"),
    ("alignment", "backoff_s", ALIGNMENT, "{csv: b.csv, id: uri}",
     f"{SPARQL}, backoff_s: 2}}", f"{SPARQL}, backoff: 2s}}", "backoff: 2s"),
    ("alignment", "cache_ttl_s", ALIGNMENT, "{csv: b.csv, id: uri}",
     f"{SPARQL}, cache_ttl_s: 3600}}", f"{SPARQL}, cache_ttl: 1h}}", "cache_ttl: 3600s"),
    ("alignment", "timeout_s", ALIGNMENT, "threshold: 1",
     f"threshold: 1\n{PUBLISH}, timeout_s: 30}}", f"threshold: 1\n{PUBLISH}, timeout: 30s}}",
     "timeout: 30s"),
    ("alignment", "backoff_s", ALIGNMENT, "threshold: 1",
     f"threshold: 1\n{PUBLISH}, backoff_s: 0.5}}", f"threshold: 1\n{PUBLISH}, backoff: 500ms}}",
     "backoff: 0.5s"),
    ("alignment", "description", ALIGNMENT, "threshold: 1",
     f"threshold: 1\n{PUBLISH}, description: false}}", f"threshold: 1\n{PUBLISH}, void: false}}",
     "void: false"),
    ("alignment", "timeout_s", ALIGNMENT, "threshold: 1",
     "threshold: 1\nexecutor: {dask: {timeout_s: 5}}", "threshold: 1\nexecutor: {dask: {timeout: 5s}}",
     "timeout: 5s"),
    ("alignment", "radius_km", ALIGNMENT, "blocking: none",
     "blocking: {radius: {align: [lat, lon], radius_km: 3}}",
     "blocking: {radius: {align: [lat, lon], radius: 3 km}}", "radius: 3 km"),
    ("alignment", "units", ALIGNMENT, "metric: geographic",
     "metric: {geographic: {units: m}}", "metric: {geographic: {unit: m}}", "unit: m"),
    ("alignment", "order", ALIGNMENT, "metric: geographic",
     "metric: {geographic: {order: lonlat}}", "metric: {geographic: {coordinates: lonlat}}",
     "coordinates: lonlat"),
    ("alignment", "order", ALIGNMENT, "blocking: none",
     "blocking: {radius: {align: [lat, lon], radius: 3 km, order: lonlat}}",
     "blocking: {radius: {align: [lat, lon], radius: 3 km, coordinates: lonlat}}",
     "coordinates: lonlat"),
    ("alignment", "threshold", ALIGNMENT, "blocking: none",
     "blocking: {minhash: {attribute: name, threshold: 0.4}}",
     "blocking: {minhash: {attribute: name, min_similarity: 0.4}}", "min_similarity: 0.4"),
    ("alignment", "kdtree", ALIGNMENT, "blocking: none",
     "blocking: {kdtree: {align: [lat, lon], radius: 1}}",
     "blocking: {radius: {align: [lat, lon], radius: 1}}",
     "radius: {...} (a KD tree is its default for numbers)"),
    ("alignment", "balltree", ALIGNMENT, "blocking: none",
     "blocking: {union: [{key: {attribute: name}}, {balltree: {align: [lat, lon], radius: 1}}]}",
     "blocking: {union: [{key: {attribute: name}},"
     " {radius: {align: [lat, lon], radius: 1, algorithm: balltree}}]}",
     "radius: {..., algorithm: balltree}"),
    ("image", "timeout_s", IMAGE, "verify: {boot: true}",
     "verify: {boot: true, timeout_s: 300}", "verify: {boot: true, timeout: 5min}",
     "timeout: 300s"),
    ("image", "memory_mb", IMAGE, "verify: {boot: true}",
     "verify: {boot: true, memory_mb: 2048}", "verify: {boot: true, memory: 2G}",
     "memory: 2048M"),
    ("volume-pool", "timeout_s", POOL, "known_hosts: known_hosts}",
     "known_hosts: known_hosts, timeout_s: 20}", "known_hosts: known_hosts, timeout: 20s}",
     "timeout: 20s"),
]  # fmt: skip


def _folder(tmp_path: Path) -> Path:
    (tmp_path / "a.csv").write_text("uri,name,lat,lon\nhttp://a/1,x,45,5\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("uri,name,lat,lon\nhttp://b/1,x,45,5\n", encoding="utf-8")
    (tmp_path / "id_engine").write_text("key\n", encoding="utf-8")
    return tmp_path


def _at(text: str, needle: str) -> str:
    before = text[: text.index(needle)]
    return f"{before.count(chr(10)) + 1}:{len(before) - before.rfind(chr(10))}"


@pytest.mark.parametrize(
    ("kind", "old", "base", "where", "before", "after", "write"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)],
)
def test_an_old_key_is_refused_at_its_line_and_the_new_one_validates(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    old: str,
    base: str,
    where: str,
    before: str,
    after: str,
    write: str,
) -> None:
    folder = _folder(tmp_path)
    spec = folder / "spec.yaml"
    assert where in base
    text = base.replace(where, before)
    spec.write_text(text, encoding="utf-8")
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert f"{spec}:{_at(text, old + ':')}: " in err, err
    assert f"'{old}' renamed: write {write}" in err, err
    assert "Traceback" not in err
    spec.write_text(base.replace(where, after), encoding="utf-8")
    assert main(["validate", str(spec)]) == 0, capsys.readouterr().err


def test_every_rename_has_a_case() -> None:
    cased = {(kind, old) for kind, old, *_ in CASES}
    assert {(r.kind, r.old) for r in RENAMES} == cased
