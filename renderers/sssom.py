"""Links as an SSSOM/TSV mapping set (https://mapping-commons.github.io/sssom/).

The file is written directly, as the other writers do: sssom-py is only a test
dependency (the tests validate the output with it), and a run can produce
millions of links that a DataFrame round trip would only slow down.

Layout: the YAML metadata block, every line prefixed with ``#``, then the TSV
header and one row per link. Rows are in :func:`renderers.links.sorted_links`
order (the order of the CSV and RDF outputs) and every float is the shortest text
that reads back exactly, so a re-run writes identical bytes. Otherwise the file
follows the SSSOM canonical-form rules where they cost nothing: ``curie_map``
first and sorted, slots in the schema's order, built-in prefixes left out,
block sequences, plain or double-quoted YAML scalars, ``\\n`` line ends.

Identifiers: SSSOM/TSV requires CURIEs whose prefixes are all declared, and
sssom-py (through linkml) accepts a CURIE only if it is ASCII. Each record IRI is
split into a namespace and a local part (see :func:`write_sssom`); an IRI that
cannot be split that way (non-ASCII or malformed tail) becomes a namespace of
its own with an empty local part (``leonfrapie:``), since percent-encoding it
would name a different resource. Expanding every CURIE with the ``curie_map``
gives back exactly the input IRIs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote, unquote

import numpy as np

from renderers.columns import BULK_ROWS, CHUNK_ROWS, float_texts, write_rows
from renderers.csv import format_distance
from renderers.iri_split import plain_splits, split_column
from renderers.links import FloatArray, LinkTable, sorted_links
from renderers.rdf import check_iri

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "JUSTIFICATIONS",
    "OWL_SAME_AS",
    "UNSPECIFIED_LICENSE",
    "MappingSet",
    "MatchAttribute",
    "write_sssom",
]

OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
#: The licence sssom-py assumes when none is given: the slot is required on a set.
UNSPECIFIED_LICENSE = "https://w3id.org/sssom/license/unspecified"

# Built into SSSOM (and sssom-py): never written to the curie_map, never redefined.
_BUILT_IN = {
    "http://www.w3.org/2002/07/owl#": "owl",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf",
    "http://www.w3.org/2000/01/rdf-schema#": "rdfs",
    "https://w3id.org/semapv/vocab/": "semapv",
    "http://www.w3.org/2004/02/skos/core#": "skos",
    "https://w3id.org/sssom/": "sssom",
}
_XSD = "http://www.w3.org/2001/XMLSchema#"
# The engine's own terms: the extension properties and the normalisers SEMAPV lacks.
_VOCAB = "urn:specengine:vocab:"
_NORMALISERS = "urn:specengine:normaliser:"
# Namespaces common in linked data, given their usual prefix names.
_WELL_KNOWN = {
    "http://dbpedia.org/resource/": "dbr",
    "http://dbpedia.org/ontology/": "dbo",
    "http://www.wikidata.org/entity/": "wd",
    "http://www.wikidata.org/prop/direct/": "wdt",
    "http://schema.org/": "schema",
    "http://xmlns.com/foaf/0.1/": "foaf",
    "http://purl.org/dc/terms/": "dcterms",
    "http://viaf.org/viaf/": "viaf",
    "https://orcid.org/": "orcid",
}
# Never generated: SSSOM's built-ins (xsd and linkml too), our fixed names, and URI
# schemes, which would make a CURIE read like an absolute IRI.
_RESERVED = frozenset(
    {*_BUILT_IN.values(), "xsd", "linkml", "specengine", "normaliser", "align", "target"}
    | {"http", "https", "urn", "file", "ftp", "mailto", "tag", "data", "about"}
)

#: The values the SSSOM schema allows in ``mapping_justification``.
JUSTIFICATIONS = frozenset(
    f"semapv:{term}"
    for term in (
        "LexicalMatching",
        "LogicalReasoning",
        "CompositeMatching",
        "UnspecifiedMatching",
        "SemanticSimilarityThresholdMatching",
        "LexicalSimilarityThresholdMatching",
        "MappingChaining",
        "MappingReview",
        "ManualMappingCuration",
        "MappingInversion",
        "StructuralMatching",
        "InstanceBasedMatching",
        "BackgroundKnowledgeBasedMatching",
    )
)
# Engine normalisers with an exact SEMAPV preprocessing term; the others are named
# under the engine's namespace.
_SEMAPV_NORMALISERS = {
    "lowercase": "semapv:CaseNormalization",
    "unaccent": "semapv:DiacriticsSuppression",
    "tokenize": "semapv:Tokenization",
    "regex_replace": "semapv:RegexReplacement",
}

# A CURIE local part that linkml (hence sssom-py) accepts after any prefix that is
# also a URI scheme: the rest of an ASCII URI (RFC 3986 pchar, then an optional
# query and fragment). No leading '/': "p://x" would read as an authority.
_PCHAR = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
_LOCAL = re.compile(
    rf"(?:{_PCHAR}+(?:/{_PCHAR}*)*)?(?:\?(?:{_PCHAR}|[/?])*)?(?:#(?:{_PCHAR}|[/?])*)?"
)
# Prefix names valid as an NCName, as a URI scheme (see _LOCAL) and as sssom-py's idea
# of a CURIE prefix ([A-Za-z0-9_.]+): no '-' or '_'.
_PREFIX_NAME = re.compile(r"[A-Za-z][A-Za-z0-9.]*")
# An absolute IRI made of ASCII only: what the URI-typed slots (mapping_set_id,
# license) must hold for linkml to accept them.
_ASCII = re.compile(r"[\x21-\x7e]*")
# YAML scalars written in plain style; anything else is double-quoted. Conservative
# on purpose: no spaces, no '#', no trailing ':', and (below) no YAML 1.1 keywords,
# which PyYAML would read as booleans or null.
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./:+\-~%@]*(?<!:)")
_YAML_KEYWORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


@dataclass(frozen=True)
class MatchAttribute:
    """One compared attribute of the spec, as the mapping set describes it.

    ``align_fields`` / ``target_fields`` are the source fields compared (column
    names or SPARQL variables; a 0-based column index as its decimal text),
    ``normalisers`` the names of the normalisers applied, in order, ``metric`` the
    metric's name and ``weight`` its weight in the global distance;
    ``target_normalisers`` the target side's where it has a chain of its own.
    """

    name: str
    metric: str
    weight: float = 1.0
    align_fields: tuple[str, ...] = ()
    target_fields: tuple[str, ...] = ()
    normalisers: tuple[str, ...] = ()
    target_normalisers: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # Frozen: coerce through object.__setattr__ so callers may pass lists.
        for name in ("align_fields", "target_fields", "normalisers"):
            object.__setattr__(self, name, tuple(str(v) for v in getattr(self, name)))
        if self.target_normalisers is not None:
            object.__setattr__(
                self, "target_normalisers", tuple(str(v) for v in self.target_normalisers)
            )

    @property
    def object_normalisers(self) -> tuple[str, ...]:
        """The target side's normalisers: its own chain, else the shared one."""
        return self.normalisers if self.target_normalisers is None else self.target_normalisers


