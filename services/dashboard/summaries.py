"""What the page shows, computed from rollups: pure functions, no I/O, no Streamlit.

Summed counters are a mapping of the names of ``shared.monitoring.rollups`` (``Table.total()``
of the page's dense tables, or :func:`total` of ``(bucket, counters)`` items as
``MonitoringReader.rollups`` returns them); per-bucket trends are computed over a whole table's
columns at once. Rates are None (shown as "n/a") where their denominator is zero, never a
division error or a made-up 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from contracts import LABELS, Decision, DriftBaseline, Histogram, Label
from shared.monitoring.drift import DriftReport, EdgeMismatchError, drift_report, stability
from shared.monitoring.rollups import (
    LATENCY_COUNTERS,
    LATENCY_EDGES_MS,
    SCORE_EDGES,
    TEXT_LENGTH_EDGES,
    Counters,
    histogram,
    latency_percentile,
)
from shared.monitoring.table import Rollup, Table

__all__ = [
    "Kpis",
    "LabelQuality",
    "LabelRow",
    "TrendRow",
    "VersionRow",
    "confidence_histogram",
    "drift_rows",
    "kpis",
    "label_quality",
    "label_rows",
    "live_drift",
    "percentiles",
    "ratio",
    "total",
    "trend",
    "version_row",
]

_RIGHT = tuple(f"{cell}_{label.value}" for label in LABELS for cell in ("tp", "tn"))
_WRONG = tuple(f"{cell}_{label.value}" for label in LABELS for cell in ("fp", "fn"))


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


def _n(counters: Mapping[str, Decimal | int | float], name: str) -> int:
    return int(counters.get(name, 0))


def total(items: Iterable[Rollup]) -> Counters:
    """The sum of several items' counters (one item's counters for a whole window)."""
    summed: Counters = {}
    for _, counters in items:
        for name, value in counters.items():
            if isinstance(value, Decimal | int):
                summed[name] = summed.get(name, Decimal(0)) + Decimal(value)
    return summed


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of a window."""

    predictions: int
    toxic_rate: float | None
    feedback: int
    feedback_accuracy: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    decisions: Mapping[Decision, int]


def _judged(counters: Mapping[str, Decimal], labels: Sequence[Label] = LABELS) -> tuple[int, int]:
    """(correct, judged) label verdicts of the feedback in ``counters``."""
    correct = sum(_n(counters, f"tp_{lb.value}") + _n(counters, f"tn_{lb.value}") for lb in labels)
    wrong = sum(_n(counters, f"fp_{lb.value}") + _n(counters, f"fn_{lb.value}") for lb in labels)
    return correct, correct + wrong


def kpis(counters: Mapping[str, Decimal]) -> Kpis:
    """Headline numbers of summed counters.

    The toxic rate is the share of predictions that flagged ``toxic`` (the alert rule's); the
    feedback accuracy is the share of label verdicts in feedback that the prediction got right.
    """
    predictions = _n(counters, "predictions")
    correct, judged = _judged(counters)
    return Kpis(
        predictions=predictions,
        toxic_rate=ratio(_n(counters, f"flagged_{Label.TOXIC.value}"), predictions),
        feedback=_n(counters, "feedback"),
        feedback_accuracy=ratio(correct, judged),
        latency_p50_ms=latency_percentile(counters, 0.50),
        latency_p95_ms=latency_percentile(counters, 0.95),
        latency_p99_ms=latency_percentile(counters, 0.99),
        decisions={d: _n(counters, f"decision_{d.value}") for d in Decision},
    )


def percentiles(
    counts: npt.NDArray[np.int64], edges: Sequence[float], q: float
) -> list[float | None]:
    """``shared.monitoring.rollups.percentile`` of every row of ``counts`` (buckets by bins)."""
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    bounds = np.asarray(edges, dtype=np.float64)
    totals = counts.sum(axis=1)
    rank = q * totals
    reached = counts.cumsum(axis=1)
    # The first bin with values whose cumulative count reaches the rank, as percentile() walks.
    hit = (counts > 0) & (reached >= rank[:, None])
    at = hit.argmax(axis=1)
    rows = np.arange(len(counts))
    count = counts[rows, at]
    seen = reached[rows, at] - count
    lower = np.where(at > 0, bounds[at - 1], 0.0)
    # An open top bin reads as its lower edge: its upper edge is taken as the lower one.
    upper = np.where(np.isinf(bounds[at]), lower, bounds[at])
    inside = lower + (upper - lower) * (rank - seen) / np.maximum(count, 1)
    beyond = bounds[-2] if np.isinf(bounds[-1]) else bounds[-1]
    found = np.where(hit.any(axis=1), inside, beyond)
    return [
        None if n == 0 else value for n, value in zip(totals.tolist(), found.tolist(), strict=True)
    ]


def _rates(
    numerators: npt.NDArray[np.int64], denominators: npt.NDArray[np.int64]
) -> list[float | None]:
    return [ratio(n, d) for n, d in zip(numerators.tolist(), denominators.tolist(), strict=True)]


