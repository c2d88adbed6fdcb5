"""Reading a time window of rollups: sums, feedback accuracy, toxic rate and live drift.

Pure functions over ``(bucket, counters)`` lists as ``MonitoringReader.rollups`` returns them;
the monitoring's rules and the dashboard read a window the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal

from contracts import LABELS, DriftBaseline, Label
from shared.monitoring.drift import DriftReport, drift_report
from shared.monitoring.rollups import (
    GRANULARITIES,
    SCORE_EDGES,
    TEXT_LENGTH_EDGES,
    Counters,
    histogram,
)

__all__ = [
    "bucket_range",
    "feedback_accuracy",
    "judged_feedback",
    "live_drift",
    "positive_rates",
    "total",
    "toxic_rate",
]


def bucket_range(granularity: str, first: datetime, last: datetime) -> tuple[str, str]:
    """The inclusive bucket texts of ``granularity`` covering ``first`` to ``last``."""
    pattern = GRANULARITIES[granularity]
    return first.strftime(pattern), last.strftime(pattern)


def total(items: Iterable[tuple[str, Mapping[str, Decimal]]]) -> Counters:
    """Every counter summed over the window's items."""
    summed: Counters = {}
    for _, counters in items:
        for name, value in counters.items():
            if isinstance(value, Decimal):
                summed[name] = summed.get(name, Decimal(0)) + value
    return summed


def _get(counters: Mapping[str, Decimal], name: str) -> int:
    return int(counters.get(name, Decimal(0)))


def judged_feedback(counters: Mapping[str, Decimal]) -> int:
    """Feedback rows matched to a prediction (those with confusion counts)."""
    return _get(counters, "feedback") - _get(counters, "feedback_unmatched")


def feedback_accuracy(counters: Mapping[str, Decimal]) -> float | None:
    """Share of judged labels the prediction got right, over every label; None without any."""
    right = sum(
        _get(counters, f"{cell}_{label.value}") for label in LABELS for cell in ("tp", "tn")
    )
    wrong = sum(
        _get(counters, f"{cell}_{label.value}") for label in LABELS for cell in ("fp", "fn")
    )
    return None if right + wrong == 0 else right / (right + wrong)


def toxic_rate(counters: Mapping[str, Decimal]) -> float | None:
    """Share of predictions flagged ``toxic``; None without predictions."""
    predictions = _get(counters, "predictions")
    return (
        None if predictions == 0 else _get(counters, f"flagged_{Label.TOXIC.value}") / predictions
    )


def positive_rates(counters: Mapping[str, Decimal]) -> dict[Label, float]:
    """Flagged share per label; empty without predictions."""
    predictions = _get(counters, "predictions")
    if predictions == 0:
        return {}
    return {label: _get(counters, f"flagged_{label.value}") / predictions for label in LABELS}


def live_drift(
    baseline: DriftBaseline,
    counters: Mapping[str, Decimal],
    *,
    threshold: float,
    min_count: int = 100,
) -> DriftReport:
    """The window's score and text-length histograms against the training baseline."""
    scores = {label: histogram(counters, f"score_{label.value}_", SCORE_EDGES) for label in LABELS}
    return drift_report(
        baseline,
        scores,
        live_text_lengths=histogram(counters, "text_length_", TEXT_LENGTH_EDGES),
        live_positive_rates=positive_rates(counters) or None,
        threshold=threshold,
        min_count=min_count,
    )