@dataclass(frozen=True)
class MappingSet:
    """The facts an SSSOM mapping set states about a linkset.

    * ``mapping_set_id``: the set's IRI (ASCII), e.g. ``urn:specengine:NAME:linkset:N``.
    * ``threshold``: the acceptance threshold T on the global distance D (>= 0).
    * ``max_distance``: the largest D any pair can reach, when every weighted metric
      is bounded: sum of weight * max(1, missing-value distance); ``None`` when some
      weighted metric is unbounded. Decides the similarity formula.
    * ``mapping_tool_version`` / ``mapping_date``: the engine version and run date.
    * ``attributes``: the compared attributes (match fields, preprocessing, measure).
    * ``predicate``: the link predicate IRI (default ``owl:sameAs``).
    * ``mapping_justification``: a SEMAPV CURIE among :data:`JUSTIFICATIONS`;
      ``semapv:CompositeMatching`` by default, as D combines several metrics.
    * ``license``: the licence IRI; ``None`` writes SSSOM's "unspecified" licence,
      as the slot is required.
    * ``title`` / ``description``: ``mapping_set_title`` / ``_description``.
    * ``subject_source`` / ``object_source``: IRIs of the align / target datasets.
    * ``subject_field_namespace`` / ``object_field_namespace``: IRI prefixes naming
      the fields of each side (e.g. ``urn:specengine:NAME:dataset:align:field:``),
      declared as ``align:`` / ``target:``; ``None`` leaves out the match fields.
    * ``similarity_measure``: replaces the generated description of the score.
    * ``prefixes``: prefix names the engine prefers (name -> namespace IRI), used for
      IRIs under those namespaces when the name is valid and free.
    """

    mapping_set_id: str
    threshold: float
    max_distance: float | None
    mapping_tool_version: str
    mapping_date: date
    attributes: tuple[MatchAttribute, ...] = ()
    predicate: str = OWL_SAME_AS
    mapping_justification: str = "semapv:CompositeMatching"
    mapping_tool: str = "specengine"
    license: str | None = None
    title: str | None = None
    description: str | None = None
    subject_source: str | None = None
    object_source: str | None = None
    subject_field_namespace: str | None = None
    object_field_namespace: str | None = None
    similarity_measure: str | None = None
    # hash=False: a dict is unhashable; the set stays hashable without it.
    prefixes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "prefixes", dict(self.prefixes))
        if not (math.isfinite(self.threshold) and self.threshold >= 0):
            raise ValueError(f"threshold must be finite and >= 0, got {self.threshold!r}")
        if self.max_distance is not None and not (
            math.isfinite(self.max_distance) and self.max_distance > 0
        ):
            raise ValueError(f"max_distance must be finite and > 0, got {self.max_distance!r}")
        if self.mapping_justification not in JUSTIFICATIONS:
            raise ValueError(
                f"mapping_justification {self.mapping_justification!r} is not one of "
                + ", ".join(sorted(JUSTIFICATIONS))
            )
        _check_uri(self.mapping_set_id, "mapping_set_id")
        if self.license is not None:
            _check_uri(self.license, "license")
        for iri in (
            self.predicate,
            self.subject_source,
            self.object_source,
            self.subject_field_namespace,
            self.object_field_namespace,
            *self.prefixes.values(),
        ):
            if iri is not None:
                check_iri(iri)


