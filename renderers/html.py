"""An alignment run as one static HTML page: figures, distance charts, sample links.

The page is self-contained: inline CSS, charts drawn here as inline SVG, no
script, no font, image or style sheet fetched from anywhere (a Content Security
Policy makes the browser refuse any fetch that would slip in). Every value comes
from the run's data, so the page is rendered with autoescaping on, and record
IRIs only become links when they are ``http(s)``.

The same report always renders to the same bytes: no clock is read and every
number is formatted here, not by the locale.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

from renderers.clusters import IdentitySummary
from renderers.csv import format_distance
from renderers.html_model import ModelFacts, signed, waterfall, weights_chart
from renderers.links import FloatArray

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "AlignmentReport",
    "AttributeComparison",
    "AttributeInfo",
    "PairDetail",
    "RunSummary",
    "SourceSummary",
    "Sweep",
    "SweepPoint",
    "write_report",
]

# --------------------------------------------------------------------------- the report's facts


@dataclass(frozen=True)
class SourceSummary:
    """One side of the run: the source's name, its records and the rows it skipped."""

    name: str
    records: int
    skipped_rows: int = 0


@dataclass(frozen=True)
class RunSummary:
    """The figures of one alignment run.

    ``compared_pairs`` are the candidate pairs the blocking produced and the
    comparison scored, ``under_threshold`` those whose global distance was at
    most ``threshold``, ``links`` those the ``matching`` mode kept.
    """

    job: str
    spec_file: str
    engine_version: str
    started: datetime
    duration: timedelta
    align: SourceSummary
    target: SourceSummary
    compared_pairs: int
    under_threshold: int
    links: int
    matching: str
    threshold: float
    blocking: str
    outputs: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    dedup: bool = False

    def __post_init__(self) -> None:
        # Frozen: coerce through object.__setattr__ so callers may pass lists.
        object.__setattr__(self, "outputs", tuple(self.outputs))
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @property
    def skipped_rows(self) -> int:
        """Rows skipped on both sides (in a deduplication the target is the align side)."""
        return self.align.skipped_rows + (0 if self.dedup else self.target.skipped_rows)


@dataclass(frozen=True)
class AttributeInfo:
    """One compared attribute as the spec declares it.

    ``normalisers`` is the chain in the order applied (empty: compared as is);
    ``missing`` is the spec's missing-value rule as text (``max``, ``ignore``, a number).
    """

    name: str
    align_columns: tuple[str, ...]
    target_columns: tuple[str, ...]
    normalisers: tuple[str, ...]
    metric: str
    weight: float
    missing: str = "max"


@dataclass(frozen=True)
class AttributeComparison:
    """One attribute of one pair: both normalised values and their distance.

    A value is ``None`` when the record has none; ``distance`` is NaN then.
    """

    attribute: str
    align_value: str | None
    target_value: str | None
    distance: float
    #: With a fitted model: the match weight (bits) of the pair's level on this attribute.
    evidence: float | None = None


@dataclass(frozen=True)
class PairDetail:
    """A compared pair with its global distance and why: the per-attribute comparisons."""

    align_id: str
    target_id: str
    distance: float
    attributes: tuple[AttributeComparison, ...] = ()
    #: With a fitted model: the pair's match probability and weight (prior + the evidence).
    probability: float | None = None
    match_weight: float | None = None


@dataclass(frozen=True)
class SweepPoint:
    """The links the matching makes at one threshold, scored against the gold links."""

    threshold: float
    found: int
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Sweep:
    """Precision, recall and F1 over thresholds, from a gold file of ``gold_links`` links."""

    gold_file: str
    gold_links: int
    points: tuple[SweepPoint, ...]


