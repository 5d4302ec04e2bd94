"""The review page of engine serve: its queue, accept / reject / skip, the guards (TestClient)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from starlette.applications import Starlette
from starlette.testclient import TestClient

from engine.alignment.curation_write import decided_pairs
from engine.cli import main
from engine.web.app import create_app
from tests.web.people import write_people

A = "http://example.org/align/person/{}"
T = "http://example.org/target/person/{}"
JSON = {"accept": "application/json"}
#: The pairs of the band (0.5, 10000]: every pair but the two exact matches, minus 2->x.
BAND = [(0, 0), (0, 2), (0, 3), (1, 0), (1, 3)]


def write_reviewed(folder: Path, name: str = "people", **extra: object) -> Path:
    """The people spec with a review band (distances over 0.5) and its review outputs."""
    path = write_people(folder, name)
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec.update(matching="all", threshold=0.5, review={"from": 0.5, "to": 10000})
    spec["outputs"] = [
        {"csv": f"out/{name}.csv"},
        {"review": f"out/{name}-review.csv"},
        {"review": f"out/{name}-review.sssom.tsv"},
    ]
    spec.update(extra)
    path.write_text("# reviewed by a person\n" + yaml.safe_dump(spec, sort_keys=False))
    return path


def links(folder: Path, name: str = "people") -> set[tuple[str, str]]:
    rows = (folder / "out" / f"{name}.csv").read_text(encoding="utf-8").splitlines()[1:]
    return {(row.split(",")[0], row.split(",")[1]) for row in rows}


@pytest.fixture
def served(tmp_path: Path) -> Path:
    root = tmp_path / "served"
    root.mkdir()
    assert main(["run", str(write_reviewed(root))]) == 0
    return root


@pytest.fixture
def review_app(served: Path) -> Starlette:
    return create_app(served, author="orcid:0000-0002-1825-0097")


@pytest.fixture
def web(review_app: Starlette) -> TestClient:
    return TestClient(review_app)


def _post(client: TestClient, pair: tuple[int, int], decision: str, **form: str) -> object:
    data = {"subject": A.format(pair[0]), "object": T.format(pair[1]), "decision": decision}
    return client.post("/decide/people.yaml", data={**data, **form}, follow_redirects=False)


def _listed(client: TestClient) -> list[tuple[str, str]]:
    text = client.get("/review/people.yaml").text
    return [(A.format(a), T.format(b)) for a, b in BAND if f'data-object="{T.format(b)}"' in text
            and f'data-subject="{A.format(a)}" data-object="{T.format(b)}"' in text]  # fmt: skip


def test_the_page_lists_the_band_with_values_normalised_values_and_evidence(
    web: TestClient,
) -> None:
    spec = web.get("/spec/people.yaml")
    assert 'href="/review/people.yaml"' in spec.text  # linked from the spec's page
    page = web.get("/review/people.yaml")
    assert page.status_code == 200
    assert _listed(web) == [(A.format(a), T.format(b)) for a, b in BAND]
    assert page.text.count('<section class="pair"') == len(BAND)
    assert "out/people-review.csv" in page.text  # where the pairs come from
    # 0 -> 3: same name and city, birth dates 7780 days apart (its evidence).
    assert (
        "Dupont Paul" in page.text
        and "01-12-2012" in page.text
        and "<td>7780</td><td>7780</td>" in page.text
    )
    assert "<kbd>a</kbd> accept" in page.text
    assert 'id="curation-hint"' in page.text  # the spec names no curation file yet


def test_accept_appends_a_must_link_that_the_next_run_writes(web: TestClient, served: Path) -> None:
    answer = _post(web, (0, 0), "accept")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    curation = served / "people-curation.sssom.tsv"
    assert decided_pairs(curation) == {(A.format(0), T.format(0)): True}
    text = curation.read_text(encoding="utf-8")
    assert text.startswith("#curie_map:\n#  owl: ")
    row = text.splitlines()[-1].split("\t")
    assert row[3] == "semapv:ManualMappingCuration" and row[4] == ""
    assert row[5] == "orcid:0000-0002-1825-0097"  # engine serve --author
    assert row[6] == datetime.now(UTC).date().isoformat()
    # The spec now names the file: one line appended, its comment kept.
    spec = (served / "people.yaml").read_text(encoding="utf-8")
    assert spec.startswith("# reviewed by a person\n")
    assert spec.endswith("\ncuration: people-curation.sssom.tsv\n")
    assert (A.format(0), T.format(0)) not in _listed(web)  # decided: out of the queue
    assert main(["run", str(served / "people.yaml")]) == 0
    assert (A.format(0), T.format(0)) in links(served)
    assert (A.format(0), T.format(0)) not in _listed(web)


def test_reject_appends_a_cannot_link_with_the_forms_author(web: TestClient, served: Path) -> None:
    answer = web.post(
        "/decide/people.yaml",
        data={"subject": A.format(0), "object": T.format(3), "decision": "reject",
              "author": "orcid:0000-0001-0000-0001"},
        headers=JSON,
    )  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["ok"] and answer.json()["left"] == len(BAND) - 1
    row = (served / "people-curation.sssom.tsv").read_text().splitlines()[-1].split("\t")
    assert row[4] == "Not" and row[5] == "orcid:0000-0001-0000-0001"
    assert (A.format(0), T.format(3)) not in _listed(web)
    # The other way now conflicts: the pair is no longer to review.
    again = web.post(
        "/decide/people.yaml",
        data={"subject": A.format(0), "object": T.format(3), "decision": "accept"},
        headers=JSON,
    )
    assert again.status_code == 409
    assert decided_pairs(served / "people-curation.sssom.tsv") == {
        (A.format(0), T.format(3)): False
    }
    assert main(["run", str(served / "people.yaml")]) == 0
    assert (A.format(0), T.format(3)) not in links(served)
    assert (A.format(0), T.format(3)) not in _listed(web)


def test_skip_writes_nothing_and_keeps_the_pair(web: TestClient, served: Path) -> None:
    answer = _post(web, (1, 0), "skip")
    assert answer.status_code == 303  # type: ignore[attr-defined]
    assert not (served / "people-curation.sssom.tsv").exists()
    assert (A.format(1), T.format(0)) in _listed(web)


@pytest.mark.parametrize(
    ("form", "status"),
    [
        ({"decision": "maybe"}, 400),
        ({"decision": "accept", "author": "two words"}, 400),
        ({"decision": "accept", "object": T.format(1)}, 409),  # 0 -> 1 is not in the band
    ],
)
def test_a_bad_decision_is_refused_and_writes_nothing(
    web: TestClient, served: Path, form: dict[str, str], status: int
) -> None:
    data = {"subject": A.format(0), "object": T.format(0), **form}
    assert web.post("/decide/people.yaml", data=data, headers=JSON).status_code == status
    assert not (served / "people-curation.sssom.tsv").exists()


@pytest.mark.parametrize(
    "url", ["/decide/..%2Foutside.yaml", "/decide/escape.yaml", "/decide/outside-curation.yaml"]
)
def test_nothing_is_written_outside_the_folder(web: TestClient, served: Path, url: str) -> None:
    outside = served.parent / "outside"
    outside.mkdir()
    write_reviewed(outside, "outside")
    (served / "escape.yaml").symlink_to(outside / "outside.yaml")
    (outside / "people-curation.sssom.tsv").write_text(
        "#curie_map: {}\nsubject_id\tobject_id\tmapping_justification\n", encoding="utf-8"
    )
    # A spec of the folder whose curation file is outside it: refused as its runs are.
    write_reviewed(served, "outside-curation", curation="../outside/people-curation.sssom.tsv")
    before = sorted(p.name for p in outside.iterdir())
    data = {"subject": A.format(0), "object": T.format(0), "decision": "accept"}
    answer = web.post(url, data=data)
    assert answer.status_code in (403, 404), answer.text
    if "outside-curation" in url:  # refused as its runs are, for its path outside
        assert "outside the served folder" in answer.text
    assert web.get(url.replace("/decide/", "/review/")).status_code in (403, 404)
    assert sorted(p.name for p in outside.iterdir()) == before


def test_a_cross_site_post_is_refused(web: TestClient, served: Path) -> None:
    data = {"subject": A.format(0), "object": T.format(0), "decision": "accept"}
    answer = web.post("/decide/people.yaml", data=data, headers={"origin": "http://evil.example"})
    assert answer.status_code == 403
    assert not (served / "people-curation.sssom.tsv").exists()


def test_two_tabs_deciding_at_once_lose_nothing(review_app: Starlette, served: Path) -> None:
    barrier = threading.Barrier(len(BAND))
    answers: list[int] = []

    def tab(pair: tuple[int, int], decision: str) -> None:
        with TestClient(review_app) as client:
            barrier.wait()
            answers.append(_post(client, pair, decision).status_code)  # type: ignore[attr-defined]

    threads = [
        threading.Thread(target=tab, args=(pair, "accept" if k % 2 else "reject"))
        for k, pair in enumerate(BAND)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [303] * len(BAND)
    decided = decided_pairs(served / "people-curation.sssom.tsv")
    assert decided == {(A.format(a), T.format(b)): k % 2 == 1 for k, (a, b) in enumerate(BAND)}
    assert _listed(TestClient(review_app)) == []
    # The spec named the file once, whichever tab came first.
    spec = (served / "people.yaml").read_text(encoding="utf-8")
    assert spec.count("curation:") == 1 and spec.endswith("curation: people-curation.sssom.tsv\n")


def test_a_spec_without_a_band_reviews_its_near_misses(tmp_path: Path) -> None:
    root = tmp_path / "served"
    root.mkdir()
    path = write_people(root)
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["threshold"] = 0.9  # 0 -> 0 (distance 1) is just refused: a near-miss
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    outputs = sorted(p.name for p in (root / "out").glob("*")) if (root / "out").exists() else []
    client = TestClient(create_app(root))
    page = client.get("/review/people.yaml")
    assert page.status_code == 200
    assert "no review band" in page.text and 'id="near-misses"' in page.text
    assert 'class="pair"' not in page.text  # found on a button press (a POST) only
    assert client.post("/near-misses/people.yaml", follow_redirects=False).status_code == 303
    page = client.get("/review/people.yaml")
    assert "near-misses" in page.text and "Find the near-misses again" in page.text
    assert f'data-subject="{A.format(0)}" data-object="{T.format(0)}"' in page.text
    assert page.text.count('<section class="pair"') == 1
    # Nothing of the spec's own outputs was written.
    assert (
        sorted(p.name for p in (root / "out").glob("*")) if (root / "out").exists() else []
    ) == outputs
    assert _post(client, (0, 0), "accept").status_code == 303  # type: ignore[attr-defined]
    assert main(["run", str(path)]) == 0
    assert (A.format(0), T.format(0)) in links(root)