def _check_uri(value: str, slot: str) -> None:
    """Reject what SSSOM's URI-typed slots cannot hold (linkml checks them as ASCII URIs)."""
    check_iri(value)
    if _ASCII.fullmatch(value) is None:
        raise ValueError(f"{slot} must be an absolute IRI of ASCII characters: {value!r}")


# --------------------------------------------------------------------------- CURIEs


def _known_namespaces(preferred: Mapping[str, str]) -> dict[str, str]:
    """Namespace -> prefix name for the namespaces with a name before any link is seen."""
    known = dict(_WELL_KNOWN)
    for name, namespace in sorted(preferred.items()):
        # The engine's names win over the well-known ones, never over built-ins or ours.
        if _PREFIX_NAME.fullmatch(name) and name not in _RESERVED and namespace not in _BUILT_IN:
            known = {ns: n for ns, n in known.items() if n != name}
            known[namespace] = name
    known.update(_BUILT_IN)
    return known


class _Splitter:
    """Splits IRIs into (namespace, local part) so that the local part is a valid CURIE tail.

    A namespace the engine, SSSOM or the well-known table names is used when it
    starts the IRI (the longest one); otherwise the IRI is cut after its last '/'
    or '#' (its last ':' when it has neither, as in ``urn:isbn:...``), one
    separator earlier when that leaves an empty local part (a trailing slash).
    A tail linkml would reject (non-ASCII, a stray '%', brackets) makes the whole
    IRI the namespace, with an empty local part.
    """

    def __init__(self, known: Iterable[str]) -> None:
        # Longest first: the regex alternation stops at the first (longest) match.
        alternatives = sorted(known, key=lambda ns: (-len(ns), ns))
        self._known = re.compile("|".join(map(re.escape, alternatives))) if alternatives else None

    def split(self, iri: str) -> tuple[str, str]:
        """The namespace and local part of ``iri`` (ValueError if it is not an IRI)."""
        check_iri(iri)
        if self._known is not None and (match := self._known.match(iri)) is not None:
            local = iri[match.end() :]
            if _LOCAL.fullmatch(local):
                return match.group(), local
        cut = max(iri.rfind("/"), iri.rfind("#")) + 1
        separators = "/#" if cut else ":"  # urn:isbn:... has no '/' or '#'
        if not cut:
            cut = iri.rfind(":") + 1
        if cut == len(iri):  # a trailing separator: keep it in the local part
            cut = max(iri.rfind(sep, 0, cut - 1) for sep in separators) + 1 or cut
        local = iri[cut:]
        if local and _LOCAL.fullmatch(local):
            return iri[:cut], local
        return iri, ""


