"""Entities from links: connected components, canonical IRIs, identity-graph checks.

Pure functions over a graph given as integer node ids (``0..n-1``, one per record)
and links as two index arrays. The caller maps records to nodes and back.

- :func:`components` labels each node with its cluster (connected components of the
  links, as Splink, recordlinkage's ``ConnectedComponents`` and owl:sameAs closure do).
- :func:`canonical` picks each cluster's canonical node by a documented rule: the
  preferred source first (lowest rank), then the smallest IRI; :func:`cluster_id`
  derives an id from the canonical IRI, so a cluster keeps its id from run to run as
  long as its canonical record stays.
- :func:`bridges` finds the links whose removal splits a cluster in two parts of at
  least ``min_side`` records each: the single bad link that merges two classes.
- :func:`same_source` finds clusters holding two records of one source, which a
  linkage (each source free of duplicates) never should: a one-to-one violation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "Bridge",
    "bridges",
    "canonical",
    "cluster_id",
    "components",
    "same_source",
    "sizes",
]

Ints = npt.NDArray[np.int64]


def components(n: int, a: Ints, b: Ints) -> Ints:
    """The cluster label of each of ``n`` nodes: connected components of links ``a[i]-b[i]``.

    Labels are numbered in the order of each cluster's smallest node, so the same links
    give the same labels whatever their order.

    >>> components(5, np.array([0, 3]), np.array([1, 4])).tolist()
    [0, 0, 1, 2, 2]
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # Imported here (about 0.2 s): every run imports this module, few compute clusters.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # connected_components numbers by discovery order; renumber by smallest node.
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first, kind="stable")
    renumber = np.empty_like(order)
    renumber[order] = np.arange(len(order))
    result: Ints = renumber[labels].astype(np.int64)
    return result


def sizes(labels: Ints) -> Ints:
    """The number of nodes of each cluster, by label.

    >>> sizes(np.array([0, 0, 1, 2, 2, 2])).tolist()
    [2, 1, 3]
    """
    return np.bincount(labels).astype(np.int64)


def canonical(labels: Ints, iris: Sequence[str], rank: Sequence[int]) -> Ints:
    """Each cluster's canonical node: the lowest ``rank`` (preferred source), then the smallest IRI.

    >>> iris = ["http://b/1", "http://a/9", "http://a/2"]
    >>> canonical(np.array([0, 0, 1]), iris, [0, 1, 1]).tolist()
    [0, 2]
    """
    best: dict[int, tuple[int, str, int]] = {}
    for node, label in enumerate(labels.tolist()):
        key = (rank[node], iris[node], node)
        if label not in best or key < best[label]:
            best[label] = key
    return np.array([best[label][2] for label in range(len(best))], dtype=np.int64)


def cluster_id(canonical_iri: str) -> str:
    """A cluster's stable id, from its canonical IRI (the same IRI, the same id).

    >>> cluster_id("http://example.org/person/1")
    'c-7842a36425f7d420'
    """
    return "c-" + hashlib.sha256(canonical_iri.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Bridge:
    """A link (its index in the link arrays) whose removal splits its cluster.

    ``sides`` are the sizes of the two parts left, the smaller first.
    """

    link: int
    sides: tuple[int, int]


def bridges(n: int, a: Ints, b: Ints, *, min_side: int = 2) -> list[Bridge]:
    """The links whose removal splits a cluster into two parts of at least ``min_side`` nodes.

    Tarjan's bridge finding (lowest reachable discovery time over a DFS tree), iterative so
    that a chain of a million records does not exhaust Python's stack. Parallel links
    between the same two nodes are not bridges. With ``min_side=1`` every bridge is
    reported (a link to a single record is one); the default keeps the bridges that join
    two groups, the failure that merges two classes.

    >>> a, b = np.array([0, 1, 2, 2, 3, 4, 5]), np.array([1, 2, 0, 3, 4, 5, 3])
    >>> [(found.link, found.sides) for found in bridges(6, a, b)]
    [(3, (3, 3))]
    """
    adjacency: list[list[tuple[int, int]]] = [[] for _ in range(n)]
    for index, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        if x != y:
            adjacency[x].append((y, index))
            adjacency[y].append((x, index))
    discovered = [-1] * n
    low = [0] * n
    below = [1] * n  # nodes in each DFS subtree, the node included
    found: list[tuple[int, int]] = []  # (link, child): the child's subtree is one side
    root_of = [0] * n
    time = 0
    for root in range(n):
        if discovered[root] != -1:
            continue
        discovered[root] = low[root] = time
        time += 1
        root_of[root] = root
        # Each frame: node, the link it was reached by, the next neighbour to look at.
        stack: list[tuple[int, int, int]] = [(root, -1, 0)]
        while stack:
            node, via, next_index = stack[-1]
            if next_index < len(adjacency[node]):
                stack[-1] = (node, via, next_index + 1)
                other, link = adjacency[node][next_index]
                if link == via:
                    continue
                if discovered[other] == -1:
                    discovered[other] = low[other] = time
                    time += 1
                    root_of[other] = root
                    stack.append((other, link, 0))
                else:
                    low[node] = min(low[node], discovered[other])
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                below[parent] += below[node]
                if low[node] > discovered[parent]:
                    found.append((via, node))
    result = []
    for link, child in found:
        side = below[child]
        other_side = below[root_of[child]] - side
        smaller, larger = sorted((side, other_side))
        if smaller >= min_side:
            result.append(Bridge(link, (smaller, larger)))
    return sorted(result, key=lambda bridge: bridge.link)


def same_source(labels: Ints, source: Ints) -> list[int]:
    """The clusters (labels, ascending) holding two or more nodes of one source.

    >>> same_source(np.array([0, 0, 1, 1]), np.array([0, 1, 0, 0]))
    [1]
    """
    if not len(labels):
        return []
    pairs = np.unique(np.stack([labels, source], axis=1), axis=0, return_counts=True)
    (keys, counts) = pairs
    return sorted({int(label) for (label, _), count in zip(keys, counts, strict=True) if count > 1})
