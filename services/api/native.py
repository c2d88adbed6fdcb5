"""The native API, ``/v1``: scoring, feedback, the model, examples, the review queue, retrains."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

import pydantic_core
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from contracts import LABELS, Channel, Decision, Label, ReviewPriority
from services.api import schemas
from services.api.deps import Admin, Client, Ctx, Moderator
from services.api.errors import ApiError
from services.api.events import escaped, json_string
from services.api.service import Comment, Scored, ScoredBatch
from shared.items import ReviewItem, ReviewStatus

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["native"])


def check_text(text: str, limit: int, field: str = "text") -> None:
    """Refuse an empty or too long comment with a message naming the limit."""
    if not text.strip():
        raise ApiError(422, f"{field}: must contain at least one non-space character")
    if len(text) > limit:
        raise ApiError(
            422,
            f"{field}: {len(text)} characters is over the limit of {limit} (TOXIC_MAX_TEXT_CHARS)",
        )


def prediction(result: Scored) -> schemas.Prediction:
    explanation = None
    if result.explanation is not None:
        explanation = {
            label: [
                schemas.Span(ngram=c.ngram, start=c.start, end=c.end, weight=round(c.weight, 6))
                for c in contributions
            ]
            for label, contributions in result.explanation.items()
        }
    m = result.moderation
    return schemas.Prediction(
        prediction_id=result.prediction_id,
        model_version=result.model_version,
        scores=result.scores,
        flagged=list(result.flagged),
        moderation=schemas.Moderation(
            decision=m.decision, confidence=m.confidence, reasoning=m.reasoning, priority=m.priority
        ),
        explanation=explanation,
    )


def _correlation(request: Request) -> str | None:
    value = request.headers.get("x-correlation-id")
    return value[:128] if value and value.strip() else None


def json_response(model: BaseModel) -> Response:
    """``model`` as JSON by pydantic's serializer, skipping FastAPI's re-validation and encoder.

    The scoring routes return models they have just built; FastAPI would validate them again
    and walk them with ``jsonable_encoder``, which for a batch of 1,000 costs more than scoring.
    """
    return Response(model.model_dump_json(exclude_none=True), media_type="application/json")


@router.post("/predict", response_model=schemas.Prediction, response_model_exclude_none=True)
async def predict(
    body: schemas.PredictRequest, context: Ctx, _: Client, request: Request
) -> Response:
    """Score one comment: scores per label, flagged labels and the moderation decision."""
    limit = context.settings.max_text_chars
    check_text(body.text, limit)
    if body.context is not None and len(body.context) > limit:
        raise ApiError(422, f"context: over the limit of {limit} characters")
    comment = Comment(body.text, body.context, body.user_id, store=not body.do_not_store)
    [result] = await context.service.score(
        [comment], Channel.NATIVE, explain=body.explain, correlation_id=_correlation(request)
    )
    context.metrics.comments.labels(Channel.NATIVE.value).inc()
    return json_response(prediction(result))


def check_texts(texts: list[str], limit: int) -> None:
    """``check_text`` on every item, with one pass over the list when all of them are fine."""
    if all(map(str.strip, texts)) and max(map(len, texts), default=0) <= limit:
        return
    for i, text in enumerate(texts):
        check_text(text, limit, f"texts.{i}")


_DECIDED: dict[Decision, str] = {decision: decision.value for decision in Decision}
# A review's priority in a response; allow and reject have none (``exclude_none``).
_PRIORITY: dict[ReviewPriority | None, str] = {
    None: "",
    **{p: f',"priority":"{p.value}"' for p in ReviewPriority},
}


def batch_json(batch: ScoredBatch) -> str:
    """The ``schemas.BatchResponse`` of ``batch`` as JSON, from the fragments its events used.

    Equal, field for field, to ``BatchResponse.model_dump_json(exclude_none=True)`` (a unit
    test compares them), at a fraction of its cost for 1,000 predictions.
    """
    version = json_string(batch.model_version)
    # One prediction, as ``schemas.Prediction`` dumps it; the batch's model version is fixed.
    template = (
        '{"prediction_id":"%s","model_version":' + version.replace("%", "%%") + ","
        '"scores":%s,"flagged":%s,'
        '"moderation":{"decision":"%s","confidence":%s,"reasoning":"%s"%s}}'
    )
    m = batch.moderation
    decided = _DECIDED
    priority = _PRIORITY
    # Numbers and strings escaped in one call each, not one per prediction.
    confidences = pydantic_core.to_json(m.confidences).decode()[1:-1].split(",")
    predictions = ",".join(
        [
            template
            % (pid, scores, flagged, decided[decision], confidence, reasoning, priority[level])
            for pid, scores, flagged, decision, confidence, reasoning, level in zip(
                batch.prediction_ids,
                batch.scores_json,
                batch.flagged_json,
                m.decisions,
                confidences,
                escaped(m.reasonings),
                m.priorities,
                strict=True,
            )
        ]
    )
    return f'{{"model_version":{version},"count":{len(batch)},"predictions":[{predictions}]}}'


@router.post(
    "/predict/batch", response_model=schemas.BatchResponse, response_model_exclude_none=True
)
async def predict_batch(
    body: schemas.BatchRequest, context: Ctx, _: Client, request: Request
) -> Response:
    """Score up to TOXIC_MAX_BATCH comments in one call; one prediction id each."""
    most = context.settings.max_batch
    texts = body.texts
    if not texts:
        raise ApiError(422, "texts: give at least one comment")
    if len(texts) > most:
        raise ApiError(
            422, f"texts: {len(texts)} comments is over the limit of {most} (TOXIC_MAX_BATCH)"
        )
    check_texts(texts, context.settings.max_text_chars)
    count = len(texts)
    batch = await context.service.score_batch(
        texts,
        Channel.BATCH,
        user_ids=[body.user_id] * count,
        stores=[not body.do_not_store] * count,
        correlation_id=_correlation(request),
    )
    context.metrics.comments.labels(Channel.BATCH.value).inc(count)
    return Response(batch_json(batch), media_type="application/json")


@router.post("/feedback", status_code=202)
async def feedback(
    body: schemas.FeedbackRequest, context: Ctx, _: Client, request: Request
) -> schemas.FeedbackAccepted:
    """Say what the true labels of a scored comment are (or that its flagged labels were right)."""
    if body.correct:
        known = await context.service.known(body.prediction_id)
        labels = {label: label in known.flagged for label in LABELS}
    else:
        assert body.labels is not None
        labels = dict(body.labels)
    event = await context.service.feedback(
        body.prediction_id, labels, note=body.note, correlation_id=_correlation(request)
    )
    return schemas.FeedbackAccepted(
        feedback_id=event.feedback_id,
        prediction_id=event.prediction_id,
        model_version=event.model_version,
        true_labels=dict(event.true_labels),
    )


@router.get("/model")
async def model(context: Ctx, _: Client) -> schemas.ModelResponse:
    """The serving model: version, held-out metrics, thresholds and what it was trained on."""
    serving = context.slot.require()
    m = serving.manifest
    return schemas.ModelResponse(
        name=m.model_name,
        version=m.model_version,
        created_at=m.created_at,
        loaded_at=datetime.fromtimestamp(serving.loaded_at, UTC),
        thresholds=dict(m.thresholds),
        metrics=dict(m.metrics),
        training_data_digest=m.training_data_digest,
        row_counts=m.row_counts,
        mlflow_run_id=m.mlflow_run_id,
        sha256=m.sha256,
    )


@router.get("/examples/random")
async def random_example(context: Ctx, _: Client) -> schemas.ExampleResponse:
    """A random comment of the serving model's training set, with its own labels."""
    m = context.slot.require().manifest
    example = await context.examples.random(m.dataset_key, m.training_data_digest, m.model_version)
    return schemas.ExampleResponse(
        text=example.text,
        labels=example.labels,
        model_version=example.model_version,
        dataset_digest=example.dataset_digest,
    )