def _stem(namespace: str) -> str:
    """A short lower-case ASCII name for a namespace: its last path segment, or its host."""
    rest = namespace.split(":", 1)[1].lstrip("/")
    parts = [p for p in re.split(r"[/#?:=&;]+", rest) if p]
    if parts:
        # The host alone says more than "www" or its top-level domain.
        host = [label for label in parts[0].split(".") if label.lower() != "www"][:1]
        parts = host + parts[1:]
    for part in reversed(parts):
        ascii_text = unicodedata.normalize("NFKD", unquote(part)).encode("ascii", "ignore")
        # No digit first (a prefix name starts with a letter) nor last (numbered names
        # like person1 can then never equal another namespace's stem).
        stem = re.sub(r"[^a-z0-9]", "", ascii_text.decode().lower()).strip("0123456789")
        if stem:
            return stem[:20]
    return "ns"


def _assign_prefixes(
    namespaces: Iterable[str], fixed: Mapping[str, str], known: Mapping[str, str]
) -> dict[str, str]:
    """Namespace -> prefix name, one distinct name per namespace, from the namespaces alone.

    Built-in, fixed (ours) and known names first; the others get the stem of their
    namespace, numbered (``person1``, ``person2``) when several share it. The names
    depend only on the set of namespaces, never on the order links come in.
    """
    names: dict[str, str] = {}
    pending: list[str] = []
    for namespace in sorted(set(namespaces)):
        if namespace in _BUILT_IN:
            names[namespace] = _BUILT_IN[namespace]
        elif namespace in fixed:
            names[namespace] = fixed[namespace]
        elif namespace in known:
            names[namespace] = known[namespace]
        else:
            pending.append(namespace)
    taken = set(_RESERVED) | set(names.values())
    stems = {namespace: _stem(namespace) for namespace in pending}
    counts = Counter(stems.values())
    # The next number to try per stem: thousands of namespaces may share one (a
    # whole-IRI namespace per accented DBpedia name), so never rescan from 1.
    numbers: dict[str, int] = {}
    for namespace in sorted(pending, key=lambda ns: (stems[ns], ns)):
        stem = stems[namespace]
        name = stem
        if name in taken or counts[stem] > 1:
            number = numbers.get(stem, 1)
            while (name := f"{stem}{number}") in taken:
                number += 1
            numbers[stem] = number + 1
        names[namespace] = name
        taken.add(name)
    return names


# --------------------------------------------------------------------------- scores


def link_scores(distance: FloatArray, mapping_set: MappingSet) -> tuple[FloatArray, FloatArray]:
    """(confidence, similarity_score) of each link, as defined in :func:`write_sssom`."""
    t, d_max = mapping_set.threshold, mapping_set.max_distance
    # errstate: 0/0 when T = 0 is computed, then replaced by np.where.
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = (
            np.where(distance == 0, 1.0, 1.0 - distance / t) if t == 0 else 1 - distance / t
        )
        if d_max is not None:
            similarity = 1.0 - distance / d_max
        else:
            similarity = np.where(distance == 0, 1.0, t / (t + distance))
    # Clipping only absorbs rounding (a sum of weights may differ from D in the last
    # bit) and links past the threshold, which the engine never accepts.
    return np.clip(confidence, 0.0, 1.0), np.clip(similarity, 0.0, 1.0)


def _distance_terms(mapping_set: MappingSet) -> str:
    terms = [
        f"{format_distance(a.weight)}*{a.metric}({a.name})"
        for a in mapping_set.attributes
        if a.weight > 0
    ]
    return " + ".join(terms) if terms else "the weighted sum of the attribute distances"