# eq=False: the generated __eq__ would compare numpy arrays (see LinkTable).
@dataclass(frozen=True, eq=False)
class AlignmentReport:
    """Everything the HTML report shows about one run.

    ``distances`` holds the global distance of every pair kept after comparison
    (any length: it is binned, never drawn pair by pair); NaN and infinite values
    are counted but not drawn. ``sample`` (links) and ``near_misses`` (pairs just
    above the threshold) are shown in full, ordered by distance then ids, so the
    caller bounds their size. ``sweep`` is given when the run had a gold file.
    """

    summary: RunSummary
    attributes: tuple[AttributeInfo, ...]
    distances: FloatArray = field(default_factory=lambda: np.zeros(0))
    sweep: Sweep | None = None
    sample: tuple[PairDetail, ...] = ()
    near_misses: tuple[PairDetail, ...] = ()
    #: The fitted model that scored the pairs (its weights chart, each pair's waterfall).
    model: ModelFacts | None = None
    #: The links' clusters and what the identity-graph checks found, when clustered.
    identity: IdentitySummary | None = None

    def __post_init__(self) -> None:
        distances = np.asarray(self.distances, dtype=np.float64)
        if distances.ndim != 1:
            raise ValueError(f"distances has shape {distances.shape}, expected one dimension")
        # Frozen: coerce through object.__setattr__ so callers may pass lists.
        object.__setattr__(self, "distances", distances)
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "sample", tuple(self.sample))
        object.__setattr__(self, "near_misses", tuple(self.near_misses))


# --------------------------------------------------------------------------- number formatting


def _count(value: int) -> str:
    """An integer with thousands separators, independent of the locale."""
    return f"{value:,}"


def _short(value: float) -> str:
    """A distance rounded for reading (the full value goes in a ``title``)."""
    if math.isnan(value):
        return "–"
    if value == 0:
        return "0"
    return f"{value:.4g}"


def _number(value: float) -> str:
    """A threshold, weight or distance in full, without binary float noise.

    Twelve significant digits keep every digit a spec or a threshold sweep means
    and drop the noise of float sums: a sweep's ``0.027500000000000004`` shows
    ``0.0275``. Numpy scalars are taken too (their repr is ``np.float64(...)``).
    """
    return format_distance(float(f"{float(value):.12g}"))


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _compact(value: float) -> str:
    """An axis count: ``950``, ``12k``, ``1.5M``."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit and abs(value) >= 10_000:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.4g}"


def _duration(value: timedelta) -> str:
    """``0.84 s``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.3g} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _coordinate(value: float) -> str:
    """An SVG coordinate: one decimal is below a pixel and keeps the markup small."""
    # + 0.0 turns a rounded -0.0 into 0.0, so no "-0" appears.
    text = f"{round(value, 1) + 0.0:.1f}"
    return text[:-2] if text.endswith(".0") else text


# --------------------------------------------------------------------------- chart geometry

#: The drawing box of every chart, in SVG user units (the SVG scales to the page).
WIDTH, HEIGHT = 880.0, 300.0
LEFT, RIGHT, TOP, BOTTOM = 64.0, 24.0, 28.0, 48.0
#: About this many histogram bins; the bin width is rounded to 1, 2 or 5 x 10^k.
TARGET_BINS = 60


def _nice_step(span: float, count: int) -> float:
    """The 1, 2 or 5 x 10^k step that cuts ``span`` into at most ``count`` parts."""
    raw = span / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 5.0):
        # The tolerance keeps 0.3 / 3 from rounding up to 0.2 on float noise.
        if raw <= factor * magnitude * (1 + 1e-9):
            return factor * magnitude
    return 10.0 * magnitude


def _decimals(step: float) -> int:
    """Decimals needed to tell the ticks of ``step`` apart."""
    return max(0, -math.floor(math.log10(step) + 1e-9))


@dataclass(frozen=True)
class _Scale:
    """A linear map from data values to SVG positions."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return self.start + (value - self.low) / (self.high - self.low) * (self.end - self.start)


@dataclass(frozen=True)
class _Tick:
    at: str
    label: str


def _ticks(scale: _Scale, step: float, label: Callable[[float], str] | None = None) -> list[_Tick]:
    """Ticks at every multiple of ``step`` within the scale's domain."""
    digits = _decimals(step)
    first = math.ceil(scale.low / step - 1e-9)
    last = math.floor(scale.high / step + 1e-9)
    out: list[_Tick] = []
    for k in range(first, last + 1):
        value = k * step
        text = label(value) if label else f"{value:.{digits}f}"
        out.append(_Tick(_coordinate(scale(value)), text))
    return out


