"""The logger's handlers: one per (event type, effect), each a function of (event, dependencies).

Idempotency is natural here rather than through markers in the ``processed`` table
(``shared.bus.idempotency``): every effect is one DynamoDB write whose content follows from the
event alone, so the write's own condition is the marker (see ``repository``). That costs one
call per effect instead of three (begin, write, complete), never expires as markers do, and heals
a half-handled message: if the prediction was written and the review was not, the redelivery
finds the first done and does the second. The condition on the review item also holds where a
marker would not: after the marker's 14 days, or for one prediction published under two event
ids, a ``PredictionMade`` still never turns a resolved review back to pending, since the review
is only ever created when absent.

A moderator's decision resolves the review item of its prediction. ``resolved_by`` names the
process that published the decision (``<service>/<instance>`` of the envelope's ``source``):
``FeedbackGiven`` says nothing about the person, and a note is free text, not an identity. The
newest decision wins, by ``occurred_at``. A decision on a prediction with no review item (one the
API did not send to review, or whose event was lost) is stored as feedback like any other, logged
as ``review_not_found`` and acknowledged: retrying could never create the item. A moderator decides
from the review queue, which this service fills, so the item exists before the decision is made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from contracts import Decision, FeedbackGiven, ModelPublished, PredictionMade
from services.logger.repository import LoggerStore, Resolution, ResolveOutcome
from shared.bus import HandlerRegistry, bind_handlers
from shared.items import FeedbackItem, ModelItem, PredictionItem, ReviewItem
from shared.logs import get_logger

__all__ = [
    "HANDLERS",
    "Dependencies",
    "log_feedback",
    "log_model",
    "log_prediction",
    "queue_for_review",
    "registry",
    "resolve_review",
]

log = get_logger(__name__)


@dataclass(frozen=True)
class Dependencies:
    store: LoggerStore
    prediction_retention_seconds: int


async def log_prediction(event: PredictionMade, deps: Dependencies) -> None:
    """Store the scored comment, to expire after the retention period."""
    item = PredictionItem.from_event(event, retention_seconds=deps.prediction_retention_seconds)
    if not await deps.store.insert(item):
        log.info("duplicate_ignored", table=item.TABLE, prediction_id=str(event.prediction_id))


async def queue_for_review(event: PredictionMade, deps: Dependencies) -> None:
    """Put a prediction decided ``review`` in the moderation queue, pending."""
    if event.decision is not Decision.REVIEW:
        return
    item = ReviewItem.from_prediction(event)
    if await deps.store.insert(item):
        log.info("review_queued", prediction_id=str(event.prediction_id), priority=item.priority)
    else:
        log.info("duplicate_ignored", table=item.TABLE, prediction_id=str(event.prediction_id))


async def log_feedback(event: FeedbackGiven, deps: Dependencies) -> None:
    """Store feedback and moderators' labels, with or without a prediction."""
    item = FeedbackItem.from_event(event)
    if not await deps.store.insert(item):
        log.info("duplicate_ignored", table=item.TABLE, feedback_id=str(event.feedback_id))


async def resolve_review(event: FeedbackGiven, deps: Dependencies) -> None:
    """Mark the review item of a moderator's decision reviewed."""
    # The contract gives an action to a moderator's feedback and to nothing else.
    if event.moderator_action is None or event.prediction_id is None:
        return
    outcome = await deps.store.resolve_review(
        Resolution(
            prediction_id=event.prediction_id,
            resolved_at=event.occurred_at,
            resolved_by=f"{event.source.service}/{event.source.instance}",
            moderator_action=event.moderator_action,
            true_labels=dict(event.true_labels),
            feedback_id=event.feedback_id,
        )
    )
    fields = {"prediction_id": str(event.prediction_id), "feedback_id": str(event.feedback_id)}
    if outcome is ResolveOutcome.NOT_FOUND:
        log.warning("review_not_found", **fields)
    elif outcome is ResolveOutcome.UNCHANGED:
        log.info("review_unchanged", **fields)
    else:
        log.info("review_resolved", action=event.moderator_action, **fields)


async def log_model(event: ModelPublished, deps: Dependencies) -> None:
    """Add the published model to the model history."""
    item = ModelItem.from_event(event)
    if await deps.store.insert(item):
        log.info("model_logged", model_name=item.model_name, model_version=item.model_version)
    else:
        log.info("duplicate_ignored", table=item.TABLE, model_version=item.model_version)


HandlerFunction = Callable[[Any, Dependencies], Awaitable[None]]

# Effects of one event run in this order; each is idempotent on its own.
HANDLERS: Mapping[str, Sequence[HandlerFunction]] = {
    "PredictionMade": [log_prediction, queue_for_review],
    "FeedbackGiven": [log_feedback, resolve_review],
    "ModelPublished": [log_model],
}


def registry(deps: Dependencies) -> HandlerRegistry:
    """The handlers bound to their dependencies, as the consumer takes them."""
    return bind_handlers(HANDLERS, deps)