def _similarity_measure(mapping_set: MappingSet) -> str:
    if mapping_set.similarity_measure is not None:
        return mapping_set.similarity_measure
    terms = _distance_terms(mapping_set)
    if mapping_set.max_distance is not None:
        d_max = format_distance(mapping_set.max_distance)
        return f"1 - D/{d_max}, where D = {terms} is the global distance and {d_max} its maximum"
    t = format_distance(mapping_set.threshold)
    return f"T/(T + D) (1 when D = 0), where D = {terms} is the global distance and T = {t}"


# --------------------------------------------------------------------------- YAML


def _scalar(text: str) -> str:
    """A YAML scalar: plain when unambiguous, else double-quoted with escapes."""
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_KEYWORDS:
        return text
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == " " or ch.isprintable():
            out.append(ch)
        else:  # controls, line/paragraph separators, BOM...: escaped to stay on one line
            code = ord(ch)
            out.append(f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}")
    return '"' + "".join(out) + '"'


def _sequence(key: str, values: Iterable[str]) -> list[str]:
    items = [f"#  - {_scalar(value)}\n" for value in values]
    return [f"#{key}:\n", *items] if items else []


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _extension_slots(names: Iterable[str]) -> list[tuple[str, str]]:
    """(slot name, attribute name) per attribute, sorted as SSSOM's canonical form wants.

    Slot names are ``ext_distance_<name>`` made an ASCII NCName (``ext_``: the
    prefix SSSOM reserves for extensions); names sanitised alike are numbered in
    spec order. Their properties (``specengine:distance_<name>``) sort like them.
    """
    slots: list[tuple[str, str]] = []
    used = {"ext_distance"}
    for name in names:
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = "ext_distance_" + re.sub(r"[^A-Za-z0-9_.\-]", "_", ascii_name)
        slot, number = base, 1
        while slot in used:
            number += 1
            slot = f"{base}_{number}"
        used.add(slot)
        slots.append((slot, name))
    return sorted(slots)


def _xsd_double(value: float) -> str:
    """A distance as an xsd:double lexical form (``INF``, not Python's ``inf``); NaN -> empty."""
    if math.isinf(value):
        return "INF" if value > 0 else "-INF"
    return format_distance(value)


# --------------------------------------------------------------------------- writer


def _field_local(name: str) -> str:
    """A field name as a CURIE local part: percent-encoded, '_'-led unless it starts alphanumeric.

    sssom-py rejects a multivalued metadata CURIE whose local part does not start
    with ``[A-Za-z0-9_]``, hence the '_' before ``%C3%89diteur``; a name that
    itself starts with '_' gets one more, so stripping one leading '_' and
    unquoting always gives the name back.
    """
    local = quote(name, safe="")
    return local if local[:1].isascii() and local[:1].isalnum() else "_" + local


@dataclass(frozen=True)
class _Curies:
    """The curie_map of one set and the CURIE of every IRI it uses.

    ``columns``: the CURIEs of the align and the target ids, row by row, when
    they were made in bulk (``curies`` then holds only the IRIs Arrow left to
    the splitter and the set's other IRIs).
    """

    prefixes: dict[str, str]  # namespace -> prefix name
    curies: dict[str, str]  # IRI -> CURIE
    columns: tuple[pa.Array, pa.Array] | None = None

    def name(self, namespace: str) -> str:
        return self.prefixes[namespace]


