"""The monitoring's handlers: one per (event type, effect), each a function of (event, deps).

Rollups are counted exactly once through the batcher (``services.monitoring.batcher``): a handler
returns only when its event's counts are durable (or were counted before), so the consumer deletes
a message only then. A feedback's confusion counts need what its prediction flagged, which the
event does not carry: it is read from the ``predictions`` table the logger writes. When it is not
there yet (the logger runs behind), the handler raises RetryableError and the consumer tries the
message again later. Feedback without a prediction (a Perspective suggestion) counts as volume.

A published model's drift baseline is stored under ``baseline#<version>`` in the rollups table,
once: the first publication of a version wins and a redelivery changes nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts import FeedbackGiven, ModelPublished, PredictionMade
from services.monitoring.batcher import RollupBatcher
from services.monitoring.repository import BaselineItem, MonitoringStore
from services.monitoring.rollups import feedback_increments, prediction_increments
from shared.bus import HandlerRegistry, bind_handlers
from shared.errors import RetryableError
from shared.logs import get_logger

__all__ = [
    "HANDLERS",
    "Dependencies",
    "count_feedback",
    "count_prediction",
    "registry",
    "store_baseline",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class Dependencies:
    store: MonitoringStore
    batcher: RollupBatcher


async def count_prediction(event: PredictionMade, deps: Dependencies) -> None:
    """Add a scored comment to its minute, hour and day rollups."""
    if not await deps.batcher.count(event.event_id, prediction_increments(event)):
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


HandlerFunction = Callable[[Any, Dependencies], Awaitable[None]]

HANDLERS: Mapping[str, Sequence[HandlerFunction]] = {
    "PredictionMade": [count_prediction],
    "FeedbackGiven": [count_feedback],
    "ModelPublished": [store_baseline],
}


def registry(deps: Dependencies) -> HandlerRegistry:
    """The handlers bound to their dependencies, as the consumer takes them."""
    return bind_handlers(HANDLERS, deps)
