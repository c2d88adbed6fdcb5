"""The logger's handlers against the in-memory store: what each event leaves in which table."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest

from contracts import (
    Decision,
    Event,
    FeedbackSource,
    Label,
    ModeratorAction,
    ReviewPriority,
    Source,
)
from contracts.topology import QUEUE_ROUTES
from services.logger.bootstrap import build_handlers
from services.logger.settings import LoggerSettings
from shared.bus import HandlerRegistry
from shared.errors import RetryableError
from shared.items import FeedbackItem, ModelItem, PredictionItem, ReviewItem, ReviewStatus
from tests import factories
from tests.fakes.logger_store import InMemoryLoggerStore

pytestmark = pytest.mark.unit

DAY = 24 * 3600


@pytest.fixture
def store() -> InMemoryLoggerStore:
    return InMemoryLoggerStore()


@pytest.fixture
def handlers(store: InMemoryLoggerStore) -> HandlerRegistry:
    return build_handlers(LoggerSettings(prediction_retention_days=30), store)


async def deliver(handlers: HandlerRegistry, *events: Event) -> None:
    """Run each event's handlers in order, as the consumer does for one message."""
    for event in events:
        for handler in handlers[event.event_type]:
            await handler(event)


def review_of(store: InMemoryLoggerStore, prediction_id: object) -> ReviewItem | None:
    return store.get(ReviewItem, {"prediction_id": {"S": str(prediction_id)}})


def test_the_logger_handles_exactly_the_events_routed_to_its_queue(
    handlers: HandlerRegistry,
) -> None:
    assert set(handlers) == set(QUEUE_ROUTES["logger"])


