"""What an event adds to the rollups: pure functions, no I/O.

Every event adds to six rollup items: its minute, hour and day bucket (by ``occurred_at``, UTC),
each for its model version and for all versions together. An item's key is

    pk  <granularity>#<model_version>    minute#7, hour#7, day#7, or minute#* for all versions
    sk  the bucket's start, UTC          2026-11-30T03:48 / 2026-11-30T03 / 2026-11-30

so a dashboard reads a time range of one granularity with one Query (``pk = minute#*`` and
``sk BETWEEN``), and text order of ``sk`` is time order.

Minute items expire 8 days and hour items 120 days after their bucket starts (``expires_at``,
the table's TTL); day items are kept.

Counters are flat numeric attributes (DynamoDB's ADD works on top-level numbers without the
item or a map existing first). Histograms are fixed bins, one counter per bin:

    predictions, decision_<allow|review|reject>, flagged_<label>, score_sum_<label>,
    score_<label>_<i>, top_score_<i>      (i = 0..9: bins of 0.1, as the training baseline's)
    text_length_<i>                       (the baseline's length bins, TEXT_LENGTH_EDGES)
    latency_ms_le_<edge|inf>              (values in (lower, edge], for percentiles)
    lag_s_le_<edge|inf>                   (consumer lag: handled minus occurred_at)
    feedback, feedback_<user|moderator|perspective>, feedback_unmatched, <tp|fp|fn|tn>_<label>

Score and length bins are the training baseline's (``[lower, upper)``, the last one closed, values
outside clipped into the outer bins, as numpy's histogram does), so drift compares like with
like: :func:`histogram` turns an item's counters back into a ``contracts.Histogram``.

A feedback's confusion counts compare the labels it judges with what its prediction flagged; a
moderator's action spells out labels as the training does (``approve``: every label not named is
false; ``remove``: toxic unless named otherwise).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from contracts import (
    LABELS,
    Decision,
    FeedbackGiven,
    FeedbackSource,
    Histogram,
    Label,
    ModeratorAction,
    PredictionMade,
)

__all__ = [
    "ALL_VERSIONS",
    "COUNTERS",
    "GRANULARITIES",
    "LAG_COUNTERS",
    "LAG_EDGES_S",
    "LATENCY_COUNTERS",
    "LATENCY_EDGES_MS",
    "RETENTION",
    "SCORE_EDGES",
    "TEXT_LENGTH_EDGES",
    "BucketKey",
    "Counters",
    "Increments",
    "bucket_keys",
    "bucket_start",
    "expires_at",
    "feedback_counters",
    "feedback_increments",
    "histogram",
    "judged_labels",
    "lag_counts",
    "lag_percentile",
    "latency_counts",
    "latency_percentile",
    "merge",
    "percentile",
    "prediction_counters",
    "prediction_increments",
]

ALL_VERSIONS: Final = "*"
# Granularity -> strftime of the bucket's start: fixed width, so text order is time order.
GRANULARITIES: Final = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
SCORE_EDGES: Final = tuple(i / 10 for i in range(11))
# The training baseline's (services/training/quality.py); services share no code, only contracts.
TEXT_LENGTH_EDGES: Final = (0.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 100_001.0)
LATENCY_EDGES_MS: Final = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, math.inf)
LAG_EDGES_S: Final = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, math.inf)
# How long a bucket's item lives after the bucket starts (TTL); day items are kept.
RETENTION: Final = {"minute": timedelta(days=8), "hour": timedelta(days=120)}
# Score sums keep nine decimals: exact to add, and far from DynamoDB's 38 significant digits.
_SCORE_QUANTUM: Final = Decimal("1e-9")

Counters = dict[str, Decimal]


@dataclass(frozen=True, order=True)
class BucketKey:
    """The key of one rollup item."""

    pk: str
    sk: str


Increments = dict[BucketKey, Counters]


def bucket_keys(model_version: str, at: datetime) -> list[BucketKey]:
    """The six items an event at ``at`` adds to: each granularity, its version and all."""
    moment = at.astimezone(UTC)
    return [
        BucketKey(f"{granularity}#{version}", moment.strftime(pattern))
        for granularity, pattern in GRANULARITIES.items()
        for version in (model_version, ALL_VERSIONS)
    ]


def bucket_start(granularity: str, bucket: str) -> datetime:
    """The UTC start of a bucket text (``2026-11-30T03:48`` for a minute)."""
    return datetime.strptime(bucket, GRANULARITIES[granularity]).replace(tzinfo=UTC)


def expires_at(key: BucketKey) -> int | None:
    """Epoch seconds at which the item ``key`` may expire; None for items kept for good."""
    granularity = key.pk.partition("#")[0]
    keep = RETENTION.get(granularity)
    if keep is None:
        return None
    return int((bucket_start(granularity, key.sk) + keep).timestamp())


def _edge_name(edge: float) -> str:
    return "inf" if math.isinf(edge) else f"{edge:g}"


# The latency and lag histograms' counters, one per bin of LATENCY_EDGES_MS and LAG_EDGES_S.
LATENCY_COUNTERS: Final = tuple(f"latency_ms_le_{_edge_name(edge)}" for edge in LATENCY_EDGES_MS)
LAG_COUNTERS: Final = tuple(f"lag_s_le_{_edge_name(edge)}" for edge in LAG_EDGES_S)
# Every counter an event may add, in a fixed order: the dense tables of the dashboard's view
# (shared.monitoring.table) hold one column each.
COUNTERS: Final = (
    "predictions",
    *(f"decision_{decision.value}" for decision in Decision),
    *(f"flagged_{label.value}" for label in LABELS),
    *(f"score_sum_{label.value}" for label in LABELS),
    *(f"score_{label.value}_{i}" for label in LABELS for i in range(len(SCORE_EDGES) - 1)),
    *(f"top_score_{i}" for i in range(len(SCORE_EDGES) - 1)),
    *(f"text_length_{i}" for i in range(len(TEXT_LENGTH_EDGES) - 1)),
    *LATENCY_COUNTERS,
    *LAG_COUNTERS,
    "feedback",
    *(f"feedback_{source.value}" for source in FeedbackSource),
    "feedback_unmatched",
    *(f"{cell}_{label.value}" for label in LABELS for cell in ("tp", "fp", "fn", "tn")),
)


def _upper_bin(value: float, edges: Sequence[float]) -> int:
    """Index of the first edge at or above ``value``: the bin ``(lower, upper]``."""
    return next(i for i, edge in enumerate(edges) if value <= edge)


def _bin(value: float, edges: Sequence[float]) -> int:
    """The bin ``[edges[i], edges[i+1])`` of ``value``, the last closed, outliers clipped."""
    return max(0, min(bisect_right(edges, value) - 1, len(edges) - 2))


def prediction_counters(event: PredictionMade) -> Counters:
    """What one scored comment adds to each of its items."""
    one = Decimal(1)
    counters: Counters = {"predictions": one, f"decision_{event.decision.value}": one}
    for label in event.flagged:
        counters[f"flagged_{label.value}"] = one
    for label, score in event.scores.items():
        counters[f"score_sum_{label.value}"] = Decimal(repr(score)).quantize(_SCORE_QUANTUM)
        counters[f"score_{label.value}_{_bin(score, SCORE_EDGES)}"] = one
    counters[f"top_score_{_bin(max(event.scores.values(), default=0.0), SCORE_EDGES)}"] = one
    latency = _edge_name(LATENCY_EDGES_MS[_upper_bin(event.latency_ms, LATENCY_EDGES_MS)])
    counters[f"latency_ms_le_{latency}"] = one
    counters[f"text_length_{_bin(event.text_length, TEXT_LENGTH_EDGES)}"] = one
    return counters


def judged_labels(event: FeedbackGiven) -> dict[Label, bool]:
    """The labels a feedback judges, with a moderator's action spelled out."""
    labels = dict(event.true_labels)
    if event.moderator_action is ModeratorAction.APPROVE:
        for label in LABELS:
            labels.setdefault(label, False)
    elif event.moderator_action is ModeratorAction.REMOVE:
        labels.setdefault(Label.TOXIC, True)
    return labels