def _review(item: ReviewItem) -> schemas.ReviewOut:
    return schemas.ReviewOut(
        prediction_id=item.prediction_id,
        created_at=item.created_at,
        status=item.status,
        priority=item.priority,
        model_version=item.model_version,
        scores=dict(item.scores),
        flagged=list(item.flagged),
        text=item.text,
        context=item.context,
        resolved_at=item.resolved_at,
        moderator_action=item.moderator_action,
        true_labels=dict(item.true_labels),
    )


@router.get("/reviews")
async def reviews(
    context: Ctx,
    _: Moderator,
    status: Annotated[str, Query(pattern="^(pending|reviewed|all)$")] = "pending",
    priority: ReviewPriority | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> schemas.ReviewList:
    """The review queue: high priority first, then oldest first."""
    wanted = None if status == "all" else ReviewStatus(status)
    page = await context.reviews.list(wanted, priority, limit)
    return schemas.ReviewList(items=[_review(i) for i in page.items], more=page.more)


@router.get("/reviews/stats")
async def review_stats(context: Ctx, _: Moderator) -> schemas.ReviewStatsOut:
    """How many comments wait for review (by priority) and what moderators decided."""
    stats = await context.reviews.stats()
    return schemas.ReviewStatsOut(
        pending=stats.total_pending,
        pending_by_priority=stats.pending,
        reviewed=stats.reviewed,
        actions=stats.actions,
    )


@router.post("/reviews/{prediction_id}", status_code=202)
async def review_action(
    prediction_id: UUID, body: schemas.ReviewAction, context: Ctx, key: Moderator
) -> schemas.FeedbackAccepted:
    """A moderator approves or removes a comment, optionally with corrected labels and a note."""
    item = await context.reviews.get(prediction_id)
    if item is None:
        raise ApiError(404, f"prediction {prediction_id} is not in the review queue")
    if item.status is ReviewStatus.REVIEWED:
        raise ApiError(409, f"prediction {prediction_id} was already reviewed")
    labels: dict[Label, bool] = dict(body.labels)
    event = await context.service.moderate(prediction_id, body.action, labels, note=body.note)
    return schemas.FeedbackAccepted(
        feedback_id=event.feedback_id,
        prediction_id=event.prediction_id,
        model_version=event.model_version,
        true_labels=dict(event.true_labels),
    )


@router.post("/retrain", status_code=202)
async def retrain(
    context: Ctx, key: Admin, body: schemas.RetrainRequest | None = None
) -> schemas.RetrainAccepted:
    """Ask the training service for a new model (admin)."""
    who = f"api-key:{key.name}" if key is not None else "admin"
    event = context.service.retrain(who, body.note if body else None)
    return schemas.RetrainAccepted(request_id=event.request_id)