def _curies(
    table: LinkTable,
    mapping_set: MappingSet,
    fixed: dict[str, str],
    extra: Iterable[str] = (),
    columns: bool = False,
) -> _Curies:
    """Split every IRI of the set, then name the namespaces (the curie_map comes first).

    ``columns``: make the ids' CURIEs as Arrow columns (:attr:`_Curies.columns`).
    """
    known = _known_namespaces(mapping_set.prefixes)
    splitter = _Splitter(known)
    others = (
        mapping_set.predicate,
        mapping_set.subject_source,
        mapping_set.object_source,
        *extra,
    )
    ids = (table.align_ids, table.target_ids)
    sides = [split_column(i, known, _LOCAL.pattern) for i in ids] if columns else [None, None]
    if sides[0] is not None and sides[1] is not None:
        # Split by the splitter in the order below, an invalid IRI is the one it
        # would name first: align ids, then target ids, then the set's own IRIs.
        rest = (*sides[0].others, *sides[1].others, *(i for i in others if i is not None))
        splits = {iri: splitter.split(iri) for iri in dict.fromkeys(rest)}
        namespaces = sides[0].namespace_set() | sides[1].namespace_set()
        namespaces |= {ns for ns, _ in splits.values()} | set(fixed)
        prefixes = _assign_prefixes(namespaces, fixed, known)
        curies = {iri: f"{prefixes[ns]}:{local}" for iri, (ns, local) in splits.items()}
        made = (sides[0].curies(prefixes, curies), sides[1].curies(prefixes, curies))
        return _Curies(prefixes, curies, made)
    iris = (*table.align_ids, *table.target_ids, *(i for i in others if i is not None))
    # Each IRI once: align ids repeat in 1:n links. Many: the plain ones cut in bulk.
    distinct = list(dict.fromkeys(iris))
    bulk = plain_splits(distinct, known, _LOCAL.pattern) if len(table) >= BULK_ROWS else None
    if bulk is None:
        splits = {iri: splitter.split(iri) for iri in distinct}
    else:
        splits = {
            iri: splitter.split(iri) if local is None else (iri[: len(iri) - len(local)], local)
            for iri, local in zip(distinct, bulk, strict=True)
        }
    namespaces = {ns for ns, _ in splits.values()} | set(fixed)
    prefixes = _assign_prefixes(namespaces, fixed, known)
    curies = {iri: f"{prefixes[ns]}:{local}" for iri, (ns, local) in splits.items()}
    return _Curies(prefixes, curies)


def _comment(mapping_set: MappingSet, slots: list[tuple[str, str]], model: bool) -> str:
    columns = ["ext_distance: D"] + [
        f"{slot}: the distance on attribute {name!r} (empty: a value was missing)"
        for slot, name in slots
    ]
    if model:  # a fitted Fellegi-Sunter model: D = 1 - the match probability
        return (
            f"Links written by {mapping_set.mapping_tool}. confidence is the match probability"
            " of a fitted Fellegi-Sunter model (the spec's model), D = 1 - confidence;"
            f" a link is accepted when D <= T = {format_distance(mapping_set.threshold)}."
            f" similarity_score: see similarity_measure. Columns {'; '.join(columns)}."
        )
    return (
        f"Links written by {mapping_set.mapping_tool}. D is the global distance,"
        f" {_distance_terms(mapping_set)}; a link is accepted when D <= T ="
        f" {format_distance(mapping_set.threshold)}. confidence = 1 - D/T (1 when T = 0);"
        f" similarity_score: see similarity_measure. Columns {'; '.join(columns)}."
    )


def _side_normalisers(mapping_set: MappingSet, *, subject: bool) -> list[str]:
    """The normalisers of the deciding attributes on one side, each named once."""
    return _unique(
        n
        for a in mapping_set.attributes
        if a.weight > 0
        for n in (a.normalisers if subject else a.object_normalisers)
    )


