"""The HTML report's charts of a fitted Fellegi–Sunter model, as inline SVG geometry.

Two charts Splink users read: the match weight of each attribute's comparison
levels (a bar per level, left of zero: evidence against a match, right: for
it), and the waterfall of one pair's evidence, from the prior's weight through
each attribute's to the pair's match weight and probability. This module
computes where every bar and label goes; the templates (``_model.svg.j2``,
``_waterfall.svg.j2``) draw them. Numbers are formatted here, never by the
locale, so the same report gives the same bytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "ModelAttribute",
    "ModelFacts",
    "ModelLevel",
    "WaterfallChart",
    "WeightsChart",
    "signed",
    "waterfall",
    "weights_chart",
]


@dataclass(frozen=True)
class ModelLevel:
    """One comparison level: its name (``exact``, ``<= 0.08``...), m, u and match weight (bits)."""

    level: str
    m: float
    u: float
    weight: float


@dataclass(frozen=True)
class ModelAttribute:
    """One attribute's levels; ``term_frequency``: its exact level weighs by the agreed value."""

    name: str
    levels: tuple[ModelLevel, ...]
    term_frequency: bool = False


@dataclass(frozen=True)
class ModelFacts:
    """A fitted model as the report shows it: prior, probability threshold, levels."""

    prior: float
    threshold: float
    attributes: tuple[ModelAttribute, ...]

    @property
    def prior_weight(self) -> float:
        """The prior as a match weight, ``log2(prior / (1 - prior))``: where every pair starts."""
        return math.log2(self.prior / (1 - self.prior))

    @property
    def threshold_weight(self) -> float:
        """The threshold as a match weight: a pair at or over it may be linked."""
        return math.log2(self.threshold / (1 - self.threshold))


def signed(value: float) -> str:
    """A match weight for reading: ``+7.74``, ``-2.74``, ``0``."""
    if value == 0 or math.isnan(value):
        return "0" if value == 0 else "–"
    return f"{value:+.2f}"


def _coordinate(value: float) -> str:
    text = f"{round(value, 1) + 0.0:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _step(span: float, count: int) -> float:
    """The 1, 2 or 5 x 10^k step cutting ``span`` into at most ``count`` parts."""
    raw = max(span, 1e-9) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0):
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10.0 * magnitude


@dataclass(frozen=True)
class _Axis:
    """A horizontal scale of match weights over ``[low, high]``, drawn from ``left`` to ``right``."""

    low: float
    high: float
    left: float
    right: float

    def x(self, value: float) -> float:
        return self.left + (value - self.low) / (self.high - self.low) * (self.right - self.left)

    def ticks(self) -> list[tuple[str, str]]:
        step = _step(self.high - self.low, 8)
        first = math.ceil(self.low / step - 1e-9)
        last = math.floor(self.high / step + 1e-9)
        return [(_coordinate(self.x(k * step)), f"{k * step:g}") for k in range(first, last + 1)]


def _axis(values: list[float], left: float, right: float) -> _Axis:
    """A scale covering ``values`` and 0, widened to whole steps."""
    low, high = min([0.0, *values]), max([0.0, *values])
    if high - low < 1e-9:
        low, high = low - 1, high + 1
    step = _step(high - low, 8)
    return _Axis(math.floor(low / step) * step, math.ceil(high / step) * step, left, right)


#: The charts' width, the left margin for labels, and a bar row's height (SVG units).
WIDTH, LABELS, MARGIN, ROW = 880.0, 230.0, 24.0, 20.0
TOP, BOTTOM = 12.0, 40.0


@dataclass(frozen=True)
class _Bar:
    """A horizontal bar with its row's label: ``positive`` weights are evidence for a match."""

    label: str
    y: str
    text_y: str
    x: str
    width: str
    value: str
    value_x: str
    anchor: str
    positive: bool
    title: str
    kind: str = "level"


@dataclass(frozen=True)
class WeightsChart:
    """The match weight of every level of every attribute, a bar each."""

    bars: tuple[_Bar, ...]
    ticks: tuple[tuple[str, str], ...]
    zero: str
    height: str
    axis_y: str
    left: str
    right: str
    width: str = _coordinate(WIDTH)