@dataclass(frozen=True)
class _Frame:
    """The chart's size and its plot area's edges, in SVG user units."""

    width: float = WIDTH
    height: float = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM

    @property
    def middle(self) -> float:
        """The horizontal centre of the plot area (where the axis title goes)."""
        return (self.left + self.right) / 2


@dataclass(frozen=True)
class _Marker:
    """A vertical line at ``x`` with a label placed where it stays inside the chart."""

    x: str
    label_x: str
    anchor: str


def _marker(x: float, frame: _Frame) -> _Marker:
    # Labels go right of the line, or left of it when they would leave the plot.
    if x > frame.right - 120:
        return _Marker(_coordinate(x), _coordinate(x - 6), "end")
    return _Marker(_coordinate(x), _coordinate(x + 6), "start")


@dataclass(frozen=True)
class _Bar:
    x: str
    y: str
    width: str
    height: str
    count: int
    low: str
    high: str
    under: bool


@dataclass(frozen=True)
class _Histogram:
    bars: list[_Bar]
    x_ticks: list[_Tick]
    y_ticks: list[_Tick]
    threshold: _Marker
    bin_width: str
    frame: _Frame


@dataclass(frozen=True)
class _Stats:
    shown: int
    not_finite: int
    minimum: float
    median: float
    maximum: float


def _distance_stats(finite: FloatArray, total: int) -> _Stats | None:
    if not len(finite):
        return None
    return _Stats(
        len(finite),
        total - len(finite),
        float(finite.min()),
        float(np.median(finite)),
        float(finite.max()),
    )


def _bins(low: float, top: float) -> tuple[float, float, int, float]:
    """``(low, high, bins, width)``: bins of a nice width from ``low`` that cover ``top``."""
    if top <= low:  # all distances equal (e.g. all 0 with threshold 0)
        top = low + 1.0
    width = _nice_step(top - low, TARGET_BINS)
    low = math.floor(low / width + 1e-9) * width
    bins = max(1, math.ceil((top - low) / width - 1e-9))
    # Float noise could leave the top value just outside the last bin, where
    # np.histogram would silently drop it.
    return low, max(low + bins * width, top), bins, width


def _histogram(finite: FloatArray, threshold: float, extra_high: float) -> _Histogram:
    """Bars of ``finite`` over nice bins covering the data, the threshold and ``extra_high``."""
    low, high, bins, width = _bins(
        min(0.0, float(finite.min())), max(float(finite.max()), threshold, extra_high)
    )
    # Uniform bins over an explicit range: numpy computes bin indices arithmetically,
    # ~30 ms for 5 million distances, instead of a binary search per value.
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    x = _Scale(low, high, LEFT, WIDTH - RIGHT)
    tallest = int(counts.max())
    y_step = max(1.0, _nice_step(float(tallest), 5)) if tallest else 1.0  # whole pairs
    y = _Scale(0.0, max(y_step, math.ceil(tallest / y_step) * y_step), HEIGHT - BOTTOM, TOP)
    digits = _decimals(width)
    bars: list[_Bar] = []
    for i, count in enumerate(counts.tolist()):
        start, end = float(edges[i]), float(edges[i + 1])
        left, right = x(start), x(end)
        gap = 1.0 if right - left > 4 else 0.0  # a hairline between bars, unless they are thin
        bars.append(
            _Bar(
                x=_coordinate(left + gap / 2),
                y=_coordinate(y(count)),
                width=_coordinate(right - left - gap),
                height=_coordinate(y(0) - y(count)),
                count=int(count),
                low=f"{start:.{digits}f}",
                high=f"{end:.{digits}f}",
                # Bins are [start, end): one starting below the threshold holds pairs
                # under it; with threshold 0 the first bin holds the exact matches.
                under=start < threshold or start == threshold == low,
            )
        )
    return _Histogram(
        bars=bars,
        x_ticks=_ticks(x, _nice_step(high - low, 8)),
        y_ticks=_ticks(y, y_step, _compact),
        threshold=_marker(x(threshold), _Frame()),
        bin_width=_number(width),
        frame=_Frame(),
    )


