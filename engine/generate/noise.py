"""String corruptions: pure functions of a value and three uniform numbers in [0, 1).

Each returns a variant of its string the way people or machines garble one: a keyboard slip,
an OCR slip, a spelling that sounds alike, an edit, address tokens rewritten, a nickname.
:func:`apply_strings` applies one to some rows of a column with numbers from the generator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Final

from engine.generate import data
from engine.generate.arrays import IntArray, ObjArray, Rng, objects

Corruptor = Callable[[str, float, float, float], str]
"""A corruption: ``(value, u, v, w) -> variant``, deterministic in its arguments."""


def _nicknames() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for line in data.lines("nicknames.txt"):
        formal, *short = line.split()
        out.setdefault(formal, []).extend(short)
        for s in short:
            out.setdefault(s, []).append(formal)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


NICKNAMES: Final[Mapping[str, tuple[str, ...]]] = _nicknames()
"""Given name -> its nicknames or formal forms (both ways), used by the ``nickname`` error."""

_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"


def _keyboard() -> dict[str, str]:
    rows = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
    shift = (0.0, 0.5, 0.75, 1.25)
    pos = {c: (r, i + shift[r]) for r, row in enumerate(rows) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, x) in pos.items():
        near = [
            d
            for d, (r2, x2) in pos.items()
            if d != c
            and c.isdigit() == d.isdigit()
            and ((r2 == r and abs(x2 - x) == 1) or (abs(r2 - r) == 1 and abs(x2 - x) < 1))
        ]
        out[c] = "".join(near)
    return out


_KEYBOARD: Final = _keyboard()


def _pattern_map(pairs: Mapping[str, str]) -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    table = {k: tuple(v.split("|")) for k, v in pairs.items()}
    keys = sorted(table, key=lambda k: (-len(k), k))
    return re.compile("|".join(re.escape(k) for k in keys)), table


_OCR_RE, _OCR = _pattern_map(
    {
        "0": "o", "o": "0", "1": "l|i", "l": "1|i", "i": "1|l", "5": "s", "s": "5", "8": "b",
        "b": "8|h", "2": "z", "z": "2", "6": "g", "g": "9|q", "9": "g", "rn": "m", "m": "rn",
        "cl": "d", "d": "cl", "vv": "w", "w": "vv", "li": "h", "h": "li|b", "nn": "m", "e": "c",
        "c": "e", "u": "ii", "ri": "n",
    }
)  # fmt: skip
_PHONETIC_RE, _PHONETIC = _pattern_map(
    {
        "ph": "f", "f": "ph", "ck": "k|c", "c": "k", "k": "c", "ie": "y|ey|ei", "y": "ie|i",
        "ey": "y|ie", "ei": "ie|ey", "ee": "ea|i", "ea": "ee", "ou": "ow|oo", "ow": "ou",
        "ai": "ay|a", "ay": "ai|ey", "s": "z", "z": "s", "th": "t", "gh": "g|", "wh": "w",
        "kn": "n", "qu": "kw", "x": "ks", "ks": "x", "mc": "mac", "mac": "mc", "er": "a|ar",
        "our": "or", "or": "our", "ll": "l", "tt": "t", "nn": "n", "ss": "s", "rr": "r",
        "mm": "m", "dd": "d", "pp": "p", "l": "ll", "t": "tt", "n": "nn", "r": "rr", "sch": "sh",
        "sh": "sch", "ch": "tch|sh", "oo": "u", "v": "w", "w": "v", "j": "g",
    }
)  # fmt: skip

_ABBREVIATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "street": ("st", "str"), "road": ("rd",), "avenue": ("ave", "av"), "crescent": ("cres", "cr"),
    "circuit": ("cct", "cir"), "place": ("pl",), "drive": ("dr", "drv"), "court": ("ct",),
    "close": ("cl",), "terrace": ("tce", "ter"), "parade": ("pde",), "highway": ("hwy",),
    "boulevard": ("bvd", "blvd"), "lane": ("ln",), "grove": ("gr", "gv"), "square": ("sq",),
    "mount": ("mt",), "saint": ("st",), "north": ("nth", "n"), "south": ("sth", "s"),
    "east": ("e",), "west": ("w",), "upper": ("upr",), "lower": ("lwr",), "heights": ("hts",),
    "gardens": ("gdns",), "point": ("pt",), "port": ("pt",), "village": ("vlg", "vge"),
    "station": ("stn",), "retirement": ("ret",), "caravan": ("cvn",), "unit": ("u",),
    "level": ("lvl", "l"), "flat": ("f",), "lodge": ("ldg",), "house": ("hse",),
    "park": ("pk",), "creek": ("ck",), "valley": ("vly",), "island": ("is",), "box": ("bx",),
    "st": ("saint", "street"), "mt": ("mount",),
}  # fmt: skip


_ABBREVIATION_KEYS: Final = frozenset(_ABBREVIATIONS)


def force_change(s: str, u: float, v: float, w: float) -> str:
    """A substitution that is guaranteed to change a non-empty string."""
    if not s:
        return _LETTERS[int(v * 26)]
    i = int(u * len(s))
    c = _LETTERS[int(v * 26)]
    if c == s[i]:
        c = _LETTERS[(_LETTERS.index(c) + 1) % 26]
    return s[:i] + c + s[i + 1 :]


def typo(s: str, u: float, v: float, w: float) -> str:
    """A keyboard slip: a neighbouring key replaces a character, or is typed before or after it."""
    n = len(s)
    if n == 0:
        return s
    i = int(u * n)
    if s[i] == " " or s[i] == "-":
        i = i + 1 if i + 1 < n else max(i - 1, 0)
    near = _KEYBOARD.get(s[i].lower())
    if not near:
        return force_change(s, u, v, w)
    r = near[int(v * len(near))]
    if w < 0.8:
        return s[:i] + r + s[i + 1 :]
    if w < 0.9:
        return s[:i] + r + s[i:]
    return s[: i + 1] + r + s[i + 1 :]


def _substitute(
    pattern: re.Pattern[str], table: Mapping[str, tuple[str, ...]], s: str, u: float, v: float
) -> str | None:
    found = list(pattern.finditer(s))
    if not found:
        return None
    m = found[int(u * len(found))]
    options = table[m.group()]
    return s[: m.start()] + options[int(v * len(options))] + s[m.end() :]


def _ocr(s: str, u: float, v: float, w: float) -> str:
    out = _substitute(_OCR_RE, _OCR, s, u, v)
    return typo(s, u, v, w) if out is None or out == s else out


def phonetic(s: str, u: float, v: float, w: float) -> str:
    """A spelling that sounds alike (ph/f, c/k, ie/y, mc/mac, doubled letters...), else a typo."""
    out = _substitute(_PHONETIC_RE, _PHONETIC, s, u, v)
    return typo(s, u, v, w) if out is None or out == s else out


def edit(s: str, u: float, v: float, w: float) -> str:
    """A character deleted, inserted, transposed or doubled, or a space inserted in a word."""
    n = len(s)
    i = int(u * n)
    if w < 0.3 and n > 1:  # delete
        return s[:i] + s[i + 1 :]
    if w < 0.55:  # insert
        return s[:i] + _LETTERS[int(v * 26)] + s[i:]
    if w < 0.8 and n > 1:  # transpose
        i = min(i, n - 2)
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if w < 0.9 and n > 2:  # a space inside a word
        i = max(1, min(i, n - 1))
        return s[:i] + " " + s[i:]
    return s[: i + 1] + s[i : i + 1] + s[i + 1 :] if n else s  # a doubled character


def _tokens(s: str, u: float, v: float, w: float) -> str:
    toks = s.split(" ")
    n = len(toks)
    ops = [] if _ABBREVIATION_KEYS.isdisjoint(toks) else [0]
    if n >= 2:
        ops += [1, 2, 3]
    if max(map(len, toks)) >= 5:
        ops.append(4)
    if not ops:
        return edit(s, u, v, w)
    op = ops[int(u * len(ops))]
    if op == 0:  # abbreviate (or expand) one token
        at = [i for i, t in enumerate(toks) if t in _ABBREVIATIONS]
        i = at[int(v * len(at))]
        options = _ABBREVIATIONS[toks[i]]
        toks[i] = options[int(w * len(options))]
    elif op == 1:  # drop a token: the last one (a street type) half of the time
        del toks[n - 1 if v < 0.5 else int(w * n)]
    elif op == 2:  # swap two adjacent tokens
        i = int(v * (n - 1))
        toks[i], toks[i + 1] = toks[i + 1], toks[i]
    elif op == 3:  # join two tokens
        i = int(v * (n - 1))
        toks[i : i + 2] = [toks[i] + toks[i + 1]]
    else:  # split a long token
        at = [i for i, t in enumerate(toks) if len(t) >= 5]
        i = at[int(v * len(at))]
        t = toks[i]
        j = 2 + int(w * (len(t) - 3))
        toks[i : i + 1] = [t[:j], t[j:]]
    return " ".join(toks)


def _nickname(s: str, u: float, v: float, w: float) -> str:
    alts = NICKNAMES.get(s)
    return alts[int(u * len(alts))] if alts else typo(s, u, v, w)


STRING_KINDS: Final[Mapping[str, Corruptor]] = {
    "typo": typo,
    "ocr": _ocr,
    "phonetic": phonetic,
    "edit": edit,
    "tokens": _tokens,
    "nickname": _nickname,
    "force": force_change,
}
"""The corruption of each string error kind (``force``: any change, when one must happen)."""


def apply_strings(rng: Rng, col: ObjArray, rows: IntArray, fn: Corruptor) -> None:
    """Replace the values of ``col`` at ``rows`` by ``fn`` of them (in place)."""
    if len(rows) == 0:
        return
    u = rng.random((len(rows), 3)).tolist()
    col[rows] = objects(
        [fn(s, a, b, c) for s, (a, b, c) in zip(col[rows].tolist(), u, strict=True)]
    )
