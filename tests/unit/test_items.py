"""Stored item shapes: round trips, the wire form DynamoDB needs, and keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import uuid4

import pytest
from pydantic import ValidationError

from contracts import (
    LABELS,
    Channel,
    Decision,
    FeedbackSource,
    Label,
    ModeratorAction,
    ReviewPriority,
)
from shared.infra import InfraSpec
from shared.items import (
    FeedbackItem,
    PredictionItem,
    ReviewItem,
    ReviewStatus,
    StoredItem,
)
from tests import factories

pytestmark = pytest.mark.unit

CREATED = datetime(2026, 3, 14, 23, 59, 58, 123456, tzinfo=UTC)


def prediction(**overrides: Any) -> PredictionItem:
    fields: dict[str, Any] = {
        "prediction_id": uuid4(),
        "created_at": CREATED,
        "model_version": "7",
        "scores": factories.scores(toxic=0.1, insult=0.123456789012345, threat=1e-7),
        "flagged": (Label.TOXIC, Label.INSULT),
        "decision": Decision.REVIEW,
        "review_priority": ReviewPriority.HIGH,
        "text": "you are a fool",
        "text_length": 14,
        "text_sha256": factories.sha256_of("you are a fool"),
        "latency_ms": 3.25,
        "channel": Channel.PERSPECTIVE,
        "context": "a thread about llamas",
        "user_id": "u-42",
        "expires_at": 1_800_000_000,
    }
    return PredictionItem(**(fields | overrides))


def feedback(**overrides: Any) -> FeedbackItem:
    fields: dict[str, Any] = {
        "feedback_id": uuid4(),
        "prediction_id": uuid4(),
        "created_at": CREATED,
        "model_version": "7",
        "true_labels": {Label.TOXIC: True, Label.THREAT: False},
        "feedback_source": FeedbackSource.MODERATOR,
        "moderator_action": ModeratorAction.REMOVE,
        "text": "you are a fool",
        "note": "clear insult",
    }
    return FeedbackItem(**(fields | overrides))


def review(**overrides: Any) -> ReviewItem:
    fields: dict[str, Any] = {
        "prediction_id": uuid4(),
        "created_at": CREATED,
        "priority": ReviewPriority.MEDIUM,
        "model_version": "7",
        "scores": factories.scores(toxic=0.6),
        "text": "borderline",
    }
    return ReviewItem(**(fields | overrides))


def reviewed(**overrides: Any) -> ReviewItem:
    fields: dict[str, Any] = {
        "status": ReviewStatus.REVIEWED,
        "resolved_at": CREATED + timedelta(minutes=5),
        "resolved_by": "mod@example.com",
        "moderator_action": ModeratorAction.APPROVE,
        "true_labels": {Label.TOXIC: False},
        "feedback_id": uuid4(),
    }
    return review(**(fields | overrides))


ALL_SHAPES = [
    pytest.param(prediction(), id="prediction"),
    pytest.param(prediction(text=None, context=None, user_id=None), id="prediction-bare"),
    pytest.param(feedback(), id="feedback"),
    pytest.param(
        feedback(prediction_id=None, feedback_source=FeedbackSource.PERSPECTIVE, note=None),
        id="feedback-perspective",
    ),
    pytest.param(review(), id="review-pending"),
    pytest.param(reviewed(), id="review-done"),
]


@pytest.mark.parametrize("item", ALL_SHAPES)
def test_an_item_comes_back_from_dynamodb_form_exactly_as_it_went_in(item: StoredItem) -> None:
    assert type(item).from_item(item.to_item()) == item


def test_numbers_are_sent_as_decimal_strings_and_come_back_as_the_same_floats() -> None:
    item = prediction().to_item()

    scores = item["scores"]["M"]
    assert scores["insult"] == {"N": "0.123456789012345"}
    assert scores["threat"]["N"] in {"1E-7", "1e-07", "0.0000001"}
    assert item["latency_ms"] == {"N": "3.25"}
    assert item["text_length"] == {"N": "14"}
    assert item["expires_at"] == {"N": "1800000000"}
    back = PredictionItem.from_item(item)
    assert back.scores[Label.INSULT] == 0.123456789012345
    assert back.scores[Label.THREAT] == 1e-7


def test_timestamps_are_stored_as_fixed_width_utc_text_with_the_day_derived() -> None:
    east = timezone(timedelta(hours=2))
    item = prediction(created_at=datetime(2026, 3, 15, 1, 0, tzinfo=east)).to_item()

    assert item["created_at"] == {"S": "2026-03-14T23:00:00.000000Z"}
    assert item["day"] == {"S": "2026-03-14"}


def test_absent_optional_fields_are_left_out_of_the_item_not_stored_as_null() -> None:
    item = feedback(prediction_id=None, feedback_source=FeedbackSource.PERSPECTIVE).to_item()

    assert "prediction_id" not in item  # keeps the by_prediction index sparse
    assert all("NULL" not in value for value in item.values())


def test_enums_and_ids_are_stored_as_plain_strings() -> None:
    made = prediction()
    item = made.to_item()

    assert item["prediction_id"] == {"S": str(made.prediction_id)}
    assert item["decision"] == {"S": "review"}
    assert item["channel"] == {"S": "perspective"}
    assert item["flagged"] == {"L": [{"S": "toxic"}, {"S": "insult"}]}


def test_reading_an_item_ignores_attributes_newer_code_added() -> None:
    item = feedback()
    stored = item.to_item() | {"added_later": {"S": "x"}}

    assert FeedbackItem.from_item(stored) == item


@pytest.mark.parametrize(
    ("shape", "item"),
    [(PredictionItem, prediction()), (FeedbackItem, feedback()), (ReviewItem, review())],
)
def test_items_carry_every_key_attribute_their_table_and_indexes_use(
    shape: type[StoredItem], item: StoredItem
) -> None:
    table = InfraSpec.for_prefix("demo").table(shape.TABLE)
    stored = item.to_item()

    assert table.hash_key.name == shape.HASH_KEY
    assert item.key() == {shape.HASH_KEY: stored[shape.HASH_KEY]}
    for attribute in table.attribute_definitions:
        assert attribute.name in stored, attribute.name
        assert attribute.type in stored[attribute.name], attribute.name


def test_the_review_queue_key_puts_higher_priority_first_then_older_first() -> None:
    later = CREATED + timedelta(seconds=1)
    items = [
        review(priority=ReviewPriority.LOW, created_at=CREATED),
        review(priority=ReviewPriority.HIGH, created_at=later),
        review(priority=ReviewPriority.MEDIUM, created_at=CREATED),
        review(priority=ReviewPriority.HIGH, created_at=CREATED),
    ]

    ordered = sorted(items, key=lambda i: i.to_item()["queue_key"]["S"])

    assert [(i.priority, i.created_at) for i in ordered] == [
        (ReviewPriority.HIGH, CREATED),
        (ReviewPriority.HIGH, later),
        (ReviewPriority.MEDIUM, CREATED),
        (ReviewPriority.LOW, CREATED),
    ]


def test_a_review_is_reviewed_exactly_when_it_has_a_resolution() -> None:
    with pytest.raises(ValidationError, match="reviewed item"):
        review(status=ReviewStatus.REVIEWED)
    with pytest.raises(ValidationError, match="reviewed item"):
        review(resolved_at=CREATED, moderator_action=ModeratorAction.REMOVE)


def test_a_score_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValidationError):
        prediction(scores=factories.scores(toxic=1.5))


def test_a_prediction_event_becomes_the_item_the_logger_writes() -> None:
    event = factories.prediction_made(decision=Decision.REVIEW, user_id="u-1")

    item = PredictionItem.from_event(event, retention_seconds=3_600)

    assert item.prediction_id == event.prediction_id
    assert item.created_at == event.occurred_at
    assert item.day == event.occurred_at.strftime("%Y-%m-%d")
    assert item.scores == dict(event.scores)
    assert item.review_priority is ReviewPriority.MEDIUM
    assert item.expires_at == int(event.occurred_at.timestamp()) + 3_600
    assert PredictionItem.from_item(item.to_item()) == item


def test_a_feedback_event_becomes_a_feedback_item() -> None:
    event = factories.feedback_given(note="not toxic at all")

    item = FeedbackItem.from_event(event)

    assert (item.feedback_id, item.prediction_id) == (event.feedback_id, event.prediction_id)
    assert item.true_labels == {Label.TOXIC: False}
    assert item.note == "not toxic at all"


def test_only_a_prediction_decided_review_enters_the_review_queue() -> None:
    pending = ReviewItem.from_prediction(
        factories.prediction_made(decision=Decision.REVIEW, review_priority=ReviewPriority.HIGH)
    )

    assert pending.status is ReviewStatus.PENDING
    assert pending.queue_key.startswith("0#")
    with pytest.raises(ValueError, match="review queue"):
        ReviewItem.from_prediction(factories.prediction_made(decision=Decision.ALLOW))


def test_every_label_round_trips_in_true_labels() -> None:
    item = feedback(true_labels=dict.fromkeys(LABELS, True))

    assert FeedbackItem.from_item(item.to_item()).true_labels == dict.fromkeys(LABELS, True)