@dataclass(frozen=True)
class _Series:
    key: str
    label: str
    points: str
    markers: list[tuple[str, str]]


@dataclass(frozen=True)
class _SweepChart:
    series: list[_Series]
    x_ticks: list[_Tick]
    y_ticks: list[_Tick]
    threshold: _Marker | None
    best: SweepPoint
    best_at: _Marker
    best_y: str
    best_dy: str
    frame: _Frame
    points: list[SweepPoint]


#: Above this many thresholds the markers would merge into the line: leave them out.
MAX_MARKERS = 60


def _sweep_chart(sweep: Sweep, threshold: float) -> _SweepChart | None:
    """Precision, recall and F1 as lines over the swept thresholds."""
    points = sorted(sweep.points, key=lambda p: p.threshold)
    if not points:
        return None
    low, high = points[0].threshold, points[-1].threshold
    if high <= low:  # one threshold: give the line some room
        low, high = low - 0.5, high + 0.5
    step = _nice_step(high - low, 8)
    x = _Scale(low, high, LEFT, WIDTH - RIGHT)
    y = _Scale(0.0, 1.0, HEIGHT - BOTTOM, TOP)
    series: list[_Series] = []
    for key, label in (("precision", "Precision"), ("recall", "Recall"), ("f1", "F1")):
        xy = [(_coordinate(x(p.threshold)), _coordinate(y(getattr(p, key)))) for p in points]
        series.append(
            _Series(
                key=key,
                label=label,
                points=" ".join(f"{px},{py}" for px, py in xy),
                markers=xy if len(xy) <= MAX_MARKERS else [],
            )
        )
    # The first of equal F1s: the strictest threshold with the best score.
    best = max(points, key=lambda p: p.f1)
    inside = low <= threshold <= high
    return _SweepChart(
        series=series,
        x_ticks=_ticks(x, step),
        y_ticks=_ticks(y, 0.2, _percent_axis),
        threshold=_marker(x(threshold), _Frame()) if inside else None,
        best=best,
        best_at=_marker(x(best.threshold), _Frame()),
        best_y=_coordinate(y(best.f1)),
        # Near the top the legend sits above the lines: label the point below it.
        best_dy="22" if best.f1 > 0.8 else "-10",
        frame=_Frame(),
        points=points,
    )


def _percent_axis(value: float) -> str:
    return f"{round(100 * value)}%"


# --------------------------------------------------------------------------- pairs


@dataclass(frozen=True)
class _Row:
    """One attribute row of a pair, with what it added to the global distance."""

    comparison: AttributeComparison
    weighted: float  # weight x distance (with a model: the level's match weight); NaN: unknown
    share: str | None  # CSS width of the bar: weighted / threshold (|weight| / the largest)
    against: bool = False  # with a model: evidence against a match


def _pair_rows(pair: PairDetail, weights: dict[str, float], threshold: float) -> list[_Row]:
    rows: list[_Row] = []
    for comparison in pair.attributes:
        weight = weights.get(comparison.attribute, math.nan)
        weighted = weight * comparison.distance
        share = None
        if threshold > 0 and math.isfinite(weighted):
            share = f"{min(100.0, max(0.0, 100 * weighted / threshold)):.1f}%"
        rows.append(_Row(comparison, weighted, share))
    return rows


def _model_rows(pair: PairDetail, model: ModelFacts) -> list[_Row]:
    """With a model each attribute adds its level's match weight: its bar is that weight's size."""
    largest = max((abs(lv.weight) for a in model.attributes for lv in a.levels), default=1.0)
    rows: list[_Row] = []
    for comparison in pair.attributes:
        bits = math.nan if comparison.evidence is None else comparison.evidence
        share = None
        if math.isfinite(bits) and largest > 0:
            share = f"{min(100.0, 100 * abs(bits) / largest):.1f}%"
        rows.append(_Row(comparison, bits, share, bits < 0))
    return rows