def feedback_counters(event: FeedbackGiven, flagged: Iterable[Label] | None) -> Counters:
    """What one feedback adds; ``flagged`` is its prediction's, None when it has none."""
    one = Decimal(1)
    counters: Counters = {"feedback": one, f"feedback_{event.feedback_source.value}": one}
    if flagged is None:
        counters["feedback_unmatched"] = one
        return counters
    predicted = set(flagged)
    for label, truth in judged_labels(event).items():
        cell = ("t" if truth == (label in predicted) else "f") + (
            "p" if label in predicted else "n"
        )
        counters[f"{cell}_{label.value}"] = one
    return counters


def _spread(model_version: str, at: datetime, counters: Counters) -> Increments:
    return {key: dict(counters) for key in bucket_keys(model_version, at)}


def prediction_increments(event: PredictionMade, lag_seconds: float | None = None) -> Increments:
    """The counter increments of a scored comment, per rollup item.

    ``lag_seconds`` is how long after ``occurred_at`` the monitoring handled it (consumer lag).
    """
    counters = prediction_counters(event)
    if lag_seconds is not None:
        edge = LAG_EDGES_S[_upper_bin(max(lag_seconds, 0.0), LAG_EDGES_S)]
        counters[f"lag_s_le_{_edge_name(edge)}"] = Decimal(1)
    return _spread(event.model_version, event.occurred_at, counters)