async def test_a_scored_comment_is_stored_with_its_day_and_expiry(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    event = factories.prediction_made(text="you are wrong")

    await deliver(handlers, event)

    [stored] = store.items(PredictionItem)
    assert stored == PredictionItem.from_event(event, retention_seconds=30 * DAY)
    assert stored.text == "you are wrong"
    assert stored.day == event.occurred_at.strftime("%Y-%m-%d")
    assert stored.expires_at == int(event.occurred_at.timestamp()) + 30 * DAY


async def test_the_retention_setting_sets_when_predictions_expire(
    store: InMemoryLoggerStore,
) -> None:
    handlers = build_handlers(LoggerSettings(prediction_retention_days=7), store)
    event = factories.prediction_made()

    await deliver(handlers, event)

    [stored] = store.items(PredictionItem)
    assert stored.expires_at == int(event.occurred_at.timestamp()) + 7 * DAY


async def test_a_prediction_whose_text_may_not_be_stored_is_stored_without_text(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    await deliver(handlers, factories.prediction_made(text=None, text_length=12))

    [stored] = store.items(PredictionItem)
    assert stored.text is None
    assert stored.text_length == 12
    [raw] = store.tables["predictions"].values()
    assert "text" not in raw


@pytest.mark.parametrize("decision", [Decision.ALLOW, Decision.REJECT])
async def test_a_prediction_not_decided_review_stays_out_of_the_review_queue(
    handlers: HandlerRegistry, store: InMemoryLoggerStore, decision: Decision
) -> None:
    await deliver(handlers, factories.prediction_made(decision=decision))

    assert len(store.items(PredictionItem)) == 1
    assert store.items(ReviewItem) == []


async def test_a_prediction_decided_review_is_stored_and_queued_pending(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    event = factories.prediction_made(
        decision=Decision.REVIEW,
        review_priority=ReviewPriority.HIGH,
        text="borderline",
        context="a thread",
    )

    await deliver(handlers, event)

    assert len(store.items(PredictionItem)) == 1
    review = review_of(store, event.prediction_id)
    assert review is not None
    assert review == ReviewItem.from_prediction(event)
    assert review.status is ReviewStatus.PENDING
    assert review.priority is ReviewPriority.HIGH
    assert review.text == "borderline"


async def test_a_redelivered_prediction_leaves_one_row_unchanged(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    event = factories.prediction_made(decision=Decision.REVIEW)

    await deliver(handlers, event)
    first = copy.deepcopy(store.tables)
    await deliver(handlers, event, event)

    assert len(store.items(PredictionItem)) == 1
    assert len(store.items(ReviewItem)) == 1
    assert store.tables == first


async def test_a_moderators_decision_resolves_the_review(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    decision = factories.moderator_decision(
        prediction,
        source=Source(service="api", instance="replica-2"),
        moderator_action=ModeratorAction.REMOVE,
        true_labels={Label.TOXIC: True, Label.INSULT: True},
        occurred_at=prediction.occurred_at + timedelta(minutes=3),
    )

    await deliver(handlers, prediction, decision)

    review = review_of(store, prediction.prediction_id)
    assert review is not None
    assert review.status is ReviewStatus.REVIEWED
    assert review.resolved_at == decision.occurred_at
    assert review.resolved_by == "api/replica-2"
    assert review.moderator_action is ModeratorAction.REMOVE
    assert review.true_labels == {Label.TOXIC: True, Label.INSULT: True}
    assert review.feedback_id == decision.feedback_id
    # What the moderator saw stays as it was queued.
    assert review.created_at == prediction.occurred_at
    assert review.scores == ReviewItem.from_prediction(prediction).scores
    assert store.items(FeedbackItem) == [FeedbackItem.from_event(decision)]


async def test_a_redelivered_prediction_does_not_reopen_a_resolved_review(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    decision = factories.moderator_decision(prediction)
    await deliver(handlers, prediction, decision)
    resolved = review_of(store, prediction.prediction_id)

    await deliver(handlers, prediction)

    assert review_of(store, prediction.prediction_id) == resolved
    assert resolved is not None
    assert resolved.status is ReviewStatus.REVIEWED


async def test_a_decision_delivered_twice_resolves_the_review_once(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    decision = factories.moderator_decision(prediction)
    await deliver(handlers, prediction, decision)
    first = copy.deepcopy(store.tables)

    await deliver(handlers, decision)

    assert store.tables == first
    assert len(store.items(FeedbackItem)) == 1


async def test_the_newest_decision_wins_whatever_order_they_arrive_in(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    earlier = factories.moderator_decision(
        prediction,
        moderator_action=ModeratorAction.REMOVE,
        occurred_at=prediction.occurred_at + timedelta(minutes=1),
    )
    later = factories.moderator_decision(
        prediction,
        moderator_action=ModeratorAction.APPROVE,
        true_labels={},
        occurred_at=prediction.occurred_at + timedelta(minutes=2),
    )

    await deliver(handlers, prediction, later, earlier)

    review = review_of(store, prediction.prediction_id)
    assert review is not None
    assert review.moderator_action is ModeratorAction.APPROVE
    assert review.feedback_id == later.feedback_id
    assert review.true_labels == {}
    assert len(store.items(FeedbackItem)) == 2  # both judgements are kept as feedback


async def test_a_later_decision_replaces_an_earlier_one(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    first = factories.moderator_decision(
        prediction, occurred_at=prediction.occurred_at + timedelta(minutes=1)
    )
    second = factories.moderator_decision(
        prediction,
        moderator_action=ModeratorAction.APPROVE,
        occurred_at=prediction.occurred_at + timedelta(minutes=2),
    )

    await deliver(handlers, prediction, first, second)

    review = review_of(store, prediction.prediction_id)
    assert review is not None
    assert review.feedback_id == second.feedback_id
    assert review.resolved_at == second.occurred_at


async def test_a_users_feedback_is_stored_and_leaves_the_review_pending(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    feedback = factories.feedback_given(prediction_id=prediction.prediction_id)

    await deliver(handlers, prediction, feedback)

    assert store.items(FeedbackItem) == [FeedbackItem.from_event(feedback)]
    review = review_of(store, prediction.prediction_id)
    assert review is not None
    assert review.status is ReviewStatus.PENDING


async def test_a_decision_on_a_prediction_never_queued_is_stored_and_creates_no_review(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    never_queued = factories.prediction_made(decision=Decision.ALLOW)
    decision = factories.moderator_decision(never_queued)

    await deliver(handlers, decision)

    assert store.items(FeedbackItem) == [FeedbackItem.from_event(decision)]
    assert store.items(ReviewItem) == []


async def test_a_perspective_suggestion_without_a_prediction_is_stored(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    suggestion = factories.feedback_given(
        prediction_id=None,
        feedback_source=FeedbackSource.PERSPECTIVE,
        text="you absolute clown",
        true_labels={Label.INSULT: True},
    )

    await deliver(handlers, suggestion)

    [stored] = store.items(FeedbackItem)
    assert stored.prediction_id is None
    assert stored.text == "you absolute clown"
    assert stored.true_labels == {Label.INSULT: True}


async def test_a_published_model_joins_the_model_history(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    published = factories.model_published(model_name="toxic-comment", model_version="12")

    await deliver(handlers, published)

    [stored] = store.items(ModelItem)
    assert stored.pk == "model#toxic-comment"
    assert stored.sk.endswith("#12")
    assert stored.sha256 == published.sha256
    assert stored.artifact_uri == published.artifact_uri
    assert stored.metrics == published.metrics
    assert stored.thresholds == published.thresholds
    assert stored.row_counts == published.row_counts
    assert stored.mlflow_run_id == published.mlflow_run_id
    assert stored.baseline == published.baseline


async def test_a_models_history_lists_its_versions_in_publication_order(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    older = factories.model_published(model_version="10")
    newer = factories.model_published(
        model_version="9", occurred_at=older.occurred_at + timedelta(seconds=1)
    )

    await deliver(handlers, newer, older)

    history = sorted(store.items(ModelItem), key=lambda item: item.sk)
    assert [item.model_version for item in history] == ["10", "9"]


async def test_a_redelivered_model_publication_leaves_one_row(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    published = factories.model_published()

    await deliver(handlers, published, published)

    assert len(store.items(ModelItem)) == 1


async def test_a_message_that_failed_halfway_completes_on_redelivery_without_duplicates(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    [log_prediction, queue_for_review] = handlers["PredictionMade"]
    await log_prediction(prediction)
    store.fail_next = 1
    with pytest.raises(RetryableError):
        await queue_for_review(prediction)
    assert store.items(ReviewItem) == []

    await deliver(handlers, prediction)

    assert len(store.items(PredictionItem)) == 1
    review = review_of(store, prediction.prediction_id)
    assert review is not None
    assert review.status is ReviewStatus.PENDING


async def test_a_failed_resolution_is_retried_on_redelivery(
    handlers: HandlerRegistry, store: InMemoryLoggerStore
) -> None:
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    decision = factories.moderator_decision(prediction)
    await deliver(handlers, prediction)
    [log_feedback, resolve_review] = handlers["FeedbackGiven"]
    await log_feedback(decision)
    store.fail_next = 1
    with pytest.raises(RetryableError):
        await resolve_review(decision)

    await deliver(handlers, decision)

    review = review_of(store, prediction.prediction_id)
    assert review is not None
    assert review.status is ReviewStatus.REVIEWED
    assert len(store.items(FeedbackItem)) == 1


def test_prediction_retention_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOXIC_PREDICTION_RETENTION_DAYS", "90")

    assert LoggerSettings().prediction_retention_seconds == 90 * DAY


def test_prediction_retention_defaults_to_thirty_days_and_refuses_zero(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TOXIC_PREDICTION_RETENTION_DAYS", raising=False)

    assert LoggerSettings().prediction_retention_days == 30
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        LoggerSettings(prediction_retention_days=0)
