"""Scoring's fast paths say what the contract models would: events, ids, decisions, responses.

``PredictionMade`` bodies, batch responses and moderation decisions are built from columns
rather than through pydantic models one comment at a time (``services.api.events``); these tests
hold them to the models: every body decodes through the contract and equals, field for field,
the event pydantic builds from the same values.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import numpy as np
import pytest

from contracts import (
    LABELS,
    Channel,
    Decision,
    Envelope,
    Label,
    PredictionMade,
    ReviewPriority,
    Source,
    decode,
    encode,
)
from services.api import schemas
from services.api.events import EncodedEvents, escaped, scores_json, uuid4_strings
from services.api.moderation import Moderation, ModerationPolicy
from services.api.native import batch_json
from services.api.service import CommentService, ScoredBatch
from services.api.serving import ModelSlot
from tests.harness.api_context import InMemoryPredictions, api_client, fake_context, serving_model

pytestmark = pytest.mark.unit

SOURCE = Source(service="api", instance="replica %s 1")


class RawSink:
    """The EventSink port, keeping what it was given as it was given."""

    def __init__(self) -> None:
        self.puts: list[Sequence[Envelope]] = []

    def put(self, events: Sequence[Envelope]) -> int:
        self.puts.append(events)
        return len(events)


def service(sink: RawSink, policy: ModerationPolicy | None = None) -> CommentService:
    """Scoring with the tiny model, whose version needs escaping (and holds a %-sign)."""
    slot = ModelSlot()
    slot.current = serving_model(version="v%s-1 ünï")
    return CommentService(slot, policy or ModerationPolicy(), sink, InMemoryPredictions(), SOURCE)


TEXTS = [
    "you are a fool",
    'quotes " and \\ backslashes \\" and a % sign %s %d',
    "ünïcödé, emoji 😀, CJK 漢字, and a tab\tand a newline\n",
    "control \x00\x01\x1f characters",
    "x",
    "what a lovely day " * 40,
]


def expected_event(
    event: PredictionMade, batch: ScoredBatch, i: int, **given: Any
) -> dict[str, Any]:
    """The body pydantic writes for row ``i``, from the same values (and the event's own ids)."""
    text: str = given["text"]
    store: bool = given["store"]
    context: str | None = given["context"]
    m = batch.moderation[i]
    model = PredictionMade(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        correlation_id=given["correlation_id"],
        source=SOURCE,
        prediction_id=UUID(batch.prediction_ids[i]),
        model_version=batch.model_version,
        scores=dict(zip(LABELS, batch.scores[i], strict=True)),
        flagged=batch.flagged[i],
        decision=m.decision,
        review_priority=m.priority,
        text=text if store else None,
        text_length=len(text),
        text_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        latency_ms=event.latency_ms,
        channel=given["channel"],
        context=context if store else None,
        user_id=given["user_id"],
    )
    body: dict[str, Any] = json.loads(encode(model))
    return body


async def test_a_batchs_bodies_decode_and_equal_what_the_contract_model_writes() -> None:
    sink = RawSink()
    contexts: list[str | None] = [None, "replying to %s", None, 'ctx "q" ü', None, "c"]
    user_ids: list[str | None] = ["user %s 1", None, "ü-2", None, "u", "u"]
    stores = [True, False, True, False, True, True]  # False: do_not_store
    batch = await service(sink).score_batch(
        TEXTS,
        Channel.BATCH,
        contexts=contexts,
        user_ids=user_ids,
        stores=stores,
        correlation_id="corr %s %d",
    )
    [put] = sink.puts
    assert isinstance(put, EncodedEvents)
    assert put.event_type == "PredictionMade"
    assert len(put.bodies) == len(TEXTS)
    for i, body in enumerate(put.bodies):
        event = decode(body)
        assert isinstance(event, PredictionMade)
        assert str(event.event_id) == put.event_ids[i]
        assert str(event.prediction_id) == batch.prediction_ids[i]
        assert event.occurred_at.tzinfo is not None
        assert event.latency_ms >= 0
        assert json.loads(body) == expected_event(
            event,
            batch,
            i,
            text=TEXTS[i],
            store=stores[i],
            context=contexts[i],
            user_id=user_ids[i],
            correlation_id="corr %s %d",
            channel=Channel.BATCH,
        )
    private = decode(put.bodies[1])  # do_not_store, with a context
    assert isinstance(private, PredictionMade)
    assert (private.text, private.context, private.text_length) == (None, None, len(TEXTS[1]))


async def test_single_comments_with_and_without_explanations_publish_contract_events() -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        plain = await http.post(
            "/v1/predict",
            json={"text": "you are an idiot", "context": "hi", "user_id": "u1"},
        )
        explained = await http.post(
            "/v1/predict", json={"text": "you are an idiot", "explain": True, "do_not_store": True}
        )
    assert plain.status_code == explained.status_code == 200
    first, second = log.of(PredictionMade)
    assert (first.text, first.context, first.user_id) == ("you are an idiot", "hi", "u1")
    assert (second.text, second.context, second.user_id) == (None, None, None)
    assert second.text_sha256 == hashlib.sha256(b"you are an idiot").hexdigest()
    assert first.scores == second.scores
    assert str(second.prediction_id) == explained.json()["prediction_id"]
    assert "explanation" in explained.json()


async def test_a_batch_response_equals_what_its_pydantic_model_writes() -> None:
    sink = RawSink()
    texts = [*TEXTS, "you idiot, I will kill you", "hello"]
    policy = ModerationPolicy(reject_at=0.6, allow_at=0.3)  # all three decisions in a batch
    batch = await service(sink, policy).score_batch(texts, Channel.BATCH)
    model = schemas.BatchResponse(
        model_version=batch.model_version,
        count=len(batch),
        predictions=[
            schemas.Prediction(
                prediction_id=UUID(batch.prediction_ids[i]),
                model_version=batch.model_version,
                scores=dict(zip(LABELS, batch.scores[i], strict=True)),
                flagged=list(batch.flagged[i]),
                moderation=schemas.Moderation(
                    decision=batch.moderation[i].decision,
                    confidence=batch.moderation[i].confidence,
                    reasoning=batch.moderation[i].reasoning,
                    priority=batch.moderation[i].priority,
                ),
            )
            for i in range(len(batch))
        ],
    )
    assert json.loads(batch_json(batch)) == json.loads(model.model_dump_json(exclude_none=True))


def test_strings_escaped_together_come_back_one_by_one() -> None:
    values = ['a","b', "ends in a backslash \\", '\\","', "", '"', "ü 😀 \x00", ",", '","']
    assert [json.loads(f'"{e}"') for e in escaped(values)] == values
    assert escaped([]) == []


def test_scores_are_written_as_the_numbers_they_are() -> None:
    rows = np.array([[0.0, 1.0, 5e-324, 1e-5, 0.1 + 0.2, 1 / 3], [0.5] * 6])
    written = [json.loads(s) for s in scores_json(rows)]
    assert written == [
        dict(zip((lb.value for lb in LABELS), r, strict=True)) for r in rows.tolist()
    ]
    assert scores_json(np.empty((0, 6))) == []


def test_bulk_ids_are_distinct_version_4_uuids_in_canonical_form() -> None:
    ids = uuid4_strings(5_000)
    parsed = [UUID(i) for i in ids]
    assert len(set(ids)) == 5_000
    assert all(u.version == 4 for u in parsed)
    assert {u.variant for u in parsed} == {"specified in RFC 4122"}
    assert [str(u) for u in parsed] == ids
    # Every random hex digit takes every value somewhere: no bits stuck.
    digits = {(pos, ch) for i in ids for pos, ch in enumerate(i)}
    assert len({ch for pos, ch in digits if pos == 0}) == 16


# --- moderation over a score matrix -------------------------------------------------------------


def one_by_one(policy: ModerationPolicy, scores: dict[Label, float]) -> Moderation:
    """The rule as the seed stated it, one comment at a time: the reference for ``decide_rows``."""

    def above(floor: float, inclusive: bool) -> tuple[Label, ...]:
        chosen = [label for label, p in scores.items() if (p >= floor if inclusive else p > floor)]
        chosen.sort(key=scores.__getitem__, reverse=True)
        return tuple(chosen[:3])

    def share(distance: float, span: float) -> float:
        return 1.0 if span <= 0 else round(max(0.0, min(1.0, distance / span)), 4)

    def named(labels: tuple[Label, ...]) -> str:
        return ", ".join(f"{label.value} {scores[label]:.2f}" for label in labels)

    top = max(scores.values())
    if top >= policy.reject_at:
        drivers = above(policy.reject_at, True)
        return Moderation(
            Decision.REJECT,
            share(top - policy.reject_at, 1.0 - policy.reject_at),
            f"rejected: {named(drivers)} at or above {policy.reject_at:g}",
            drivers=drivers,
        )
    if top <= policy.allow_at:
        highest = max(scores, key=scores.__getitem__)
        return Moderation(
            Decision.ALLOW,
            share(policy.allow_at - top, policy.allow_at),
            f"allowed: every label at or below {policy.allow_at:g} (highest {named((highest,))})",
        )
    drivers = above(policy.allow_at, False)
    priority = (
        ReviewPriority.HIGH
        if top >= policy.high_priority_at
        else ReviewPriority.MEDIUM
        if top >= policy.medium_priority_at
        else ReviewPriority.LOW
    )
    half = (policy.reject_at - policy.allow_at) / 2
    return Moderation(
        Decision.REVIEW,
        share(min(top - policy.allow_at, policy.reject_at - top), half),
        f"review ({priority.value} priority): {named(drivers)} between"
        f" {policy.allow_at:g} and {policy.reject_at:g}",
        priority=priority,
        drivers=drivers,
    )


@pytest.mark.parametrize(
    "policy",
    [
        ModerationPolicy(),
        ModerationPolicy(reject_at=1.0, allow_at=0.0, high_priority_at=0.7, medium_priority_at=0.7),
        ModerationPolicy(reject_at=0.55, allow_at=0.45),
    ],
    ids=["defaults", "no-allow-no-reject-span", "narrow-band"],
)
def test_decisions_over_a_score_matrix_equal_the_rule_applied_one_comment_at_a_time(
    policy: ModerationPolicy,
) -> None:
    rng = random.Random(7)
    # Values on and next to every threshold, ties, zeros and ones, and plain random scores.
    edges = [0.0, 1.0, 0.1, 0.9, 0.5, 0.8, 0.45, 0.55, 0.7, 0.3]
    edges += [np.nextafter(e, 2.0) for e in edges] + [np.nextafter(e, -1.0) for e in edges]
    edges = [min(1.0, max(0.0, float(e))) for e in edges]
    rows = [[rng.choice(edges) for _ in LABELS] for _ in range(3_000)]
    rows += [[rng.random() ** 3 for _ in LABELS] for _ in range(3_000)]
    rows += [[v] * len(LABELS) for v in edges]
    decided = policy.decide_rows(np.array(rows))  # numpy passes over the matrix
    few = policy.decide_rows(np.array(rows[:5]))  # a few rows: decided one by one
    assert len(decided) == len(rows)
    assert [few[i] for i in range(5)] == [decided[i] for i in range(5)]
    for i, row in enumerate(rows):
        scores = dict(zip(LABELS, row, strict=True))
        expected = one_by_one(policy, scores)
        assert decided[i] == expected, row
        assert policy.decide(scores) == expected, row


def test_a_single_decision_is_the_first_row_of_a_matrix_of_one() -> None:
    policy = ModerationPolicy()
    scores = {Label.INSULT: 0.85, Label.TOXIC: 0.85, Label.THREAT: 0.2}
    decided = policy.decide(scores)
    assert decided == one_by_one(policy, scores)
    assert decided.drivers == (Label.INSULT, Label.TOXIC, Label.THREAT)  # ties: mapping order


# --- request validation -------------------------------------------------------------------------


async def test_batch_surrogates_are_refused_with_each_items_place_as_before() -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        response = await http.post(
            "/v1/predict/batch",
            content=b'{"texts": ["fine", "bad \\udc00", "ok \\u00e9", "x\\ud800"]}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["message"] == (
        "texts.1: not valid Unicode: an unpaired surrogate at character 4 (and 1 more)"
    )
    assert [d["field"] for d in error["details"]] == ["texts.1", "texts.3"]
    assert log.events == []


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        (["ok", "  ", "x" * 60], "texts.1: must contain at least one non-space character"),
        (["ok", "x" * 51, ""], "texts.1: 51 characters is over the limit of 50"),
    ],
)
async def test_the_first_bad_item_of_a_batch_is_named(texts: list[str], message: str) -> None:
    context, log = fake_context(max_text_chars=50)
    async with api_client(context) as http:
        response = await http.post("/v1/predict/batch", json={"texts": texts})
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(message)
    assert log.events == []


async def test_a_model_scoring_outside_zero_to_one_publishes_nothing() -> None:
    class Broken:
        thresholds = np.full(len(LABELS), 0.5)

        def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
            return np.full((len(texts), len(LABELS)), np.nan)

    sink = RawSink()
    comments = service(sink)
    assert comments.slot.current is not None
    broken = serving_model(Broken(), "broken")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="outside"):
        await comments.score_batch(["hello"], Channel.BATCH, serving=broken)
    assert sink.puts == []