def feedback_increments(event: FeedbackGiven, flagged: Iterable[Label] | None) -> Increments:
    """The counter increments of a feedback, per rollup item."""
    return _spread(event.model_version, event.occurred_at, feedback_counters(event, flagged))


def merge(increments: Iterable[Mapping[BucketKey, Mapping[str, Decimal]]]) -> Increments:
    """The sum of several events' increments, one entry per item and counter."""
    total: Increments = {}
    for one in increments:
        for key, counters in one.items():
            into = total.setdefault(key, {})
            for name, delta in counters.items():
                into[name] = into.get(name, Decimal(0)) + delta
    return total


def _count(item: Mapping[str, object], name: str) -> int:
    return int(str(item.get(name, 0)))


def histogram(item: Mapping[str, object], prefix: str, edges: Sequence[float]) -> Histogram:
    """A binned histogram of a rollup item: ``histogram(item, "score_toxic_", SCORE_EDGES)``."""
    counts = tuple(_count(item, f"{prefix}{i}") for i in range(len(edges) - 1))
    return Histogram(edges=tuple(edges), counts=counts)


def latency_counts(item: Mapping[str, object]) -> list[int]:
    """The latency histogram's counts per ``LATENCY_EDGES_MS`` bin (absent counters are zero)."""
    return [_count(item, name) for name in LATENCY_COUNTERS]


def percentile(counts: Sequence[int], edges: Sequence[float], q: float) -> float | None:
    """The ``q``-quantile (0 < q <= 1) of values binned as ``(edges[i-1], edges[i]]``.

    Interpolates linearly inside the bin (the first bin starts at 0); a quantile in the open top
    bin reads as its lower edge, a lower bound. None when there are no values.
    """
    if not 0 < q <= 1:
        raise ValueError("q must be in (0, 1]")
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = edges[i - 1] if i else 0.0
            if math.isinf(edges[i]):
                return lower
            return lower + (edges[i] - lower) * (rank - seen) / count
        seen += count
    return edges[-2] if math.isinf(edges[-1]) else edges[-1]


def latency_percentile(item: Mapping[str, object], q: float) -> float | None:
    """The ``q``-quantile of latency in ms from a rollup item's latency histogram."""
    return percentile(latency_counts(item), LATENCY_EDGES_MS, q)


def lag_counts(item: Mapping[str, object]) -> list[int]:
    """The consumer-lag histogram's counts per ``LAG_EDGES_S`` bin."""
    return [_count(item, name) for name in LAG_COUNTERS]


def lag_percentile(item: Mapping[str, object], q: float) -> float | None:
    """The ``q``-quantile of the consumer lag in seconds from a rollup item."""
    return percentile(lag_counts(item), LAG_EDGES_S, q)
