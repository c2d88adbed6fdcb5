"""The native API in process, on in-memory parts: what each route answers and what it publishes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from botocore.exceptions import ClientError

from contracts import (
    LABELS,
    Channel,
    Decision,
    Envelope,
    FeedbackGiven,
    FeedbackSource,
    Label,
    ModeratorAction,
    PredictionMade,
    RetrainRequested,
    ReviewPriority,
    Source,
)
from services.api.keys import Role, create_key
from services.api.keystore import InMemoryKeyStore
from services.api.moderation import ModerationPolicy
from services.api.outbox import OutboxFull
from services.api.ratelimit import RateLimiter
from services.api.repository import ReviewStats
from services.api.service import CommentService, KnownPrediction
from shared.items import ReviewItem
from tests.harness.api_context import (
    InMemoryPredictions,
    InMemoryReviews,
    api_client,
    fake_context,
)

pytestmark = pytest.mark.unit


class FullOutbox:
    def put(self, events: Sequence[Envelope]) -> int:
        raise OutboxFull("the outbox is full", retry_after=3)


async def test_predict_answers_scores_decision_and_model_version_and_publishes_one_event() -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        response = await http.post(
            "/v1/predict", json={"text": "you are a fool", "context": "hi", "user_id": "u1"}
        )
    assert response.status_code == 200
    body = response.json()
    assert set(body["scores"]) == {label.value for label in LABELS}
    assert body["model_version"] == "test-1"
    assert body["moderation"]["decision"] in {"allow", "review", "reject"}
    [event] = log.of(PredictionMade)
    assert str(event.prediction_id) == body["prediction_id"]
    assert event.text == "you are a fool"
    assert event.context == "hi"
    assert event.user_id == "u1"
    assert event.channel is Channel.NATIVE
    assert event.model_version == "test-1"


async def test_do_not_store_leaves_text_and_context_out_of_the_event() -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        response = await http.post(
            "/v1/predict", json={"text": "private words", "context": "x", "do_not_store": True}
        )
    assert response.status_code == 200
    [event] = log.of(PredictionMade)
    assert event.text is None
    assert event.context is None
    assert event.text_length == len("private words")


async def test_an_explanation_names_ngrams_with_spans_into_the_text() -> None:
    context, _ = fake_context()
    text = "you are an idiot and a fool"
    async with api_client(context) as http:
        body = (await http.post("/v1/predict", json={"text": text, "explain": True})).json()
    spans = [span for spans in body["explanation"].values() for span in spans]
    assert spans
    assert all(text[s["start"] : s["end"]] == s["ngram"] for s in spans)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": ""}, "at least one non-space"),
        ({"text": "   "}, "at least one non-space"),
        ({"text": "x" * 51}, "over the limit of 50"),
        ({"txt": "typo"}, "Field required"),
        ({"text": 5}, "valid string"),
    ],
)
async def test_a_bad_comment_is_refused_with_a_message(body: object, message: str) -> None:
    context, log = fake_context(max_text_chars=50)
    async with api_client(context) as http:
        response = await http.post("/v1/predict", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert message in error["message"]
    assert error["status"] == "INVALID_ARGUMENT"
    assert log.events == []


async def test_malformed_json_is_a_422_not_a_500() -> None:
    context, _ = fake_context()
    async with api_client(context) as http:
        response = await http.post(
            "/v1/predict", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert response.status_code == 422


async def test_a_body_over_the_limit_is_refused_with_413() -> None:
    context, log = fake_context(max_body_bytes=2_048, max_text_chars=100_000)
    async with api_client(context) as http:
        response = await http.post("/v1/predict", json={"text": "a" * 5_000})
    assert response.status_code == 413
    assert "TOXIC_MAX_BODY_BYTES" in response.json()["error"]["message"]
    assert log.events == []


async def test_a_batch_scores_each_comment_and_publishes_one_event_each() -> None:
    context, log = fake_context()
    texts = ["hello there", "you are a fool", "what a lovely day"]
    async with api_client(context) as http:
        response = await http.post("/v1/predict/batch", json={"texts": texts})
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    events = log.of(PredictionMade)
    assert [e.text for e in events] == texts
    assert {e.channel for e in events} == {Channel.BATCH}
    assert len({e.correlation_id for e in events}) == 1  # one request, one correlation id
    assert [str(e.prediction_id) for e in events] == [
        p["prediction_id"] for p in body["predictions"]
    ]


@pytest.mark.parametrize(
    ("texts", "message"),
    [([], "at least one"), (["a"] * 4, "over the limit of 3"), (["ok", ""], "texts.1")],
)
async def test_a_bad_batch_is_refused_whole(texts: list[str], message: str) -> None:
    context, log = fake_context(max_batch=3)
    async with api_client(context) as http:
        response = await http.post("/v1/predict/batch", json={"texts": texts})
    assert response.status_code == 422
    assert message in response.json()["error"]["message"]
    assert log.events == []


async def test_feedback_on_a_prediction_becomes_feedback_given_with_its_text() -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        scored = (await http.post("/v1/predict", json={"text": "you are a fool"})).json()
        labeled = await http.post(
            "/v1/feedback",
            json={"prediction_id": scored["prediction_id"], "labels": {"insult": True}},
        )
        confirmed = await http.post(
            "/v1/feedback", json={"prediction_id": scored["prediction_id"], "correct": True}
        )
    assert labeled.status_code == 202
    assert confirmed.status_code == 202
    first, second = log.of(FeedbackGiven)
    assert first.true_labels == {Label.INSULT: True}
    assert first.feedback_source is FeedbackSource.USER
    assert first.text == "you are a fool"
    assert first.model_version == "test-1"
    assert second.true_labels == {label: label.value in scored["flagged"] for label in LABELS}


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"prediction_id": str(uuid4()), "labels": {"toxic": True}}, 404),
        ({"prediction_id": str(uuid4())}, 422),
        ({"prediction_id": str(uuid4()), "labels": {"toxic": True}, "correct": True}, 422),
        ({"prediction_id": str(uuid4()), "correct": False}, 422),
        ({"prediction_id": str(uuid4()), "labels": {"rude": True}}, 422),
        ({"prediction_id": "not-a-uuid", "correct": True}, 422),
    ],
)
async def test_bad_feedback_gets_a_clear_4xx(body: dict[str, object], status: int) -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        response = await http.post("/v1/feedback", json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"]
    assert log.events == []


async def test_without_a_model_scoring_answers_503_and_readiness_says_not_ready() -> None:
    context, _ = fake_context(loaded=False)
    async with api_client(context) as http:
        scored = await http.post("/v1/predict", json={"text": "hello"})
        ready = await http.get("/readyz")
        alive = await http.get("/healthz")
    assert scored.status_code == 503
    assert scored.headers["retry-after"] == "1"
    assert ready.status_code == 503
    assert ready.json()["model_loaded"] is False
    assert alive.status_code == 200


async def test_a_full_outbox_answers_503_with_retry_after() -> None:
    context, _ = fake_context()
    context.service = CommentService(
        context.slot,
        ModerationPolicy(),
        FullOutbox(),
        context.service._predictions,
        Source(service="api", instance="test-1"),
    )
    async with api_client(context) as http:
        response = await http.post("/v1/predict", json={"text": "hello"})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert "outbox" in response.json()["error"]["message"]


def _review(priority: ReviewPriority) -> ReviewItem:
    return ReviewItem(
        prediction_id=uuid4(),
        created_at=datetime.now(UTC),
        priority=priority,
        model_version="test-1",
        scores=dict.fromkeys(LABELS, 0.5),
        text="borderline",
    )


async def test_the_review_queue_needs_a_moderator_key() -> None:
    keys = InMemoryKeyStore()
    client = await create_key(keys, Role.CLIENT, "c")
    moderator = await create_key(keys, Role.MODERATOR, "m")
    context, _ = fake_context(keys=keys)
    async with api_client(context) as http:
        missing = await http.get("/v1/reviews")
        wrong = await http.get("/v1/reviews", headers={"X-API-Key": "tox_not-a-key"})
        low = await http.get("/v1/reviews", headers={"X-API-Key": client})
        ok = await http.get("/v1/reviews", headers={"Authorization": f"Bearer {moderator}"})
    assert [missing.status_code, wrong.status_code, low.status_code, ok.status_code] == [
        401,
        401,
        403,
        200,
    ]


async def test_reviews_list_by_priority_and_a_decision_becomes_moderator_feedback() -> None:
    keys = InMemoryKeyStore()
    moderator = {"X-API-Key": await create_key(keys, Role.MODERATOR, "m")}
    reviews = InMemoryReviews()
    high, low = _review(ReviewPriority.HIGH), _review(ReviewPriority.LOW)
    reviews.add(low, high)
    predictions = InMemoryPredictions()
    predictions.known[high.prediction_id] = KnownPrediction(
        high.prediction_id, "test-1", "borderline"
    )
    context, log = fake_context(keys=keys, reviews=reviews, predictions=predictions)
    async with api_client(context) as http:
        listed = (await http.get("/v1/reviews", headers=moderator)).json()
        only_low = (await http.get("/v1/reviews?priority=low", headers=moderator)).json()
        stats = (await http.get("/v1/reviews/stats", headers=moderator)).json()
        decided = await http.post(
            f"/v1/reviews/{high.prediction_id}",
            json={"action": "approve", "note": "fine"},
            headers=moderator,
        )
        unknown = await http.post(
            f"/v1/reviews/{uuid4()}", json={"action": "approve"}, headers=moderator
        )
        bad = await http.get("/v1/reviews?status=maybe", headers=moderator)
    assert [i["prediction_id"] for i in listed["items"]] == [
        str(high.prediction_id),
        str(low.prediction_id),
    ]
    assert [i["prediction_id"] for i in only_low["items"]] == [str(low.prediction_id)]
    assert stats["pending"] == 2
    assert decided.status_code == 202
    [event] = log.of(FeedbackGiven)
    assert event.feedback_source is FeedbackSource.MODERATOR
    assert event.moderator_action is ModeratorAction.APPROVE
    assert event.note == "fine"
    assert unknown.status_code == 404
    assert bad.status_code == 422


async def test_a_retrain_needs_an_admin_key_and_becomes_retrain_requested() -> None:
    keys = InMemoryKeyStore()
    moderator = {"X-API-Key": await create_key(keys, Role.MODERATOR, "m")}
    admin = {"X-API-Key": await create_key(keys, Role.ADMIN, "ops")}
    context, log = fake_context(keys=keys)
    async with api_client(context) as http:
        refused = await http.post("/v1/retrain", headers=moderator)
        accepted = await http.post("/v1/retrain", json={"note": "new data"}, headers=admin)
    assert refused.status_code == 403
    assert accepted.status_code == 202
    [event] = log.of(RetrainRequested)
    assert event.requested_by == "api-key:ops"
    assert event.note == "new data"


async def test_client_routes_need_a_key_only_when_configured() -> None:
    keys = InMemoryKeyStore()
    client = {"X-API-Key": await create_key(keys, Role.CLIENT, "c")}
    context, _ = fake_context(keys=keys, require_client_key=True)
    async with api_client(context) as http:
        anonymous = await http.post("/v1/predict", json={"text": "hello"})
        keyed = await http.post("/v1/predict", json={"text": "hello"}, headers=client)
        by_query = await http.post(f"/v1/predict?key={client['X-API-Key']}", json={"text": "hi"})
    assert anonymous.status_code == 401
    assert keyed.status_code == 200
    assert by_query.status_code == 200


async def test_the_rate_limit_answers_429_with_retry_after() -> None:
    context, log = fake_context(limiter=RateLimiter(rate=1.0, burst=2))
    async with api_client(context) as http:
        answers = [
            (await http.post("/v1/predict", json={"text": "hello"})).status_code for _ in range(3)
        ]
        refused = await http.post("/v1/predict", json={"text": "hello"})
    assert answers == [200, 200, 429]
    assert int(refused.headers["retry-after"]) >= 1
    assert len(log.of(PredictionMade)) == 2


async def test_the_model_route_names_version_metrics_and_thresholds() -> None:
    context, _ = fake_context()
    async with api_client(context) as http:
        body = (await http.get("/v1/model")).json()
    assert body["version"] == "test-1"
    assert set(body["thresholds"]) == {label.value for label in LABELS}
    assert set(body["metrics"]) == {label.value for label in LABELS}


def test_moderation_follows_the_top_score_with_the_seeds_thresholds() -> None:
    policy = ModerationPolicy()
    scores = dict.fromkeys(LABELS, 0.0)
    assert policy.decide({**scores, Label.THREAT: 0.95}).decision is Decision.REJECT
    assert policy.decide({**scores, Label.THREAT: 0.05}).decision is Decision.ALLOW
    assert policy.decide({**scores, Label.TOXIC: 0.1}).decision is Decision.ALLOW
    assert policy.decide({**scores, Label.TOXIC: 0.9}).decision is Decision.REJECT
    review = policy.decide({**scores, Label.INSULT: 0.85, Label.TOXIC: 0.6})
    assert review.decision is Decision.REVIEW
    assert review.priority is ReviewPriority.HIGH
    assert review.drivers == (Label.INSULT, Label.TOXIC)
    assert "insult 0.85" in review.reasoning
    assert policy.decide({**scores, Label.TOXIC: 0.5}).priority is ReviewPriority.MEDIUM
    assert policy.decide({**scores, Label.TOXIC: 0.3}).priority is ReviewPriority.LOW


def test_moderation_confidence_is_zero_on_a_threshold_and_one_far_from_it() -> None:
    policy = ModerationPolicy()
    scores = dict.fromkeys(LABELS, 0.0)
    assert policy.decide(scores).confidence == 1.0
    assert policy.decide({**scores, Label.TOXIC: 1.0}).confidence == 1.0
    assert policy.decide({**scores, Label.TOXIC: 0.9}).confidence == 0.0
    assert policy.decide({**scores, Label.TOXIC: 0.5}).confidence == 1.0


async def test_every_response_names_the_serving_model_version() -> None:
    context, _ = fake_context()
    async with api_client(context) as http:
        scored = await http.post("/v1/predict", json={"text": "hello"})
        refused = await http.post("/v1/predict", json={"text": ""})
        alive = await http.get("/healthz")
    assert {r.headers["x-model-version"] for r in (scored, refused, alive)} == {"test-1"}


class BrokenReviews(InMemoryReviews):
    async def stats(self) -> ReviewStats:
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "Query")


async def test_a_storage_failure_is_a_503_not_a_500() -> None:
    keys = InMemoryKeyStore()
    moderator = {"X-API-Key": await create_key(keys, Role.MODERATOR, "m")}
    context, _ = fake_context(keys=keys, reviews=BrokenReviews())
    async with api_client(context) as http:
        response = await http.get("/v1/reviews/stats", headers=moderator)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert "boom" not in response.text


async def test_where_keys_are_optional_an_unknown_key_counts_as_none() -> None:
    keys = InMemoryKeyStore()
    moderator = await create_key(keys, Role.MODERATOR, "m")
    context, _ = fake_context(keys=keys)
    async with api_client(context) as http:
        google_key = await http.post("/v1/predict?key=AIzaSyNotOurs", json={"text": "hello"})
        moderated = await http.get("/v1/reviews?key=AIzaSyNotOurs")
        with_ours = await http.get(f"/v1/reviews?key={moderator}")
    assert google_key.status_code == 200
    assert moderated.status_code == 401
    assert with_ours.status_code == 200


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/predict", b'{"text": "abc \\ud800 def"}'),
        ("/v1/predict", b'{"text": "fine", "context": "\\udfff"}'),
        ("/v1/predict/batch", b'{"texts": ["fine", "bad \\udc00"]}'),
        (
            "/v1alpha1/comments:analyze",
            b'{"comment": {"text": "x \\ud800"}, "requestedAttributes": {"TOXICITY": {}}}',
        ),
    ],
)
async def test_an_unpaired_surrogate_is_a_4xx_naming_it_not_a_500(path: str, body: bytes) -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        response = await http.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code in {400, 422}
    assert "unpaired surrogate" in response.json()["error"]["message"]
    assert log.events == []


async def test_a_paired_surrogate_escape_is_an_ordinary_character() -> None:
    context, log = fake_context()
    async with api_client(context) as http:
        response = await http.post(
            "/v1/predict",
            content=b'{"text": "nice \\ud83d\\ude00"}',
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 200
    assert log.of(PredictionMade)[0].text == "nice \U0001f600"
