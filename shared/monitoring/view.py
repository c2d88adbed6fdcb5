"""The dashboard's default view of the rollups and long lists, read in one place: :func:`read_view`.

The monitoring builds it every ``TOXIC_VIEW_SECONDS`` and stores it encoded
(``shared.monitoring.view_codec``) as one item, the materialized view the dashboard reads with a
single GetItem; the dashboard calls the same function to read live when no fresh view is stored.

What it reads, every one a Query or GetItem: the current model and the model history (which
versions to compare, the drift baseline); the last ``hours`` by minute (only
:data:`MINUTE_COUNTERS`), the same hours whole and the last ``days`` by day, all versions; each
compared version's day items; the current model's baseline and hour items; and the page's two
long lists, the newest feedback rows and the pending reviews (index Queries returning ~100 items
each: on the stand-in they cost more than everything else the page reads at once).

The rollups are held as dense tables (``shared.monitoring.table``): every bucket of the window by
every counter, zeros included, so the view's size and the page's work on it depend on the window
and the compared versions, not on the traffic.

Given the ``previous`` view, a build reads less: every counter grows with ``predictions`` or
with ``feedback``, so an item whose two totals held since has the same counters. The hour and day
items (all versions, per compared version and the current version's hours) are read as those two
totals first, then whole only where they moved or from the bucket the previous build was in (late
events land in old buckets); the minutes of an hour are taken from the previous view unless that
hour's totals moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from contracts import DriftBaseline
from shared.items import FeedbackItem, ModelItem, ReviewItem
from shared.monitoring.reader import ModelHistoryEntry
from shared.monitoring.records import BaselineItem, CurrentModel
from shared.monitoring.rollups import (
    ALL_VERSIONS,
    COUNTERS,
    GRANULARITIES,
    LATENCY_COUNTERS,
    Counters,
)
from shared.monitoring.table import Rollup, Table

__all__ = [
    "MINUTE_COUNTERS",
    "Lists",
    "Rollup",
    "RollupReader",
    "RollupView",
    "Table",
    "Window",
    "first_error",
    "read_view",
]

# What the per-minute charts draw: volume, toxic rate, feedback and latency percentiles. A day of
# minute items is 1,440 items of ~100 counters each at a million predictions a month; reading
# these 14 instead keeps the biggest read small (see bench/dashboard.py).
MINUTE_COUNTERS: tuple[str, ...] = (
    "predictions",
    "flagged_toxic",
    "feedback",
    *LATENCY_COUNTERS,
)

# A Query reads at most 1 MB (before projection) per page, and a day of minute items is ~3.5 MB
# at a million predictions a month: ranges of at most six hours go at once instead of pages
# one after another.
_MAX_MINUTE_RANGE_HOURS = 6
_TOTALS = ("predictions", "feedback")


class RollupReader(Protocol):
    """What :func:`read_view` reads: rollups (some counters only, when asked), models."""

    async def rollups(
        self,
        granularity: str,
        model_version: str,
        first: str,
        last: str,
        attributes: Sequence[str] | None = None,
    ) -> list[tuple[str, Counters]]: ...

    async def baseline(self, model_version: str) -> BaselineItem | None: ...

    async def current_model(self) -> CurrentModel | None: ...

    async def model_history(self, model_name: str, limit: int) -> list[ModelHistoryEntry]: ...

    async def recent_feedback(self, limit: int, days: int) -> list[FeedbackItem]: ...

    async def pending_reviews(self, limit: int) -> list[ReviewItem]: ...


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

    def range(self, granularity: str, start: datetime) -> tuple[str, str]:
        """(first, last) bucket texts of ``granularity`` from ``start`` to ``now``."""
        pattern = GRANULARITIES[granularity]
        return start.astimezone(UTC).strftime(pattern), self.now.astimezone(UTC).strftime(pattern)

    def span(self, granularity: str) -> tuple[str, str]:
        """(first, last) bucket the view holds: the short window's by minute and hour, the
        long window's by day."""
        return self.range(
            granularity, self.long_start if granularity == "day" else self.short_start
        )

    def table(
        self, granularity: str, items: Iterable[Rollup] = (), names: Sequence[str] = COUNTERS
    ) -> Table:
        """The dense table of :meth:`span` holding ``items`` (nothing counted without them)."""
        first, last = self.span(granularity)
        return Table.of(granularity, first, last, names, items)


@dataclass(frozen=True)
class Lists:
    """How long the view's lists are: the page's defaults."""

    feedback_rows: int = 100
    feedback_days: int = 30
    reviews: int = 100


