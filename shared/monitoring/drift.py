"""How far live traffic has moved from the training baseline a ``ModelPublished`` carried.

Pure functions, no I/O. The measure is the population stability index (PSI) between the
baseline's bin proportions ``e`` and the live ones ``a``: ``sum((a - e) * ln(a / e))``. It is 0
for identical distributions and grows with the shift; the usual reading is below 0.1 stable,
0.1 to 0.25 moderate, above 0.25 significant (:func:`stability`).

Empty bins: a proportion of 0 makes ``ln`` infinite, so every proportion is floored at
:data:`EPSILON` (1e-4, i.e. one row in ten thousand) before the sum. A bin empty on both sides
then contributes exactly 0, and a bin empty on one side contributes a large but finite amount.

Edges: the live histograms need not use the baseline's edges. :func:`align` re-bins both onto
the edges they share (exactly, by merging whole bins; counts outside the shared range fold into
the outer bins, as the baseline's own clipping does). Splitting a bin would have to guess how
its rows spread inside it, so edges that share fewer than two points raise
:class:`EdgeMismatchError` instead of giving a made-up number.

Small samples: a PSI over a few dozen live rows is mostly noise, so :func:`drift_report` leaves
out (reports no PSI for) any histogram with fewer than ``min_count`` live rows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from contracts.events import DriftBaseline, Histogram
from contracts.vocabulary import LABELS, Label

__all__ = [
    "EPSILON",
    "MODERATE_PSI",
    "SIGNIFICANT_PSI",
    "DriftReport",
    "EdgeMismatchError",
    "Stability",
    "align",
    "drift_report",
    "population_stability_index",
    "positive_rate_shift",
    "rebin",
    "stability",
]

EPSILON = 1e-4
MODERATE_PSI = 0.1
SIGNIFICANT_PSI = 0.25
# Edges are floats computed in different places (``i / 10`` vs ``0.1 * i``): match them loosely.
_EDGE_TOLERANCE = 1e-9

Stability = Literal["stable", "moderate", "significant"]


class EdgeMismatchError(ValueError):
    """Two histograms' edges share too few points to be compared without guessing."""


def stability(psi: float) -> Stability:
    """The conventional reading of a PSI value."""
    if psi < MODERATE_PSI:
        return "stable"
    if psi <= SIGNIFICANT_PSI:
        return "moderate"
    return "significant"


def population_stability_index(
    expected: Sequence[int], actual: Sequence[int], *, epsilon: float = EPSILON
) -> float:
    """PSI between two count vectors over the same bins (``expected``: the baseline)."""
    if len(expected) != len(actual):
        raise ValueError(f"PSI needs the same bins on both sides: {len(expected)} vs {len(actual)}")
    if not 0 < epsilon < 1:
        raise ValueError("epsilon must lie strictly between 0 and 1")
    expected_total, actual_total = sum(expected), sum(actual)
    if expected_total <= 0 or actual_total <= 0:
        raise ValueError("PSI is undefined for an empty histogram")
    psi = 0.0
    for e_count, a_count in zip(expected, actual, strict=True):
        e = max(e_count / expected_total, epsilon)
        a = max(a_count / actual_total, epsilon)
        psi += (a - e) * math.log(a / e)
    # Each term is >= 0; the sum can only come out a hair negative through rounding.
    return max(psi, 0.0)


def _index_of(edges: Sequence[float], value: float) -> int | None:
    for i, edge in enumerate(edges):
        if math.isclose(edge, value, rel_tol=0.0, abs_tol=_EDGE_TOLERANCE):
            return i
    return None


def rebin(histogram: Histogram, edges: Sequence[float]) -> tuple[int, ...]:
    """``histogram``'s counts over ``edges``, merging whole bins; every edge must be one of its.

    Bins below ``edges[0]`` count in the first bin and bins above ``edges[-1]`` in the last.
    """
    if len(edges) < 2:
        raise EdgeMismatchError("re-binning needs at least two target edges")
    positions: list[int] = []
    for edge in edges:
        index = _index_of(histogram.edges, edge)
        if index is None:
            raise EdgeMismatchError(
                f"edge {edge} is not an edge of the histogram {histogram.edges}; "
                "re-binning would have to split a bin"
            )
        positions.append(index)
    if any(b <= a for a, b in itertools.pairwise(positions)):
        raise EdgeMismatchError(f"target edges must be strictly ascending: {tuple(edges)}")
    counts = histogram.counts
    merged = [sum(counts[start:end]) for start, end in itertools.pairwise(positions)]
    merged[0] += sum(counts[: positions[0]])
    merged[-1] += sum(counts[positions[-1] :])
    return tuple(merged)