@dataclass(frozen=True)
class TrendRow:
    """One bucket of a trend chart; missing buckets count zero, their rates are None."""

    at: datetime
    predictions: int
    toxic_rate: float | None
    feedback: int
    feedback_accuracy: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None


def trend(table: Table) -> list[TrendRow]:
    """One row per bucket of ``table``, in time order: :func:`kpis` of each, column by column."""
    predictions = table.column("predictions")
    right = table.columns(_RIGHT).sum(axis=1)
    judged = right + table.columns(_WRONG).sum(axis=1)
    latency = table.columns(LATENCY_COUNTERS)
    p50, p95, p99 = (percentiles(latency, LATENCY_EDGES_MS, q) for q in (0.50, 0.95, 0.99))
    return [
        TrendRow(*row)
        for row in zip(
            table.starts,
            predictions.tolist(),
            _rates(table.column(f"flagged_{Label.TOXIC.value}"), predictions),
            table.column("feedback").tolist(),
            _rates(right, judged),
            p50,
            p95,
            p99,
            strict=True,
        )
    ]


@dataclass(frozen=True)
class LabelRow:
    """How often a label is flagged and its mean score, over a window."""

    label: Label
    flagged: int
    frequency: float | None
    mean_score: float | None


def label_rows(counters: Mapping[str, Decimal]) -> list[LabelRow]:
    predictions = _n(counters, "predictions")
    return [
        LabelRow(
            label=label,
            flagged=_n(counters, f"flagged_{label.value}"),
            frequency=ratio(_n(counters, f"flagged_{label.value}"), predictions),
            mean_score=ratio(float(counters.get(f"score_sum_{label.value}", 0)), predictions),
        )
        for label in LABELS
    ]


@dataclass(frozen=True)
class LabelQuality:
    """A label's confusion counts from feedback and what follows from them."""

    label: Label
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def judged(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float | None:
        return ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def accuracy(self) -> float | None:
        return ratio(self.tp + self.tn, self.judged)


def label_quality(counters: Mapping[str, Decimal]) -> list[LabelQuality]:
    """Per-label precision, recall, F1 and accuracy of the predictions feedback judged."""
    return [
        LabelQuality(
            label=label,
            tp=_n(counters, f"tp_{label.value}"),
            fp=_n(counters, f"fp_{label.value}"),
            fn=_n(counters, f"fn_{label.value}"),
            tn=_n(counters, f"tn_{label.value}"),
        )
        for label in LABELS
    ]


def confidence_histogram(counters: Mapping[str, Decimal]) -> Histogram:
    """How sure the model was: each prediction's top score, in bins of 0.1."""
    return histogram(counters, "top_score_", SCORE_EDGES)


@dataclass(frozen=True)
class VersionRow:
    """One model version's numbers over the long window."""

    version: str
    predictions: int
    toxic_rate: float | None
    latency_p95_ms: float | None
    feedback: int
    feedback_accuracy: float | None
    mean_f1: float | None


def version_row(version: str, counters: Mapping[str, Decimal]) -> VersionRow:
    numbers = kpis(counters)
    f1s = [q.f1 for q in label_quality(counters) if q.f1 is not None]
    return VersionRow(
        version=version,
        predictions=numbers.predictions,
        toxic_rate=numbers.toxic_rate,
        latency_p95_ms=numbers.latency_p95_ms,
        feedback=numbers.feedback,
        feedback_accuracy=numbers.feedback_accuracy,
        mean_f1=sum(f1s) / len(f1s) if f1s else None,
    )


def live_drift(
    baseline: DriftBaseline, counters: Mapping[str, Decimal], *, min_count: int = 100
) -> DriftReport:
    """PSI per label of the live score histograms in ``counters`` against ``baseline``.

    Labels with fewer than ``min_count`` live rows get no PSI: over a handful of comments it
    would be noise.
    """
    predictions = _n(counters, "predictions")
    live = {label: histogram(counters, f"score_{label.value}_", SCORE_EDGES) for label in LABELS}
    rates = {
        label: _n(counters, f"flagged_{label.value}") / predictions
        for label in LABELS
        if predictions
    }
    return drift_report(
        baseline,
        live,
        live_text_lengths=histogram(counters, "text_length_", TEXT_LENGTH_EDGES),
        live_positive_rates=rates,
        min_count=min_count,
    )


def drift_rows(
    baseline: DriftBaseline | None, counters: Mapping[str, Decimal], *, min_count: int = 100
) -> tuple[list[dict[str, object]], str | None]:
    """Table rows of the drift per label, and why there are none (no baseline, bad edges)."""
    if baseline is None:
        return [], "no drift baseline for the current model yet"
    try:
        report = live_drift(baseline, counters, min_count=min_count)
    except EdgeMismatchError as exc:
        return [], f"the live histograms cannot be compared with the baseline: {exc}"
    rows: list[dict[str, object]] = []
    for label in LABELS:
        psi = report.label_psi.get(label)
        rows.append(
            {
                "label": label.value,
                "psi": psi,
                "stability": "too few rows" if psi is None else stability(psi),
                "baseline positive rate": baseline.positive_rates[label],
                "positive rate shift": report.positive_rate_shift.get(label),
            }
        )
    return rows, None
