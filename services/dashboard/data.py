"""Everything one page view needs, read at once: :func:`load_page_data`.

The rollups and the two long lists (newest feedback rows, pending reviews) come from the
monitoring's materialized view (``view#default``, built every ``TOXIC_VIEW_SECONDS`` by
``shared.monitoring.view.read_view``): one GetItem instead of ~2,000 rollup items and two index
Queries. One round of concurrent reads (an ``asyncio.TaskGroup``) fetches it beside the small
records: the current model, the model history, alerts, firings, retrain claims and pipeline
health. The rollups come as dense tables (``shared.monitoring.table``): every bucket of the window
by every counter, so what the page decodes and sums does not grow with the traffic. When no view
is stored, it is older than ``view_max_age`` (the monitoring is down or
behind), or it cannot be decoded, the page reads the same things live through ``read_view`` and
says so (:attr:`PageData.view_built_at` is None).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from contracts import DriftBaseline
from shared.items import FeedbackItem, ReviewItem
from shared.logs import get_logger
from shared.monitoring.reader import ModelHistoryEntry, MonitoringReader
from shared.monitoring.records import (
    ActiveAlert,
    CurrentModel,
    FiringRecord,
    PipelineHealth,
    RetrainClaim,
    ViewItem,
)
from shared.monitoring.rollups import Counters
from shared.monitoring.view import (
    MINUTE_COUNTERS,
    Lists,
    RollupReader,
    RollupView,
    Table,
    Window,
    first_error,
    read_view,
)
from shared.monitoring.view_codec import decode_view

__all__ = [
    "DEFAULT_VIEW_MAX_AGE",
    "MINUTE_COUNTERS",
    "Limits",
    "PageData",
    "PageReader",
    "Table",
    "Window",
    "load_page_data",
]

log = get_logger(__name__)

# Three of the monitoring's default view periods (30 s): one late or failed build is no reason
# to read a million predictions' rollups live.
DEFAULT_VIEW_MAX_AGE = timedelta(seconds=90)


class PageReader(MonitoringReader, RollupReader, Protocol):
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
    minutes: Table
    """The short window by minute, only :data:`MINUTE_COUNTERS`."""
    hours: Table
    """The short window's hours, whole (the first one starts before the window)."""
    days: Table
    live_hours: Table
    """The current model's hours of the short window (zeros without a current model)."""
    current: CurrentModel | None
    history: list[ModelHistoryEntry]
    active_alerts: list[ActiveAlert]
    firings: list[FiringRecord]
    retrain_claims: list[RetrainClaim]
    health: PipelineHealth | None
    feedback: list[FeedbackItem]
    reviews: list[ReviewItem]
    version_days: dict[str, Table] = field(default_factory=dict)
    baseline: DriftBaseline | None = None
    view_built_at: datetime | None = None
    """When the monitoring built the view the rollups come from; None when they were read live."""
    view_built_by: str | None = None

    @property
    def empty(self) -> bool:
        """Nothing was ever counted in the view's windows."""
        return not (self.minutes.counted or self.hours.counted or self.days.counted)


def _usable(item: ViewItem | None, window: Window, max_age: timedelta) -> RollupView | None:
    """The stored view when it is of this window and fresh enough, else None (read live)."""
    if item is None:
        return None
    age = window.now - item.built_at
    if age > max_age or age < -max_age:
        return None
    try:
        view = decode_view(item.view)
    except ValueError as exc:
        log.warning("view_unreadable", error=str(exc), built_by=item.built_by)
        return None
    if (view.window_hours, view.window_days) != (window.hours, window.days):
        return None
    return view


async def load_page_data(
    reader: PageReader,
    now: datetime,
    *,
    model_name: str,
    hours: int = 24,
    days: int = 30,
    limits: Limits | None = None,
    view_max_age: timedelta = DEFAULT_VIEW_MAX_AGE,
) -> PageData:
    """Read everything the page shows for the view ending at ``now``.

    A failed read raises its own error (the first, when several fail), not a TaskGroup's group.
    """
    try:
        return await _load(reader, now, model_name, hours, days, limits or Limits(), view_max_age)
    except BaseExceptionGroup as group:
        raise first_error(group) from group


async def _load(
    reader: PageReader,
    now: datetime,
    model_name: str,
    hours: int,
    days: int,
    limits: Limits,
    view_max_age: timedelta,
) -> PageData:
    window = Window(now=now, hours=hours, days=days)
    async with asyncio.TaskGroup() as group:
        view_task = group.create_task(reader.view())
        current_task = group.create_task(reader.current_model())
        history_task = group.create_task(reader.model_history(model_name, limits.history))
        active = group.create_task(reader.active_alerts())
        firings = group.create_task(reader.firings(limits.firings))
        claims = group.create_task(reader.retrain_claims())
        health = group.create_task(reader.pipeline_health())
    stored = view_task.result()
    view = _usable(stored, window, view_max_age)
    built = stored if view is not None else None
    if view is None:
        lists = Lists(limits.feedback_rows, limits.feedback_days, limits.reviews)
        view = await read_view(
            reader,
            now,
            model_name=model_name,
            hours=hours,
            days=days,
            versions=limits.versions,
            lists=lists,
        )
    return PageData(
        window=view.window,
        limits=limits,
        minutes=view.minutes,
        hours=view.hours,
        days=view.days,
        live_hours=view.live_hours,
        current=current_task.result(),
        history=history_task.result(),
        active_alerts=active.result(),
        firings=firings.result(),
        retrain_claims=claims.result(),
        health=health.result(),
        feedback=view.feedback[: limits.feedback_rows],
        reviews=view.reviews[: limits.reviews],
        version_days=dict(list(view.version_days.items())[: limits.versions]),
        baseline=view.baseline,
        view_built_at=None if built is None else built.built_at,
        view_built_by=None if built is None else built.built_by,
    )