def _bar(
    axis: _Axis, start: float, end: float, row: int, label: str, title: str, kind: str
) -> _Bar:
    y = TOP + row * ROW
    a, b = axis.x(start), axis.x(end)
    low, high = min(a, b), max(a, b)
    positive = end >= start
    # A bar reaching the chart's left edge has its value on its right, clear of the labels.
    outside = positive or low - axis.left < 48
    return _Bar(
        label=label,
        y=_coordinate(y + 3),
        text_y=_coordinate(y + ROW / 2 + 4),
        x=_coordinate(low),
        width=_coordinate(max(high - low, 1.0)),
        value=signed(end - start) if kind != "total" else signed(end),
        value_x=_coordinate(high + 4 if outside else low - 4),
        anchor="start" if outside else "end",
        positive=positive,
        title=title,
        kind=kind,
    )


def weights_chart(model: ModelFacts) -> WeightsChart:
    """Bars from 0 to each level's match weight, attribute by attribute."""
    rows = [(a, level) for a in model.attributes for level in a.levels]
    axis = _axis([lv.weight for _, lv in rows], LABELS, WIDTH - MARGIN - 40)
    bars = tuple(
        _bar(
            axis,
            0.0,
            level.weight,
            k,
            f"{a.name} · {level.level}",
            f"{a.name}, {level.level}: m {level.m:.6g}, u {level.u:.6g},"
            f" match weight log2(m/u) = {signed(level.weight)}",
            "level",
        )
        for k, (a, level) in enumerate(rows)
    )
    bottom = TOP + len(rows) * ROW
    return WeightsChart(
        bars=bars,
        ticks=tuple(axis.ticks()),
        zero=_coordinate(axis.x(0.0)),
        height=_coordinate(bottom + BOTTOM),
        axis_y=_coordinate(bottom),
        left=_coordinate(axis.left),
        right=_coordinate(axis.right),
    )


@dataclass(frozen=True)
class WaterfallChart:
    """One pair's evidence: the prior, each attribute's weight, the total and its probability."""

    bars: tuple[_Bar, ...]
    ticks: tuple[tuple[str, str], ...]
    zero: str
    threshold: str
    height: str
    axis_y: str
    left: str
    right: str
    weight: float
    probability: float
    width: str = _coordinate(WIDTH)


def waterfall(model: ModelFacts, evidence: list[tuple[str, float]]) -> WaterfallChart:
    """The waterfall of a pair whose attributes weigh ``evidence`` (name, bits; 0: missing).

    Starts at the prior's weight; each attribute's bar goes from the running
    sum to the running sum plus its weight; the last bar is the pair's match
    weight, from 0, with its probability ``1 / (1 + 2**-weight)``.
    """
    running = [model.prior_weight]
    for _, bits in evidence:
        running.append(running[-1] + bits)
    total = running[-1]
    axis = _axis([*running, model.threshold_weight], LABELS, WIDTH - MARGIN - 40)
    bars = [
        _bar(
            axis,
            0.0,
            model.prior_weight,
            0,
            "prior",
            f"prior {model.prior:.6g}: log2(prior / (1 - prior)) = {signed(model.prior_weight)}",
            "prior",
        )
    ]
    for k, (name, bits) in enumerate(evidence):
        bars.append(
            _bar(
                axis,
                running[k],
                running[k + 1],
                k + 1,
                name,
                f"{name}: {signed(bits)} (running sum {signed(running[k + 1])})",
                "level",
            )
        )
    probability = 1.0 / (1.0 + 2.0 ** -max(min(total, 1000.0), -1000.0))
    bars.append(
        _bar(
            axis,
            0.0,
            total,
            len(evidence) + 1,
            "match weight",
            f"match weight {signed(total)}: probability {probability:.6g}",
            "total",
        )
    )
    bottom = TOP + (len(evidence) + 2) * ROW
    return WaterfallChart(
        bars=tuple(bars),
        ticks=tuple(axis.ticks()),
        zero=_coordinate(axis.x(0.0)),
        threshold=_coordinate(axis.x(model.threshold_weight)),
        height=_coordinate(bottom + BOTTOM),
        axis_y=_coordinate(bottom),
        left=_coordinate(axis.left),
        right=_coordinate(axis.right),
        weight=total,
        probability=probability,
    )
