"""IRIs cut into namespace and local part in bulk: the common case of the SSSOM writer's split.

:class:`renderers.sssom._Splitter` splits one IRI at a time with Python regular
expressions, a few microseconds each: most of an SSSOM file's time at hundreds
of thousands of links. Most IRIs take its plainest path: valid, under no known
namespace, cut after their last ``/`` or ``#`` with a non-empty local part that
is a valid CURIE tail. Arrow's compiled regular expressions find those, a
column at a time; every other IRI is left to the splitter, so the result is
its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["plain_splits"]

# renderers.rdf's _VALID_IRI for RE2, whose strings are UTF-8 (no surrogates).
_VALID_IRI = r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\x00-\x20<>\"{}|^`\\]*$"
# What follows the last '/' or '#' (the leftmost match of this reaches back to it);
# none when the IRI ends with one or has neither.
_TAIL = r"(?P<local>[^/#]+)$"
_SEPARATOR = r"[/#]"


def plain_splits(iris: Sequence[str], known: Iterable[str], local: str) -> list[str | None] | None:
    """The local parts of the ``iris`` that take the plain path, None for the others.

    A plain IRI's namespace is the rest of it, before its local part.

    ``known``: the namespaces the splitter prefers (an IRI under one is not
    plain); ``local``: the regular expression of a valid local part (Python's
    syntax, which RE2 reads alike for it). None when Arrow cannot hold the IRIs
    (a lone surrogate): the splitter then takes them all.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        texts = pa.array(iris, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return None
    plain = pc.match_substring_regex(texts, _VALID_IRI)
    for namespace in known:
        plain = pc.and_(plain, pc.invert(pc.starts_with(texts, namespace)))
    plain = pc.and_(plain, pc.match_substring_regex(texts, _SEPARATOR))
    tails = pc.struct_field(pc.extract_regex(texts, _TAIL), "local")  # null: none
    plain = pc.and_(plain, pc.match_substring_regex(tails, f"^(?:{local})$"))
    plain = pc.fill_null(plain, False)
    found: list[str | None] = pc.if_else(plain, tails, None).to_pylist()
    return found