@dataclass(frozen=True)
class RollupView:
    """The rollups of the default view as of ``built_at`` (the end of its window).

    Every table covers its part of the window (:meth:`Window.span`) with every counter of
    ``shared.monitoring.rollups.COUNTERS``, except the minutes: only :data:`MINUTE_COUNTERS`.
    """

    built_at: datetime
    window_hours: int
    window_days: int
    minutes: Table
    """The short window by minute, only :data:`MINUTE_COUNTERS`."""
    hours: Table
    """The short window's hours, whole (the first one starts before the window)."""
    days: Table
    live_hours: Table
    """The current model's hours of the short window (live histograms for drift)."""
    live_version: str | None = None
    """The current model's version, whose hours ``live_hours`` are; None without one."""
    version_days: dict[str, Table] = field(default_factory=dict)
    """Days per compared version: the current one, then the newest published."""
    baseline: DriftBaseline | None = None
    """The current model's drift baseline."""
    feedback: list[FeedbackItem] = field(default_factory=list)
    """The newest feedback rows, newest first."""
    reviews: list[ReviewItem] = field(default_factory=list)
    """Pending reviews, highest priority and oldest first."""

    @property
    def window(self) -> Window:
        return Window(now=self.built_at, hours=self.window_hours, days=self.window_days)


def first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first leaf error of a TaskGroup's group: callers see the read that failed."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    return error


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
    reader: RollupReader, version: str, history: list[ModelHistoryEntry]
) -> DriftBaseline | None:
    stored = await reader.baseline(version)
    if stored is not None:
        return DriftBaseline.model_validate_json(stored.baseline_json)
    # The logger's model item carries the same baseline: use it if the monitoring's is not in.
    for entry in history:
        if isinstance(entry, ModelItem) and entry.model_version == version:
            return entry.baseline
    return None


def _prior(table: Table | None) -> list[Rollup] | None:
    return None if table is None else table.items()


def _hour_of(minute: str) -> str:
    return minute[: len("2026-11-30T05")]


def _totals(counters: Counters) -> tuple[object, object]:
    return counters.get("predictions"), counters.get("feedback")


def _stale_hours(
    window: Window,
    hours: list[Rollup],
    previous: RollupView | None,
    previous_hours: list[Rollup] | None,
) -> list[str]:
    """The short window's hour buckets whose minutes must be read again, in order."""
    pattern = GRANULARITIES["hour"]
    first = window.short_start.replace(minute=0, second=0, microsecond=0)
    now_hour = window.now.astimezone(UTC).strftime(pattern)
    every = []
    at = first
    while (bucket := at.strftime(pattern)) <= now_hour:
        every.append(bucket)
        at += timedelta(hours=1)
    if previous is None or previous_hours is None:
        return every
    old = {bucket: _totals(c) for bucket, c in previous_hours}
    new = {bucket: _totals(c) for bucket, c in hours}
    last_built = previous.built_at.astimezone(UTC).strftime(pattern)
    old_start = previous.window.short_start
    return [
        bucket
        for bucket in every
        # The hour still filling when the previous view was built, hours before its window
        # and an hour whose totals moved are read again.
        if bucket >= last_built
        or bucket < old_start.strftime(pattern)
        or old.get(bucket) != new.get(bucket)
    ]


def _runs(buckets: list[str], stale: set[str]) -> list[tuple[str, str]]:
    """(first, last) of each run of ``stale`` buckets adjacent in ``buckets``'s order."""
    runs: list[tuple[str, str]] = []
    open_run: str | None = None
    for i, bucket in enumerate(buckets):
        if bucket in stale and open_run is None:
            open_run = bucket
        if open_run is not None and (i + 1 == len(buckets) or buckets[i + 1] not in stale):
            runs.append((open_run, bucket))
            open_run = None
    return runs


async def _whole(
    reader: RollupReader,
    granularity: str,
    version: str,
    span: tuple[str, str],
    previous: list[Rollup] | None,
    since: str,
) -> list[Rollup]:
    """Whole items of ``span``; given the previous build's, only those that moved (or are at or
    after ``since``, the bucket that build was in) are read whole again."""
    first, last = span
    if previous is None:
        return await reader.rollups(granularity, version, first, last)
    totals = await reader.rollups(granularity, version, first, last, _TOTALS)
    old = dict(previous)
    stale = {
        bucket
        for bucket, counters in totals
        if bucket >= since or bucket not in old or _totals(counters) != _totals(old[bucket])
    }
    buckets = [bucket for bucket, _ in totals]
    parts = await asyncio.gather(
        *(reader.rollups(granularity, version, a, b) for a, b in _runs(buckets, stale))
    )
    found = {bucket: old[bucket] for bucket in buckets if bucket not in stale}
    # An item created between the two reads comes whole: keep it too.
    found.update((bucket, counters) for part in parts for bucket, counters in part)
    return sorted(found.items())