def _waterfall(pair: PairDetail, model: ModelFacts) -> Any:
    evidence = [(c.attribute, c.evidence or 0.0) for c in pair.attributes]
    return waterfall(model, evidence)


def _pair_order(pair: PairDetail) -> tuple[bool, float, str, str]:
    """Nearest first, then by ids: the order never depends on the caller's."""
    nan = math.isnan(pair.distance)
    return (nan, 0.0 if nan else pair.distance, pair.align_id, pair.target_id)


def _web_link(iri: str) -> bool:
    """Whether an IRI may be an ``href``: ``javascript:`` or ``data:`` must never be one."""
    head = iri[:8].lower()
    return head.startswith(("http://", "https://")) and not any(c.isspace() for c in iri)


# --------------------------------------------------------------------------- rendering

_TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def _environment() -> jinja2.Environment:
    """The template environment, built once: templates are compiled on first use."""
    # Imported here: a run without an HTML output should not pay jinja2's import.
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        # Always on: select_autoescape() would not escape "*.html.j2" templates.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        count=_count,
        short=_short,
        number=_number,
        percent=_percent,
        duration=_duration,
        coordinate=_coordinate,
        signed=signed,
    )
    env.tests.update(web_link=_web_link, nan=math.isnan)
    return env


def _f1_at(sweep: Sweep | None, threshold: float) -> float | None:
    """The F1 of the sweep point at the run's threshold, if the sweep has one."""
    if sweep is None:
        return None
    tolerance = 1e-9 * max(1.0, abs(threshold))
    scores = [p.f1 for p in sweep.points if abs(p.threshold - threshold) <= tolerance]
    return scores[0] if scores else None


def _shown_pair(
    pair: PairDetail, report: AlignmentReport, weights: dict[str, float]
) -> tuple[PairDetail, list[_Row], Any]:
    """A pair, its attribute rows and, with a model, the waterfall of its evidence."""
    if report.model is None:
        return pair, _pair_rows(pair, weights, report.summary.threshold), None
    return pair, _model_rows(pair, report.model), _waterfall(pair, report.model)


def _context(report: AlignmentReport) -> dict[str, Any]:
    """What the template needs: the report, plus the charts computed from it."""
    summary = report.summary
    distances = report.distances
    finite = distances if np.isfinite(distances).all() else distances[np.isfinite(distances)]
    near = [p.distance for p in report.near_misses if math.isfinite(p.distance)]
    weights = {a.name: a.weight for a in report.attributes}
    sample = sorted(report.sample, key=_pair_order)
    near_misses = sorted(report.near_misses, key=_pair_order)
    return {
        "report": report,
        "summary": summary,
        "ended": summary.started + summary.duration,
        "stats": _distance_stats(finite, len(distances)),
        "histogram": (
            _histogram(finite, summary.threshold, max(near, default=0.0)) if len(finite) else None
        ),
        "sweep": report.sweep,
        "f1_here": _f1_at(report.sweep, summary.threshold),
        "sweep_chart": (
            _sweep_chart(report.sweep, summary.threshold) if report.sweep is not None else None
        ),
        "model": report.model,
        "model_chart": None if report.model is None else weights_chart(report.model),
        "sample": [_shown_pair(pair, report, weights) for pair in sample],
        "near_misses": [_shown_pair(pair, report, weights) for pair in near_misses],
    }


def write_report(report: AlignmentReport, handle: TextIO) -> None:
    """Write ``report`` as one self-contained HTML page (UTF-8 text, ``\\n`` line ends).

    The page needs no network and no script; the same report gives the same bytes.
    """
    template = _environment().get_template("report.html.j2")
    for chunk in template.generate(_context(report)):
        handle.write(chunk)
