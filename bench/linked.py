"""Benchmark of the linked-data paths against real stores: reading a SPARQL source, publishing.

    .venv/bin/python bench/linked.py [--rows 100000] [--links 50000]

Starts its own Oxigraph and Virtuoso 7 (as the tests do, on 127.0.0.1, stopped
at the end), loads ``--rows`` records (3 triples each), then times:

- reading them as a SPARQL source (``engine.alignment.sparql.fetch``) in pages
  of several sizes, and in one request where the store allows it;
- publishing ``--links`` links with their score annotations (6 triples a link)
  through the Graph Store Protocol and through SPARQL Update.

Prints a Markdown table (the figures of docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.alignment import publish, sparql  # noqa: E402
from engine.http import Auth  # noqa: E402
from renderers.graph import link_lines  # noqa: E402
from renderers.links import LinkTable  # noqa: E402
from schemas.alignment import Publish  # noqa: E402
from tests.stores import start_oxigraph, start_virtuoso  # noqa: E402

QUERY = (
    "SELECT ?s ?name ?born WHERE { GRAPH <http://bench/people> {"
    " ?s <http://xmlns.com/foaf/0.1/name> ?name ; <http://schema.org/birthDate> ?born } }"
)
GRAPH = "http://bench/linkset"


def _people(rows: int) -> str:
    lines = []
    for i in range(rows):
        s = f"<http://bench/p/{i}>"
        lines.append(f'{s} <http://xmlns.com/foaf/0.1/name> "Person {i}"@en .\n')
        lines.append(
            f'{s} <http://schema.org/birthDate> "19{i % 100:02d}-01-01"'
            "^^<http://www.w3.org/2001/XMLSchema#date> .\n"
        )
        lines.append(f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://bench/P> .\n")
    return "".join(lines)


def _timed(call: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def _links(count: int) -> list[list[str]]:
    table = LinkTable(
        align_ids=[f"http://bench/a/{i}" for i in range(count)],
        target_ids=[f"http://bench/b/{i}" for i in range(count)],
        distance=np.linspace(0, 1, count),
    )
    scores = 1 - table.distance
    return list(link_lines(table, "http://www.w3.org/2002/07/owl#sameAs", GRAPH, scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--links", type=int, default=50_000)
    parser.add_argument(
        "--update-links", type=int, default=5_000, help="links sent by SPARQL Update"
    )
    args = parser.parse_args()
    out: list[str] = [
        "| store | operation | size | requests | seconds | per second |",
        "|---|---|---|---|---|---|",
    ]
    work = Path(tempfile.mkdtemp(prefix="bench-linked-"))
    data = _people(args.rows)
    links = _links(args.links)
    few = _links(args.update_links)
    oxigraph = start_oxigraph(work / "oxigraph")
    virtuoso = start_virtuoso(work / "virtuoso")
    try:
        oxigraph.load(data, "application/n-triples", graph="http://bench/people")
        virtuoso.put_graph(data, "http://bench/people", "application/n-triples")
        digest = Auth("digest", virtuoso.user, virtuoso.password)
        for name, url, sizes in (
            ("Oxigraph", oxigraph.query_url, [None, 10_000, 100_000]),
            ("Virtuoso", virtuoso.sparql_url, [10_000]),
        ):
            for size in sizes:
                seconds, answer = _timed(lambda u=url, s=size: sparql.fetch(u, QUERY, page_size=s))
                assert isinstance(answer, sparql.Answer) and len(answer.rows) == args.rows
                label = "one request" if size is None else f"pages of {size:,}"
                out.append(
                    f"| {name} | read a SPARQL source, {label} | {args.rows:,} rows |"
                    f" {answer.requests} | {seconds:.2f} | {args.rows / seconds:,.0f} rows |"
                )
        triples = sum(len(lines) for lines in links)
        few_triples = sum(len(lines) for lines in few)
        cases: list[tuple[str, Publish, Auth | None, list[list[str]], int]] = [
            (
                "Oxigraph",
                Publish(graph=GRAPH, graph_store=oxigraph.store_url),
                None,
                links,
                triples,
            ),
            (
                "Oxigraph",
                Publish(graph=GRAPH, update=oxigraph.update_url, query=oxigraph.query_url),
                None,
                links,
                triples,
            ),
            (
                "Virtuoso",
                Publish(graph=GRAPH, graph_store=virtuoso.gsp_url),
                digest,
                links,
                triples,
            ),
            (
                "Virtuoso",
                Publish(graph=GRAPH, update=virtuoso.auth_url, query=virtuoso.sparql_url),
                digest,
                few,
                few_triples,
            ),
        ]
        for name, spec, auth, lines, count in cases:
            protocol = "Graph Store PUT" if spec.graph_store else "SPARQL Update (staging + MOVE)"
            seconds, _ = _timed(
                lambda s=spec, a=auth, ls=lines: publish.send_with(s, a, ls, [], "bench")
            )
            out.append(
                f"| {name} | publish, {protocol} | {len(lines):,} links, {count:,} triples | - |"
                f" {seconds:.2f} | {count / seconds:,.0f} triples |"
            )
    finally:
        oxigraph.stop()
        virtuoso.stop()
    print("\n".join(out))


if __name__ == "__main__":
    main()