def align(baseline: Histogram, live: Histogram) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Both histograms' counts over the edges they share: (baseline counts, live counts)."""
    if len(baseline.edges) == len(live.edges) and all(
        math.isclose(a, b, rel_tol=0.0, abs_tol=_EDGE_TOLERANCE)
        for a, b in zip(baseline.edges, live.edges, strict=True)
    ):
        return baseline.counts, live.counts
    shared = [edge for edge in baseline.edges if _index_of(live.edges, edge) is not None]
    if len(shared) < 2:
        raise EdgeMismatchError(
            f"the baseline edges {baseline.edges} and the live edges {live.edges} "
            "share fewer than two points"
        )
    return rebin(baseline, shared), rebin(live, shared)


def positive_rate_shift(
    baseline: Mapping[Label, float], live: Mapping[Label, float]
) -> dict[Label, float]:
    """Live minus baseline positive (flagged) rate, for each label present on both sides."""
    return {
        label: live[label] - baseline[label]
        for label in LABELS
        if label in live and label in baseline
    }


@dataclass(frozen=True, slots=True)
class DriftReport:
    """PSI per label (only those with enough live rows), text-length PSI and rate shifts.

    ``max_psi`` and ``drifted_labels`` look at the score PSIs only: the text-length PSI says the
    comments changed, not that the model now scores them differently, so it is reported beside.
    """

    threshold: float
    label_psi: Mapping[Label, float] = field(default_factory=dict)
    text_length_psi: float | None = None
    positive_rate_shift: Mapping[Label, float] = field(default_factory=dict)

    @property
    def max_psi(self) -> float | None:
        """The largest per-label PSI, or None when no label had enough live rows."""
        return max(self.label_psi.values(), default=None)

    @property
    def drifted_labels(self) -> tuple[Label, ...]:
        """Labels whose PSI is above the threshold, in label order."""
        return tuple(label for label in LABELS if self.label_psi.get(label, 0.0) > self.threshold)

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_labels)

    @property
    def text_length_drifted(self) -> bool:
        return self.text_length_psi is not None and self.text_length_psi > self.threshold


def _psi_if_enough(
    baseline: Histogram, live: Histogram, min_count: int, epsilon: float
) -> float | None:
    expected, actual = align(baseline, live)
    if sum(actual) < min_count or sum(expected) == 0:
        return None
    return population_stability_index(expected, actual, epsilon=epsilon)


def drift_report(
    baseline: DriftBaseline,
    live_scores: Mapping[Label, Histogram],
    *,
    live_text_lengths: Histogram | None = None,
    live_positive_rates: Mapping[Label, float] | None = None,
    threshold: float = SIGNIFICANT_PSI,
    min_count: int = 100,
    epsilon: float = EPSILON,
) -> DriftReport:
    """Compare live histograms (any labels; missing ones are skipped) with ``baseline``.

    Raises :class:`EdgeMismatchError` when a live histogram cannot be aligned with its baseline.
    """
    if threshold < 0:
        raise ValueError("the PSI threshold cannot be negative")
    if min_count < 1:
        raise ValueError("min_count must be at least 1")
    label_psi: dict[Label, float] = {}
    for label in LABELS:
        live = live_scores.get(label)
        if live is None:
            continue
        psi = _psi_if_enough(baseline.score_histograms[label], live, min_count, epsilon)
        if psi is not None:
            label_psi[label] = psi
    text_length_psi = (
        None
        if live_text_lengths is None
        else _psi_if_enough(baseline.text_length_histogram, live_text_lengths, min_count, epsilon)
    )
    shift = (
        {}
        if live_positive_rates is None
        else positive_rate_shift(baseline.positive_rates, live_positive_rates)
    )
    return DriftReport(
        threshold=threshold,
        label_psi=label_psi,
        text_length_psi=text_length_psi,
        positive_rate_shift=shift,
    )