def _metadata(
    mapping_set: MappingSet,
    names: _Curies,
    slots: list[tuple[str, str]],
    normalisers: list[str],
    model: bool = False,
    dated_rows: bool = False,
) -> list[str]:
    """The metadata block: curie_map first, then the slots in the SSSOM schema's order."""
    ms = mapping_set
    declared = sorted((name, ns) for ns, name in names.prefixes.items() if ns not in _BUILT_IN)
    lines = ["#curie_map:\n", *(f"#  {name}: {_scalar(ns)}\n" for name, ns in declared)]
    lines.append('#sssom_version: "1.1"\n')  # similarity_measure on a set is a 1.1 slot
    lines.append(f"#mapping_set_id: {_scalar(ms.mapping_set_id)}\n")
    if ms.title is not None:
        lines.append(f"#mapping_set_title: {_scalar(ms.title)}\n")
    if ms.description is not None:
        lines.append(f"#mapping_set_description: {_scalar(ms.description)}\n")
    lines.append(f"#license: {_scalar(ms.license or UNSPECIFIED_LICENSE)}\n")
    if ms.subject_source is not None:
        lines.append(f"#subject_source: {_scalar(names.curies[ms.subject_source])}\n")
    if ms.object_source is not None:
        lines.append(f"#object_source: {_scalar(names.curies[ms.object_source])}\n")
    lines.append(f"#mapping_tool: {_scalar(ms.mapping_tool)}\n")
    lines.append(f"#mapping_tool_version: {_scalar(ms.mapping_tool_version)}\n")
    day = ms.mapping_date.date() if isinstance(ms.mapping_date, datetime) else ms.mapping_date
    if not dated_rows:  # else each row has its own (a curated link: its curation's)
        lines.append(f"#mapping_date: {day.isoformat()}\n")  # plain: YAML reads it as a date

    # Weight-0 attributes are compared (their distance is a column) but decide nothing.
    deciding = [a for a in ms.attributes if a.weight > 0]
    for slot, namespace, fields in (
        ("subject_match_field", ms.subject_field_namespace, [a.align_fields for a in deciding]),
        ("object_match_field", ms.object_field_namespace, [a.target_fields for a in deciding]),
    ):
        if namespace is not None:
            prefix = names.name(namespace)
            locals_ = _unique(_field_local(f) for group in fields for f in group)
            lines += _sequence(slot, (f"{prefix}:{local}" for local in locals_))
    # SSSOM has one list per side: an attribute's chain, or its chain for that side.
    for slot, chain in (
        ("subject_preprocessing", _side_normalisers(ms, subject=True)),
        ("object_preprocessing", _side_normalisers(ms, subject=False)),
    ):
        preprocessing = [
            _SEMAPV_NORMALISERS.get(n) or f"{names.name(_NORMALISERS)}:{quote(n, safe='')}"
            for n in chain
        ]
        lines += _sequence(slot, preprocessing)
    lines.append(f"#similarity_measure: {_scalar(_similarity_measure(ms))}\n")
    lines.append(f"#comment: {_scalar(_comment(ms, slots, model))}\n")
    lines.append("#extension_definitions:\n")
    for slot in ["ext_distance", *(s for s, _ in slots)]:
        lines.append(
            f"#  - slot_name: {slot}\n"
            f"#    property: {names.name(_VOCAB)}:{slot.removeprefix('ext_')}\n"
            f"#    type_hint: {names.name(_XSD)}:double\n"
        )
    return lines


