"""IRIs cut into namespace and local part in bulk: the common case of the SSSOM writer's split.

:class:`renderers.sssom._Splitter` splits one IRI at a time with Python regular
expressions, a few microseconds each: most of an SSSOM file's time at hundreds
of thousands of links. Most IRIs take one of its plainest paths: valid, and
either under a known namespace with a rest that is a valid CURIE tail, or under
none and cut after their last ``/`` or ``#`` with a non-empty local part that
is one. Arrow's compiled regular expressions find those, a column at a time;
every other IRI is left to the splitter, so the result is
its own. The columns are built from their buffers (:func:`renderers.columns.strings`):
pyarrow imports pandas (about 0.4 s) the first time it converts a Python object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from renderers.columns import booleans, strings, text

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["SplitColumn", "plain_columns", "plain_splits", "split_column"]

# renderers.rdf's _VALID_IRI for RE2, whose strings are UTF-8 (no surrogates).
_VALID_IRI = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|^`\\]*$"
# The namespace up to the last '/' or '#' (greedy), then what follows it; no match
# when the IRI ends with one or has neither. (?s): '.' takes every character.
_CUT = r"(?s)^(?P<namespace>.*[/#])(?P<local>[^/#]+)$"


def plain_columns(
    texts: pa.Array, known: Iterable[str], local: str
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Which of the IRIs ``texts`` take the plain path, and their namespaces and local parts.

    Three arrays as long as ``texts``: a boolean without nulls, then the
    namespace and the local part of each plain IRI (null for the others).
    ``known``: the namespaces the splitter prefers (an IRI under one is cut
    after the longest, when the rest is a valid local part); ``local``: the regular expression of a valid local part (Python's
    syntax, which RE2 reads alike for it).
    """
    import pyarrow.compute as pc

    cut = pc.extract_regex(texts, _CUT)  # null: no cut
    namespaces, locals_ = pc.struct_field(cut, "namespace"), pc.struct_field(cut, "local")
    # The splitter tries the longest known namespace that starts an IRI first.
    taken = booleans(np.zeros(len(texts), dtype=bool))
    for namespace in sorted(known, key=lambda ns: (-len(ns), ns)):
        under = pc.and_(pc.starts_with(texts, namespace), pc.invert(taken))
        if not pc.any(under).as_py():
            continue
        taken = pc.or_(taken, under)
        namespaces = pc.if_else(under, text(namespace), namespaces)
        locals_ = pc.if_else(under, pc.utf8_slice_codeunits(texts, len(namespace)), locals_)
    plain = pc.and_(
        pc.match_substring_regex(texts, _VALID_IRI),
        pc.match_substring_regex(locals_, f"^(?:{local})$"),
    )
    # Null (no cut) is False; fill_null(plain, False) would convert a Python scalar.
    plain = pc.and_kleene(plain, pc.is_valid(plain))
    return plain, _where(plain, namespaces), _where(plain, locals_)


def _where(mask: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` where ``mask``, else null (a null array: no Python scalar to convert)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(mask, values, pa.nulls(len(values), pa.string()))


def plain_splits(iris: Sequence[str], known: Iterable[str], local: str) -> list[str | None] | None:
    """The local parts of the ``iris`` that take the plain path, None for the others.

    A plain IRI's namespace is the rest of it, before its local part. None when
    Arrow cannot hold the IRIs (a lone surrogate): the splitter then takes them all.
    See :func:`plain_columns`.
    """
    texts = strings(iris)
    if texts is None:
        return None
    found: list[str | None] = plain_columns(texts, known, local)[2].to_pylist()
    return found


@dataclass(frozen=True)
class SplitColumn:
    """A column of IRIs split in bulk: the plain ones by Arrow, the others listed for the splitter.

    ``namespaces`` (dictionary-encoded) and ``locals_`` hold each plain IRI's
    parts, null for the others; ``others`` are those others, in row order.
    """

    plain: pa.Array
    namespaces: pa.DictionaryArray
    locals_: pa.Array
    others: list[str]

    def namespace_set(self) -> set[str]:
        """The namespaces of the plain IRIs."""
        return set(self.namespaces.dictionary.to_pylist())

    def curies(self, names: Mapping[str, str], others: Mapping[str, str]) -> pa.Array:
        """Each IRI's CURIE: a plain one's from its namespace's name, the others' from ``others``.

        ``names``: namespace -> prefix name; ``others``: IRI -> CURIE.
        """
        import pyarrow.compute as pc

        prefixes = strings([f"{names[ns]}:" for ns in self.namespaces.dictionary.to_pylist()])
        assert prefixes is not None, "prefix names are ASCII"
        # Null where not plain: a null prefix or local part makes a null CURIE.
        column = pc.binary_join_element_wise(
            pc.take(prefixes, self.namespaces.indices), self.locals_, text("")
        )
        if not self.others:
            return column
        replacements = strings([others[iri] for iri in self.others])
        assert replacements is not None, "CURIEs of valid IRIs are valid UTF-8"
        return pc.replace_with_mask(column, pc.invert(self.plain), replacements)


def split_column(iris: Sequence[str], known: Iterable[str], local: str) -> SplitColumn | None:
    """``iris`` split as :func:`plain_columns` does; None when Arrow cannot hold them."""
    import pyarrow.compute as pc

    texts = strings(iris)
    if texts is None:
        return None
    plain, namespaces, locals_ = plain_columns(texts, known, local)
    rows = pc.indices_nonzero(pc.invert(plain))
    # From the buffer: to_numpy imports pandas.
    data = rows.buffers()[1]
    assert data is not None
    indices = np.frombuffer(data, dtype=np.uint64)[rows.offset : rows.offset + len(rows)]
    others = [iris[i] for i in indices.tolist()]
    return SplitColumn(plain, pc.dictionary_encode(namespaces), locals_, others)
