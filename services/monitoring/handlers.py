"""The monitoring's handlers: one per (event type, effect), each a function of (event, deps).

Rollups are counted exactly once through the batcher (``services.monitoring.batcher``): a handler
returns only when its event's counts are durable (or were counted before), so the consumer deletes
a message only then. A feedback's confusion counts need what its prediction flagged, which the
event does not carry: it is read from the ``predictions`` table the logger writes. When it is not
there yet (the logger runs behind), the handler raises RetryableError and the consumer tries the
message again later. Feedback without a prediction (a Perspective suggestion) counts as volume.

A published model's drift baseline is stored under ``baseline#<version>`` in the rollups table,
once: the first publication of a version wins and a redelivery changes nothing; the newest
publication becomes ``model#current``, which the rules judge. Rejected candidates and failed runs
go to the models table beside the logger's published models (the logger does not receive them),
so the dashboard shows the whole history.

A scored comment also adds its consumer lag (now minus ``occurred_at``) to the rollups, and the
newest lag seen is kept in memory for the pipeline-health reading.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from contracts import FeedbackGiven, ModelPublished, ModelRejected, PredictionMade, TrainingFailed
from services.monitoring.batcher import RollupBatcher
from services.monitoring.repository import MonitoringStore
from shared.bus import HandlerRegistry, bind_handlers
from shared.errors import RetryableError
from shared.logs import get_logger
from shared.monitoring.records import BaselineItem, CurrentModel, TrainingOutcomeItem
from shared.monitoring.rollups import feedback_increments, prediction_increments

__all__ = [
    "HANDLERS",
    "Dependencies",
    "LagGauge",
    "count_feedback",
    "count_prediction",
    "record_outcome",
    "registry",
    "store_baseline",
]

log = get_logger(__name__)


@dataclass
class LagGauge:
    """The newest consumer lag this process saw, for the pipeline-health reading."""

    seconds: float | None = None
    observed_at: datetime | None = None

    def observe(self, seconds: float, at: datetime) -> None:
        self.seconds, self.observed_at = seconds, at


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Dependencies:
    store: MonitoringStore
    batcher: RollupBatcher
    clock: Callable[[], datetime] = _utc_now
    lag: LagGauge = field(default_factory=LagGauge)


async def count_prediction(event: PredictionMade, deps: Dependencies) -> None:
    """Add a scored comment (and how late it was handled) to its minute, hour and day rollups."""
    now = deps.clock()
    lag = (now - event.occurred_at).total_seconds()
    deps.lag.observe(lag, now)
    if not await deps.batcher.count(event.event_id, prediction_increments(event, lag)):
        log.info("duplicate_ignored", effect="rollups")


async def count_feedback(event: FeedbackGiven, deps: Dependencies) -> None:
    """Add a feedback's volume and, against its prediction's flags, its confusion counts."""
    flagged = None
    if event.prediction_id is not None:
        flagged = await deps.store.prediction_flags(event.prediction_id)
        if flagged is None:
            raise RetryableError(f"prediction {event.prediction_id} is not logged yet")
    if not await deps.batcher.count(event.event_id, feedback_increments(event, flagged)):
        log.info("duplicate_ignored", effect="rollups")


async def store_baseline(event: ModelPublished, deps: Dependencies) -> None:
    """Keep the published version's drift baseline for the drift computation."""
    item = BaselineItem.from_event(event)
    if await deps.store.put_baseline(item):
        log.info("baseline_stored", model_version=item.model_version)
    else:
        log.info("duplicate_ignored", effect="baseline", model_version=item.model_version)
    current = CurrentModel(
        model_name=event.model_name,
        model_version=event.model_version,
        published_at=event.occurred_at,
    )
    if await deps.store.put_current_model(current):
        log.info("current_model", model_version=event.model_version)


async def record_outcome(event: ModelRejected | TrainingFailed, deps: Dependencies) -> None:
    """Add a rejected candidate or a failed run to the model history."""
    item = TrainingOutcomeItem.from_event(event)
    if await deps.store.put_outcome(item):
        log.info("training_outcome_recorded", outcome=item.outcome)
    else:
        log.info("duplicate_ignored", effect="model_history")


HandlerFunction = Callable[[Any, Dependencies], Awaitable[None]]

HANDLERS: Mapping[str, Sequence[HandlerFunction]] = {
    "PredictionMade": [count_prediction],
    "FeedbackGiven": [count_feedback],
    "ModelPublished": [store_baseline],
    "ModelRejected": [record_outcome],
    "TrainingFailed": [record_outcome],
}


def registry(deps: Dependencies) -> HandlerRegistry:
    """The handlers bound to their dependencies, as the consumer takes them."""
    return bind_handlers(HANDLERS, deps)