def write_sssom(
    table: LinkTable,
    mapping_set: MappingSet,
    handle: TextIO,
    curated: Mapping[tuple[str, str], tuple[str | None, str | None]] | None = None,
) -> None:
    """Write the links as an SSSOM/TSV mapping set (metadata block, header, sorted rows).

    ``curated`` maps the links that came from a curation (align IRI, target IRI)
    to its author IRI and date (either may be None): their rows say
    ``semapv:ManualMappingCuration`` and a confidence of 1 (their similarity
    score stays the matcher's), with ``author_id`` and ``mapping_date``
    columns when the curation gives them (the set's date then moves to each row,
    as SSSOM sets a propagatable slot in one place only).

    Each row is ``subject_id predicate_id object_id mapping_justification
    confidence similarity_score ext_distance ext_distance_<attribute>...``. With
    D the link's global distance, T the threshold and D_max the maximum distance:

    * ``confidence = 1 - D/T``: 1 for an exact match, 0 at the acceptance
      threshold, where the engine is least sure (1 when T = 0, as then D = 0);
      when a fitted model scored the links (``table.probability``), each
      link's match probability;
    * ``similarity_score = 1 - D/D_max`` when every metric is bounded (0 only
      when every attribute differs completely), else ``T/(T + D)``, which needs
      no maximum and is 1/2 at the threshold;

    both clipped to [0, 1], non-increasing in D, 1 at D = 0. The formulas are
    stated in the set's ``similarity_measure`` and ``comment``.

    Distances go in defined extension slots (SSSOM's place for non-standard
    values, declared in ``extension_definitions`` as ``xsd:double``):
    ``ext_distance`` is D and ``ext_distance_<attribute>`` each attribute's
    distance, empty when a value was missing. Readers without extension support
    (sssom-py 0.4) drop these columns, as the specification lets them.

    IRIs become CURIEs: a namespace the engine (``prefixes``), SSSOM or a short
    well-known table names, else the IRI up to its last '/' or '#'; generated
    prefix names come from the namespace (``person``, ``person1``...). Raises
    ``ValueError``, before writing anything, for an id that is not an IRI or a
    distance that is negative or not finite.
    """
    table = sorted_links(table)
    distance = table.distance
    bad = np.flatnonzero(~np.isfinite(distance) | (distance < 0))
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f"link {table.align_ids[i]} -> {table.target_ids[i]} has distance "
            f"{distance[i]!r}: SSSOM scores need a finite distance >= 0"
        )
    confidence, similarity = link_scores(distance, mapping_set)
    if table.probability is not None:  # a fitted model: the match probability itself
        confidence = table.probability
    if curated:  # a person confirmed these: whatever the matcher's score
        pairs = zip(table.align_ids, table.target_ids, strict=True)
        confirmed = np.fromiter((pair in curated for pair in pairs), bool, len(table))
        confidence = np.where(confirmed, 1.0, confidence)

    normalisers = _side_normalisers(mapping_set, subject=True)
    normalisers += _side_normalisers(mapping_set, subject=False)
    fixed = {_VOCAB: "specengine", _XSD: "xsd"}
    if any(n not in _SEMAPV_NORMALISERS for n in normalisers):
        fixed[_NORMALISERS] = "normaliser"
    # setdefault: in a deduplication both sides may share one namespace, hence one name.
    for namespace, name in (
        (mapping_set.subject_field_namespace, "align"),
        (mapping_set.object_field_namespace, "target"),
    ):
        if namespace is not None:
            fixed.setdefault(namespace, name)
    curated = curated or {}
    authors = {a for a, _ in curated.values() if a}
    dated = any(d for _, d in curated.values())
    # A chunk of rows at a time: a big set's texts never sit in memory all at once.
    bulk = len(table) >= BULK_ROWS and not curated
    names = _curies(table, mapping_set, fixed, sorted(authors), columns=bulk)
    slots = _extension_slots(table.attributes)

    lines = _metadata(
        mapping_set, names, slots, normalisers, table.probability is not None, dated_rows=dated
    )
    header = ["subject_id", "predicate_id", "object_id", "mapping_justification"]
    header += ["confidence", "similarity_score", "ext_distance", *(s for s, _ in slots)]
    header += ["author_id"] if authors else []
    header += ["mapping_date"] if dated else []
    lines.append("\t".join(header) + "\n")
    handle.write("".join(lines))

    curies = names.curies
    predicate, justification = curies[mapping_set.predicate], mapping_set.mapping_justification
    columns = [
        (confidence, format_distance),
        (similarity, format_distance),
        (distance, format_distance),
        *((table.attributes[name], _xsd_double) for _, name in slots),
    ]
    day = mapping_set.mapping_date
    run_day = (day.date() if isinstance(day, datetime) else day).isoformat()
    step = CHUNK_ROWS if names.columns is not None else max(len(table), 1)
    for start in range(0, len(table), step):
        end = start + step
        if names.columns is not None:
            subjects, objects = (column.slice(start, step) for column in names.columns)
            texts = [float_texts(values[start:end], how) for values, how in columns]
            write_rows([subjects, predicate, objects, justification, *texts], "\t", handle)
            continue
        subjects = [curies[s] for s in table.align_ids[start:end]]
        objects = [curies[o] for o in table.target_ids[start:end]]
        # tolist() converts to Python floats in one go, much faster than per-element numpy access.
        values = [[how(v) for v in column[start:end].tolist()] for column, how in columns]
        pairs = zip(table.align_ids[start:end], table.target_ids[start:end], strict=True)
        for k, pair in enumerate(pairs):
            row = [subjects[k], predicate, objects[k], justification]
            row += [texts[k] for texts in values]
            if curated:
                author, date_ = curated.get(pair, (None, None))
                if authors:
                    row.append(curies[author] if author else "")
                if dated:
                    row.append(date_ or ("" if pair in curated else run_day))
                if pair in curated:
                    row[3] = "semapv:ManualMappingCuration"
            handle.write("\t".join(row) + "\n")
