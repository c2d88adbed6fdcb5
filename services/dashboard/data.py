"""Everything one page view needs, read at once: :func:`load_page_data`.

Two rounds of concurrent reads (an ``asyncio.TaskGroup`` each), every one a Query or GetItem:

1. the rollups of the default view, all versions: the last 24 h by minute (only the counters
   the per-minute charts draw, :data:`MINUTE_COUNTERS`), the same hours whole (every counter:
   the short window's totals and distributions) and the last 30 days by day; the current model,
   the model history, alerts, firings, retrain claims, pipeline health, the newest feedback rows
   and the pending reviews;
2. what depends on round 1: each shown model version's day items (the version comparison), and
   the current model's drift baseline and its hour items of the last 24 h (live histograms for
   drift: 25 hour items hold the same bins as 1,440 minute items).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contracts import DriftBaseline
from shared.items import FeedbackItem, ModelItem, ReviewItem
from shared.monitoring.reader import ModelHistoryEntry, MonitoringReader
from shared.monitoring.records import (
    ActiveAlert,
    BaselineItem,
    CurrentModel,
    FiringRecord,
    PipelineHealth,
    RetrainClaim,
)
from shared.monitoring.rollups import ALL_VERSIONS, GRANULARITIES, LATENCY_EDGES_MS, Counters

__all__ = ["MINUTE_COUNTERS", "Limits", "PageData", "PageReader", "Window", "load_page_data"]

Rollup = tuple[str, Counters]

# A day of minute items is ~3.5 MB in DynamoDB at a million predictions a month, and a Query
# reads at most 1 MB (before projection) per page: four Queries over adjacent quarters of the
# day go at once instead of four pages one after another.
MINUTE_SLICES = 4

# What the per-minute charts draw: volume, toxic rate, feedback and latency percentiles. A day of
# minute items is 1,440 items of ~100 counters each at a million predictions a month; reading
# these 14 instead keeps the page's biggest read small (see bench/dashboard.py).
MINUTE_COUNTERS: tuple[str, ...] = (
    "predictions",
    "flagged_toxic",
    "feedback",
    # Named as shared.monitoring.rollups names the latency bins: ``latency_ms_le_<edge|inf>``.
    *(f"latency_ms_le_{'inf' if math.isinf(e) else f'{e:g}'}" for e in LATENCY_EDGES_MS),
)


class PageReader(MonitoringReader, Protocol):
    """The monitoring reader, able to read only some counters of rollup items.

    ``DynamoMonitoringReader`` is one (a ProjectionExpression); the monitoring's own readers need
    not be.
    """

    async def rollups(
        self,
        granularity: str,
        model_version: str,
        first: str,
        last: str,
        attributes: Sequence[str] | None = None,
    ) -> list[tuple[str, Counters]]: ...


@dataclass(frozen=True)
class Window:
    """The view's time ranges, ending at ``now``: ``hours`` by minute and ``days`` by day."""

    now: datetime
    hours: int = 24
    days: int = 30

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise ValueError("the window's end must be a timezone-aware time")
        if not 1 <= self.hours <= 24 * 8:
            raise ValueError("hours must be between 1 and 192 (minute items live 8 days)")
        if not 1 <= self.days <= 3_650:
            raise ValueError("days must be between 1 and 3650")

    @property
    def short_start(self) -> datetime:
        """Start of the short window: its first minute bucket is whole and inside it."""
        return self.now.astimezone(UTC) - timedelta(hours=self.hours) + timedelta(minutes=1)

    @property
    def long_start(self) -> datetime:
        return self.now.astimezone(UTC) - timedelta(days=self.days - 1)

    def minute_slices(self, parts: int) -> list[tuple[str, str]]:
        """The short window's minutes as ``parts`` adjacent (first, last) ranges, in order."""
        pattern = GRANULARITIES["minute"]
        start = self.short_start.replace(second=0, microsecond=0)
        end = self.now.astimezone(UTC).replace(second=0, microsecond=0)
        minutes = int((end - start).total_seconds() // 60) + 1
        step = -(-minutes // max(parts, 1))
        slices = []
        for offset in range(0, minutes, step):
            first = start + timedelta(minutes=offset)
            last = min(first + timedelta(minutes=step - 1), end)
            slices.append((first.strftime(pattern), last.strftime(pattern)))
        return slices

    def range(self, granularity: str, start: datetime) -> tuple[str, str]:
        """(first, last) bucket texts of ``granularity`` from ``start`` to ``now``."""
        pattern = GRANULARITIES[granularity]
        return start.astimezone(UTC).strftime(pattern), self.now.astimezone(UTC).strftime(pattern)


@dataclass(frozen=True)
class Limits:
    """How much of each list a page shows."""

    feedback_rows: int = 100
    feedback_days: int = 30
    reviews: int = 100
    firings: int = 50
    history: int = 20
    versions: int = 5


@dataclass(frozen=True)
class PageData:
    """The raw reads of one page view; ``services.dashboard.summaries`` turns them into numbers."""

    window: Window
    limits: Limits
    minutes: list[Rollup]
    """The short window by minute, only :data:`MINUTE_COUNTERS`."""
    hours: list[Rollup]
    """The short window's hours, whole (the first one starts before the window)."""
    days: list[Rollup]
    current: CurrentModel | None
    history: list[ModelHistoryEntry]
    active_alerts: list[ActiveAlert]
    firings: list[FiringRecord]
    retrain_claims: list[RetrainClaim]
    health: PipelineHealth | None
    feedback: list[FeedbackItem]
    reviews: list[ReviewItem]
    version_days: dict[str, list[Rollup]] = field(default_factory=dict)
    baseline: DriftBaseline | None = None
    live_hours: list[Rollup] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing was ever counted in the view's windows."""
        return not self.minutes and not self.hours and not self.days


def _versions(
    current: CurrentModel | None, history: list[ModelHistoryEntry], limit: int
) -> list[str]:
    """The versions to compare: the current one, then the newest published ones."""
    found: list[str] = []
    if current is not None:
        found.append(current.model_version)
    for entry in history:
        if isinstance(entry, ModelItem) and entry.model_version not in found:
            found.append(entry.model_version)
    return found[:limit]


async def _baseline(
    reader: MonitoringReader, version: str, history: list[ModelHistoryEntry]
) -> DriftBaseline | None:
    stored: BaselineItem | None = await reader.baseline(version)
    if stored is not None:
        return DriftBaseline.model_validate_json(stored.baseline_json)
    # The logger's model item carries the same baseline: use it if the monitoring's is not in.
    for entry in history:
        if isinstance(entry, ModelItem) and entry.model_version == version:
            return entry.baseline
    return None


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


async def load_page_data(
    reader: PageReader,
    now: datetime,
    *,
    model_name: str,
    hours: int = 24,
    days: int = 30,
    limits: Limits | None = None,
) -> PageData:
    """Read everything the page shows for the view ending at ``now``.

    A failed read raises its own error (the first, when several fail), not a TaskGroup's group.
    """
    try:
        return await _load(reader, now, model_name, hours, days, limits or Limits())
    except BaseExceptionGroup as group:
        raise _first_error(group) from group


async def _load(
    reader: PageReader,
    now: datetime,
    model_name: str,
    hours: int,
    days: int,
    limits: Limits,
) -> PageData:
    window = Window(now=now, hours=hours, days=days)
    hour_first, hour_last = window.range("hour", window.short_start)
    day_first, day_last = window.range("day", window.long_start)
    async with asyncio.TaskGroup() as group:
        minute_parts = [
            group.create_task(reader.rollups("minute", ALL_VERSIONS, first, last, MINUTE_COUNTERS))
            for first, last in window.minute_slices(MINUTE_SLICES)
        ]
        hour_items = group.create_task(reader.rollups("hour", ALL_VERSIONS, hour_first, hour_last))
        day_items = group.create_task(reader.rollups("day", ALL_VERSIONS, day_first, day_last))
        current_task = group.create_task(reader.current_model())
        history_task = group.create_task(reader.model_history(model_name, limits.history))
        active = group.create_task(reader.active_alerts())
        firings = group.create_task(reader.firings(limits.firings))
        claims = group.create_task(reader.retrain_claims())
        health = group.create_task(reader.pipeline_health())
        feedback = group.create_task(
            reader.recent_feedback(limits.feedback_rows, limits.feedback_days)
        )
        reviews = group.create_task(reader.pending_reviews(limits.reviews))
    current, history = current_task.result(), history_task.result()
    versions = _versions(current, history, limits.versions)
    baseline: DriftBaseline | None = None
    live: list[Rollup] = []
    async with asyncio.TaskGroup() as group:
        per_version = [
            group.create_task(reader.rollups("day", version, day_first, day_last))
            for version in versions
        ]
        if current is not None:
            baseline_task = group.create_task(_baseline(reader, current.model_version, history))
            live_task = group.create_task(
                reader.rollups("hour", current.model_version, hour_first, hour_last)
            )
    if current is not None:
        baseline, live = baseline_task.result(), live_task.result()
    return PageData(
        window=window,
        limits=limits,
        minutes=[item for part in minute_parts for item in part.result()],
        hours=hour_items.result(),
        days=day_items.result(),
        current=current,
        history=history,
        active_alerts=active.result(),
        firings=firings.result(),
        retrain_claims=claims.result(),
        health=health.result(),
        feedback=feedback.result(),
        reviews=reviews.result(),
        version_days={v: task.result() for v, task in zip(versions, per_version, strict=True)},
        baseline=baseline,
        live_hours=live,
    )