def _minute_ranges(window: Window, stale: list[str]) -> list[tuple[str, str]]:
    """Contiguous runs of ``stale`` hours as minute (first, last) ranges inside the window."""
    pattern = GRANULARITIES["minute"]
    start = window.short_start.astimezone(UTC).strftime(pattern)
    end = window.now.astimezone(UTC).strftime(pattern)
    runs: list[list[str]] = []
    for bucket in stale:
        previous = runs[-1][-1] if runs else None
        joined = previous is not None and (
            datetime.strptime(bucket, GRANULARITIES["hour"])
            - datetime.strptime(previous, GRANULARITIES["hour"])
        ) == timedelta(hours=1)
        if joined and len(runs[-1]) < _MAX_MINUTE_RANGE_HOURS:
            runs[-1].append(bucket)
        else:
            runs.append([bucket])
    return [(max(start, f"{run[0]}:00"), min(end, f"{run[-1]}:59")) for run in runs]


async def read_view(
    reader: RollupReader,
    now: datetime,
    *,
    model_name: str,
    hours: int = 24,
    days: int = 30,
    versions: int = 5,
    lists: Lists | None = None,
    previous: RollupView | None = None,
) -> RollupView:
    """Read the view ending at ``now``; with ``previous``, re-read only the minutes that moved.

    A failed read raises its own error (the first, when several fail), not a TaskGroup's group.
    """
    try:
        window = Window(now, hours, days)
        return await _read(reader, window, model_name, versions, lists or Lists(), previous)
    except BaseExceptionGroup as group:
        raise first_error(group) from group


async def _read(
    reader: RollupReader,
    window: Window,
    model_name: str,
    limit: int,
    lists: Lists,
    previous: RollupView | None,
) -> RollupView:
    hour_span, day_span = window.span("hour"), window.span("day")
    if previous is not None and (
        (previous.window_hours, previous.window_days) != (window.hours, window.days)
        or previous.built_at > window.now
    ):
        previous = None
    hour_since = day_since = ""
    if previous is not None:
        hour_since = previous.built_at.astimezone(UTC).strftime(GRANULARITIES["hour"])
        day_since = previous.built_at.astimezone(UTC).strftime(GRANULARITIES["day"])
    old_hours = _prior(None if previous is None else previous.hours)
    async with asyncio.TaskGroup() as group:
        hour_task = group.create_task(
            _whole(reader, "hour", ALL_VERSIONS, hour_span, old_hours, hour_since)
        )
        day_task = group.create_task(
            _whole(
                reader,
                "day",
                ALL_VERSIONS,
                day_span,
                _prior(None if previous is None else previous.days),
                day_since,
            )
        )
        current_task = group.create_task(reader.current_model())
        history_task = group.create_task(reader.model_history(model_name, 20))
        feedback = group.create_task(
            reader.recent_feedback(lists.feedback_rows, lists.feedback_days)
        )
        reviews = group.create_task(reader.pending_reviews(lists.reviews))
    hour_items, current, history = hour_task.result(), current_task.result(), history_task.result()
    stale = _stale_hours(window, hour_items, previous, old_hours)
    start = window.short_start.astimezone(UTC).strftime(GRANULARITIES["minute"])
    again = set(stale)
    kept = [
        (bucket, counters)
        for bucket, counters in (previous.minutes.items() if previous is not None else [])
        if bucket >= start and _hour_of(bucket) not in again
    ]
    compared = _versions(current, history, limit)
    live_version = None if current is None else current.model_version
    baseline: DriftBaseline | None = None
    live: list[Rollup] = []
    async with asyncio.TaskGroup() as group:
        minute_parts = [
            group.create_task(reader.rollups("minute", ALL_VERSIONS, first, last, MINUTE_COUNTERS))
            for first, last in _minute_ranges(window, stale)
        ]
        per_version = [
            group.create_task(
                _whole(
                    reader,
                    "day",
                    version,
                    day_span,
                    _prior(None if previous is None else previous.version_days.get(version)),
                    day_since,
                )
            )
            for version in compared
        ]
        if current is not None:
            baseline_task = group.create_task(_baseline(reader, current.model_version, history))
            # The previous build's hours of this version, if it was current then too.
            old_live = None
            if previous is not None and previous.live_version == live_version:
                old_live = previous.live_hours
            live_task = group.create_task(
                _whole(
                    reader, "hour", current.model_version, hour_span, _prior(old_live), hour_since
                )
            )
    if current is not None:
        baseline, live = baseline_task.result(), live_task.result()
    fresh = [item for part in minute_parts for item in part.result()]
    return RollupView(
        built_at=window.now.astimezone(UTC),
        window_hours=window.hours,
        window_days=window.days,
        minutes=window.table("minute", [*kept, *fresh], MINUTE_COUNTERS),
        hours=window.table("hour", hour_items),
        days=window.table("day", day_task.result()),
        live_hours=window.table("hour", live),
        live_version=live_version,
        version_days={
            v: window.table("day", t.result()) for v, t in zip(compared, per_version, strict=True)
        },
        baseline=baseline,
        feedback=feedback.result(),
        reviews=reviews.result(),
    )
