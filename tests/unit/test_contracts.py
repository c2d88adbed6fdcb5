"""The event contracts: encoding, decoding, refusing what is not a contract, immutability."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from contracts import (
    EVENT_TYPES,
    ContractError,
    Decision,
    FeedbackSource,
    Label,
    ModeratorAction,
    ReviewPriority,
    decode,
    encode,
)
from tests.factories import (
    EVENT_FACTORIES,
    as_body,
    body_with,
    feedback_given,
    histogram,
    model_published,
    prediction_made,
    training_failed,
)

pytestmark = pytest.mark.unit

EVENT_NAMES = sorted(EVENT_FACTORIES)


def test_every_event_type_has_a_factory() -> None:
    assert set(EVENT_FACTORIES) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_encode_then_decode_gives_an_equal_event(event_type: str) -> None:
    event = EVENT_FACTORIES[event_type]()

    assert decode(encode(event)) == event


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_decode_returns_the_class_named_by_event_type(event_type: str) -> None:
    event = decode(encode(EVENT_FACTORIES[event_type]()))

    assert type(event) is EVENT_TYPES[event_type]
    assert event.event_type == event_type


def test_decode_accepts_bytes() -> None:
    event = prediction_made()

    assert decode(encode(event).encode("utf-8")) == event


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("{not json", id="broken-json"),
        pytest.param("", id="empty"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param("[1, 2]", id="array"),
        pytest.param('"PredictionMade"', id="string"),
        pytest.param("null", id="null"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_malformed(body: str | bytes) -> None:
    with pytest.raises(ContractError) as caught:
        decode(body)

    assert caught.value.reason == "malformed_json"


@pytest.mark.parametrize(
    "event_type",
    [
        pytest.param("PredictionDeleted", id="unknown-name"),
        pytest.param("predictionmade", id="wrong-case"),
        pytest.param(42, id="not-a-string"),
        pytest.param(None, id="null"),
        pytest.param(..., id="missing"),
    ],
)
def test_a_body_without_a_known_event_type_is_refused(event_type: Any) -> None:
    with pytest.raises(ContractError) as caught:
        decode(body_with(prediction_made(), event_type=event_type))

    assert caught.value.reason == "unknown_event_type"


def test_unknown_event_type_error_names_the_known_types() -> None:
    with pytest.raises(ContractError) as caught:
        decode(body_with(prediction_made(), event_type="PredictionDeleted"))

    assert all(name in caught.value.detail for name in EVENT_TYPES)


@pytest.mark.parametrize("version", ["2.0", "0.9", "10.0"])
def test_another_major_schema_version_is_unsupported(version: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(body_with(prediction_made(), schema_version=version))

    assert caught.value.reason == "unsupported_schema_version"
    assert version in caught.value.detail


@pytest.mark.parametrize(
    "version",
    [
        pytest.param("1", id="no-minor"),
        pytest.param("1.0.0", id="three-parts"),
        pytest.param("v1.0", id="prefixed"),
        pytest.param("", id="empty"),
        pytest.param(1.0, id="a-number"),
        pytest.param(None, id="null"),
        pytest.param(..., id="missing"),
    ],
)
def test_a_schema_version_that_is_not_major_dot_minor_is_invalid(version: Any) -> None:
    with pytest.raises(ContractError) as caught:
        decode(body_with(prediction_made(), schema_version=version))

    assert caught.value.reason == "invalid_fields"
    assert "schema_version" in caught.value.detail


@pytest.mark.parametrize("version", ["1.0\n", "\u0661.\u0660", " 1.0"])
def test_a_schema_version_with_anything_but_ascii_digits_is_invalid(version: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(body_with(prediction_made(), schema_version=version))

    assert caught.value.reason == "invalid_fields"


def test_building_an_event_with_a_malformed_schema_version_fails() -> None:
    with pytest.raises(ValidationError, match="schema_version"):
        prediction_made(schema_version="banana")


@pytest.mark.parametrize("field", ["event_id", "occurred_at", "correlation_id", "prediction_id"])
def test_a_body_without_an_identity_field_is_refused_not_given_a_new_one(field: str) -> None:
    body = as_body(prediction_made())
    del body[field]

    with pytest.raises(ContractError) as caught:
        decode(json.dumps(body))

    assert caught.value.reason == "invalid_fields"
    assert field in caught.value.detail


def test_a_newer_minor_with_an_unknown_field_decodes_and_ignores_the_field() -> None:
    event = prediction_made()

    decoded = decode(body_with(event, schema_version="1.7", sentiment="sunny"))

    assert isinstance(decoded, type(event))
    assert decoded.schema_version == "1.7"
    assert decoded.model_copy(update={"schema_version": event.schema_version}) == event
    assert "sentiment" not in as_body(decoded)


def _scores_with(**changes: Any) -> dict[str, Any]:
    scores: dict[str, Any] = as_body(prediction_made())["scores"]
    for label, value in changes.items():
        if value is Ellipsis:
            del scores[label]
        else:
            scores[label] = value
    return scores


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(
            body_with(prediction_made(), scores=_scores_with(toxic=1.5)),
            "scores.toxic",
            id="score-above-one",
        ),
        pytest.param(
            body_with(prediction_made(), scores=_scores_with(threat=-0.1)),
            "scores.threat",
            id="score-below-zero",
        ),
        pytest.param(
            body_with(prediction_made(), scores=_scores_with(threat=...)),
            "threat",
            id="label-missing-from-scores",
        ),
        pytest.param(
            body_with(prediction_made(), scores=_scores_with(rude=0.2)),
            "rude",
            id="unknown-label-in-scores",
        ),
        pytest.param(
            body_with(prediction_made(), review_priority="high"),
            "review_priority",
            id="review-priority-without-review-decision",
        ),
        pytest.param(
            body_with(prediction_made(), decision="review", review_priority=None),
            "review_priority",
            id="review-decision-without-priority",
        ),
        pytest.param(
            body_with(prediction_made(), text_length=3),
            "text_length",
            id="text-length-not-the-text's",
        ),
        pytest.param(
            body_with(prediction_made(), text_sha256="not-a-digest"),
            "text_sha256",
            id="bad-sha256",
        ),
        pytest.param(
            body_with(prediction_made(), occurred_at="2026-01-01T00:00:00"),
            "occurred_at",
            id="naive-timestamp",
        ),
        pytest.param(
            body_with(prediction_made(), traceparent="00-abc"),
            "traceparent",
            id="bad-traceparent",
        ),
        pytest.param(
            body_with(prediction_made(), source={"service": "api"}),
            "source.instance",
            id="source-without-instance",
        ),
        pytest.param(
            body_with(feedback_given(), prediction_id=None, text="what they wrote"),
            "prediction_id",
            id="user-feedback-without-prediction-id",
        ),
        pytest.param(
            body_with(feedback_given(), moderator_action="remove"),
            "moderator",
            id="moderator-action-from-a-user",
        ),
        pytest.param(
            body_with(feedback_given(), true_labels={}),
            "true_labels",
            id="feedback-naming-no-label",
        ),
        pytest.param(
            body_with(training_failed(), error=""),
            "error",
            id="training-failed-without-error",
        ),
    ],
)
def test_a_body_breaking_the_contract_has_invalid_fields(body: str, field: str) -> None:
    with pytest.raises(ContractError) as caught:
        decode(body)

    assert caught.value.reason == "invalid_fields"
    assert field in caught.value.detail


def test_contract_error_says_the_reason_first() -> None:
    with pytest.raises(ContractError, match=r"^malformed_json: "):
        decode("{")


@pytest.mark.parametrize("event_type", EVENT_NAMES)
def test_events_are_frozen(event_type: str) -> None:
    event = EVENT_FACTORIES[event_type]()

    with pytest.raises(ValidationError, match="frozen"):
        event.correlation_id = "changed"  # type: ignore[misc]


def test_nested_parts_of_an_event_are_frozen() -> None:
    event = model_published()

    with pytest.raises(ValidationError, match="frozen"):
        event.source.service = "someone-else"  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        event.baseline.rows = 1  # type: ignore[misc]


def test_a_model_ignores_a_field_it_does_not_know() -> None:
    # Unknown fields are ignored rather than refused: that is what lets a newer minor add fields.
    event = prediction_made(sentiment="sunny")

    assert "sentiment" not in as_body(event)


def test_occurred_at_is_kept_in_utc() -> None:
    paris = timezone(timedelta(hours=2))
    event = prediction_made(occurred_at=datetime(2026, 6, 1, 12, 0, tzinfo=paris))

    assert event.occurred_at == datetime(2026, 6, 1, 10, 0, tzinfo=UTC)
    assert event.occurred_at.utcoffset() == timedelta(0)


def test_each_event_gets_its_own_event_id() -> None:
    assert prediction_made().event_id != prediction_made().event_id


def test_a_prediction_under_review_carries_its_priority() -> None:
    event = prediction_made(decision=Decision.REVIEW, review_priority=ReviewPriority.HIGH)

    assert decode(encode(event)) == event


def test_a_prediction_without_stored_text_keeps_its_length_and_digest() -> None:
    event = prediction_made(text=None, text_length=12, text_sha256="0" * 64)

    body = as_body(event)

    assert body["text"] is None
    assert (body["text_length"], body["text_sha256"]) == (12, "0" * 64)


def test_perspective_feedback_without_a_prediction_carries_its_text() -> None:
    event = feedback_given(
        prediction_id=None, feedback_source=FeedbackSource.PERSPECTIVE, text="you are awful"
    )

    assert decode(encode(event)) == event


def test_perspective_feedback_without_a_prediction_or_text_is_invalid() -> None:
    with pytest.raises(ValidationError, match="text"):
        feedback_given(prediction_id=None, feedback_source=FeedbackSource.PERSPECTIVE)


def test_a_moderators_feedback_carries_the_action_and_may_name_no_label() -> None:
    event = feedback_given(
        feedback_source=FeedbackSource.MODERATOR,
        moderator_action=ModeratorAction.APPROVE,
        true_labels={},
    )

    assert decode(encode(event)) == event


def test_a_moderators_feedback_without_an_action_is_invalid() -> None:
    with pytest.raises(ValidationError, match="moderator_action"):
        feedback_given(feedback_source=FeedbackSource.MODERATOR)


def test_a_histogram_has_one_count_fewer_than_edges() -> None:
    with pytest.raises(ValidationError, match="one count fewer"):
        histogram(edges=(0.0, 0.5, 1.0), counts=(1, 2, 3))


def test_histogram_edges_must_ascend() -> None:
    with pytest.raises(ValidationError, match="ascending"):
        histogram(edges=(0.0, 1.0, 0.5))


def test_a_published_model_names_metrics_for_every_label() -> None:
    metrics = dict(model_published().metrics)
    del metrics[Label.IDENTITY_HATE]

    with pytest.raises(ValidationError, match="identity_hate"):
        model_published(metrics=metrics)


def test_encoded_body_is_plain_json_with_enum_values() -> None:
    body = json.loads(encode(prediction_made(decision=Decision.REVIEW)))

    assert body["decision"] == "review"
    assert body["review_priority"] == "medium"
    assert set(body["scores"]) == {label.value for label in Label}
