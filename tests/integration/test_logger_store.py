"""The logger's store: its DynamoDB adapter on the stand-in and its fake obey one contract.

Each test runs against both, so the fake the unit tests rely on cannot drift from DynamoDB's
behaviour (conditional writes, what a failed condition reports).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from contracts import Decision, Label, ModeratorAction
from services.logger.repository import (
    DynamoLoggerStore,
    LoggerStore,
    Resolution,
    ResolveOutcome,
)
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.items import (
    FeedbackItem,
    ModelItem,
    PredictionItem,
    ReviewItem,
    ReviewStatus,
    StoredItem,
)
from tests import factories
from tests.fakes.logger_store import InMemoryLoggerStore

pytestmark = pytest.mark.integration

Item = TypeVar("Item", bound=StoredItem)


@dataclass
class Subject:
    store: LoggerStore
    read: Callable[[type[Any], dict[str, Any]], Awaitable[Any]]

    async def review(self, prediction_id: object) -> ReviewItem | None:
        item: ReviewItem | None = await self.read(
            ReviewItem, {"prediction_id": {"S": str(prediction_id)}}
        )
        return item


@pytest.fixture(params=["memory", "dynamodb"])
async def subject(
    request: pytest.FixtureRequest, clients: AwsClients, deployment: InfraSpec
) -> Subject:
    if request.param == "memory":
        fake = InMemoryLoggerStore()

        async def read_fake(shape: type[Item], key: dict[str, Any]) -> Item | None:
            return fake.get(shape, key)

        return Subject(fake, read_fake)

    async def read_dynamodb(shape: type[Item], key: dict[str, Any]) -> Item | None:
        response = await clients.dynamodb.get_item(
            TableName=deployment.table(shape.TABLE).name, Key=key, ConsistentRead=True
        )
        raw = response.get("Item")
        return None if raw is None else shape.from_item(raw)

    return Subject(DynamoLoggerStore(clients.dynamodb, deployment), read_dynamodb)


def resolution(review: ReviewItem, minutes: int = 5, **overrides: Any) -> Resolution:
    fields: dict[str, Any] = {
        "prediction_id": review.prediction_id,
        "resolved_at": review.created_at + timedelta(minutes=minutes),
        "resolved_by": "api/replica-1",
        "moderator_action": ModeratorAction.REMOVE,
        "true_labels": {Label.TOXIC: True, Label.THREAT: False},
        "feedback_id": factories.feedback_given().feedback_id,
    }
    return Resolution(**(fields | overrides))


def queued() -> ReviewItem:
    return ReviewItem.from_prediction(factories.prediction_made(decision=Decision.REVIEW))


SHAPES = [
    pytest.param(
        lambda: PredictionItem.from_event(factories.prediction_made(), retention_seconds=60),
        id="prediction",
    ),
    pytest.param(lambda: FeedbackItem.from_event(factories.feedback_given()), id="feedback"),
    pytest.param(queued, id="review"),
    pytest.param(lambda: ModelItem.from_event(factories.model_published()), id="model"),
]


@pytest.mark.parametrize("make", SHAPES)
async def test_an_item_is_inserted_once_and_a_second_insert_says_it_was_there(
    subject: Subject, make: Callable[[], StoredItem]
) -> None:
    item = make()

    assert await subject.store.insert(item) is True
    assert await subject.store.insert(item) is False
    assert await subject.read(type(item), item.key()) == item


async def test_an_insert_never_overwrites_the_item_already_under_its_key(
    subject: Subject,
) -> None:
    review = queued()
    await subject.store.insert(review)
    await subject.store.resolve_review(resolution(review))
    resolved = await subject.review(review.prediction_id)

    assert await subject.store.insert(review) is False
    assert await subject.review(review.prediction_id) == resolved


async def test_resolving_a_review_that_does_not_exist_reports_it_and_creates_nothing(
    subject: Subject,
) -> None:
    review = queued()

    assert await subject.store.resolve_review(resolution(review)) is ResolveOutcome.NOT_FOUND
    assert await subject.review(review.prediction_id) is None


async def test_resolving_a_pending_review_records_the_decision(subject: Subject) -> None:
    review = queued()
    await subject.store.insert(review)
    decision = resolution(review)

    assert await subject.store.resolve_review(decision) is ResolveOutcome.RESOLVED

    stored = await subject.review(review.prediction_id)
    assert stored is not None
    assert stored.status is ReviewStatus.REVIEWED
    assert stored.resolved_at == decision.resolved_at
    assert stored.resolved_by == "api/replica-1"
    assert stored.moderator_action is ModeratorAction.REMOVE
    assert stored.true_labels == {Label.TOXIC: True, Label.THREAT: False}
    assert stored.feedback_id == decision.feedback_id
    assert stored.queue_key == review.queue_key
    assert (
        stored.model_copy(
            update={
                "status": ReviewStatus.PENDING,
                "resolved_at": None,
                "resolved_by": None,
                "moderator_action": None,
                "true_labels": {},
                "feedback_id": None,
            }
        )
        == review
    )


async def test_the_same_or_an_older_decision_leaves_a_resolved_review_unchanged(
    subject: Subject,
) -> None:
    review = queued()
    await subject.store.insert(review)
    decision = resolution(review, minutes=5)
    await subject.store.resolve_review(decision)
    resolved = await subject.review(review.prediction_id)

    older = resolution(review, minutes=1, moderator_action=ModeratorAction.APPROVE)
    assert await subject.store.resolve_review(decision) is ResolveOutcome.UNCHANGED
    assert await subject.store.resolve_review(older) is ResolveOutcome.UNCHANGED
    assert await subject.review(review.prediction_id) == resolved


async def test_a_newer_decision_replaces_the_resolution(subject: Subject) -> None:
    review = queued()
    await subject.store.insert(review)
    await subject.store.resolve_review(resolution(review, minutes=1))
    newer = resolution(review, minutes=9, moderator_action=ModeratorAction.APPROVE, true_labels={})

    assert await subject.store.resolve_review(newer) is ResolveOutcome.RESOLVED

    stored = await subject.review(review.prediction_id)
    assert stored is not None
    assert stored.moderator_action is ModeratorAction.APPROVE
    assert stored.true_labels == {}
    assert stored.feedback_id == newer.feedback_id
