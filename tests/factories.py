"""Valid events for tests: each factory makes one, and any field can be overridden by keyword.

    prediction_made()                              # an allowed comment, its text stored
    prediction_made(text="you idiot")              # text_length and text_sha256 follow
    prediction_made(decision=Decision.REVIEW)      # review_priority defaults to medium
    feedback_given(prediction_id=None, feedback_source=FeedbackSource.PERSPECTIVE, text="...")
    model_published(metrics=label_metrics_by_label(roc_auc=0.7))

Overrides are applied as given and the model validates them, so an override can also build an
invalid event on purpose (``pytest.raises(ValidationError)``). For the raw JSON of an event, use
``as_body(event)``; for a body with fields changed, ``body_with(event, field=value)``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any
from uuid import uuid4

from contracts import (
    LABELS,
    Channel,
    Decision,
    DriftBaseline,
    FeedbackGiven,
    FeedbackSource,
    Histogram,
    Label,
    LabelMetrics,
    ModelPublished,
    ModelRejected,
    ModeratorAction,
    PredictionMade,
    RetrainReason,
    RetrainRequested,
    ReviewPriority,
    RowCounts,
    Source,
    TrainingFailed,
    encode,
)
from contracts.envelope import Envelope
from shared.monitoring.view import MINUTE_COUNTERS, RollupView, Window

__all__ = [
    "EVENT_FACTORIES",
    "as_body",
    "body_with",
    "drift_baseline",
    "feedback_given",
    "histogram",
    "label_metrics",
    "label_metrics_by_label",
    "model_published",
    "model_rejected",
    "prediction_made",
    "retrain_requested",
    "scores",
    "sha256_of",
    "source",
    "training_failed",
]

DEFAULT_TEXT = "thanks for the thoughtful edit"
MODEL_VERSION = "7"


def sha256_of(text: str) -> str:
    """Hex sha256 of ``text`` as UTF-8, as events carry it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def source(service: str = "api", instance: str = "test-1") -> Source:
    return Source(service=service, instance=instance)


def scores(default: float = 0.01, **per_label: float) -> dict[Label, float]:
    """A score for every label: ``default``, except those named (``scores(toxic=0.9)``)."""
    return {label: per_label.get(label.value, default) for label in LABELS}


def label_metrics(**overrides: Any) -> LabelMetrics:
    fields: dict[str, Any] = {"roc_auc": 0.95, "pr_auc": 0.7, "f1": 0.65, "ece": 0.03}
    return LabelMetrics(**(fields | overrides))


def label_metrics_by_label(**overrides: Any) -> dict[Label, LabelMetrics]:
    """The same metrics for every label (``label_metrics_by_label(f1=0.2)``)."""
    return {label: label_metrics(**overrides) for label in LABELS}


def histogram(
    edges: tuple[float, ...] = (0.0, 0.5, 1.0), counts: tuple[int, ...] | None = None
) -> Histogram:
    """A histogram over ``edges``; the counts default to ten in every bin."""
    return Histogram(edges=edges, counts=counts if counts is not None else (10,) * (len(edges) - 1))


def drift_baseline(**overrides: Any) -> DriftBaseline:
    fields: dict[str, Any] = {
        "score_histograms": {label: histogram() for label in LABELS},
        "positive_rates": dict.fromkeys(LABELS, 0.05),
        "text_length_histogram": histogram(edges=(0.0, 100.0, 1_000.0, 100_000.0)),
        "rows": 30,
    }
    return DriftBaseline(**(fields | overrides))


def _envelope(service: str) -> dict[str, Any]:
    return {"source": source(service)}


def prediction_made(**overrides: Any) -> PredictionMade:
    """A scored comment, allowed, with its text stored.

    ``text_length`` and ``text_sha256`` follow an overridden ``text`` unless given too; with
    ``decision=Decision.REVIEW`` the ``review_priority`` defaults to medium unless given.
    """
    fields: dict[str, Any] = _envelope("api") | {
        "model_version": MODEL_VERSION,
        "scores": scores(),
        "decision": Decision.ALLOW,
        "text": DEFAULT_TEXT,
        "latency_ms": 4.2,
        "channel": Channel.NATIVE,
    }
    fields |= overrides
    text = fields["text"]
    fields.setdefault("text_length", len(text) if text is not None else len(DEFAULT_TEXT))
    fields.setdefault("text_sha256", sha256_of(text if text is not None else DEFAULT_TEXT))
    if fields["decision"] == Decision.REVIEW:
        fields.setdefault("review_priority", ReviewPriority.MEDIUM)
    return PredictionMade(**fields)


def feedback_given(**overrides: Any) -> FeedbackGiven:
    """A user saying a scored comment is not toxic."""
    fields: dict[str, Any] = _envelope("api") | {
        "prediction_id": uuid4(),
        "model_version": MODEL_VERSION,
        "true_labels": {Label.TOXIC: False},
        "feedback_source": FeedbackSource.USER,
    }
    return FeedbackGiven(**(fields | overrides))


def retrain_requested(**overrides: Any) -> RetrainRequested:
    """An admin asking for a new model by hand."""
    fields: dict[str, Any] = _envelope("api") | {
        "reason": RetrainReason.MANUAL,
        "requested_by": "admin@example.com",
    }
    return RetrainRequested(**(fields | overrides))


def model_published(**overrides: Any) -> ModelPublished:
    """A new champion with complete metrics, thresholds and drift baseline."""
    version = overrides.get("model_version", "8")
    fields: dict[str, Any] = _envelope("training") | {
        "model_name": "toxic-comment",
        "model_version": version,
        "artifact_uri": f"s3://toxic-models/models/{version}/model.skops",
        "sha256": sha256_of(f"model {version}"),
        "metrics": label_metrics_by_label(),
        "thresholds": dict.fromkeys(LABELS, 0.5),
        "training_data_digest": sha256_of("training rows"),
        "row_counts": RowCounts(train=800, validation=100, holdout=100),
        "mlflow_run_id": "0123456789abcdef",
        "baseline": drift_baseline(),
    }
    return ModelPublished(**(fields | overrides))


def model_rejected(**overrides: Any) -> ModelRejected:
    """A candidate that did worse than the champion on toxic."""
    fields: dict[str, Any] = _envelope("training") | {
        "model_name": "toxic-comment",
        "candidate_version": "9",
        "champion_version": "8",
        "candidate_metrics": label_metrics_by_label(roc_auc=0.90),
        "champion_metrics": label_metrics_by_label(roc_auc=0.95),
        "reasons": ("toxic roc_auc 0.900 < champion 0.950",),
    }
    return ModelRejected(**(fields | overrides))


def training_failed(**overrides: Any) -> TrainingFailed:
    """A run that could not load its data."""
    fields: dict[str, Any] = _envelope("training") | {
        "model_name": "toxic-comment",
        "stage": "load_data",
        "error": "no training rows found",
    }
    return TrainingFailed(**(fields | overrides))


# One factory per event type, for tests that go over every event.
EVENT_FACTORIES: dict[str, Callable[..., Envelope]] = {
    "PredictionMade": prediction_made,
    "FeedbackGiven": feedback_given,
    "RetrainRequested": retrain_requested,
    "ModelPublished": model_published,
    "ModelRejected": model_rejected,
    "TrainingFailed": training_failed,
}


def as_body(event: Envelope) -> dict[str, Any]:
    """The event as the JSON object that travels on the bus."""
    body: dict[str, Any] = json.loads(encode(event))
    return body


def body_with(event: Envelope, **changes: Any) -> str:
    """The event's bus body with top-level fields replaced; a value of ``...`` removes the field."""
    body = as_body(event)
    for key, value in changes.items():
        if value is Ellipsis:
            body.pop(key, None)
        else:
            body[key] = value
    return json.dumps(body)


def moderator_decision(prediction: PredictionMade, **overrides: Any) -> FeedbackGiven:
    """A moderator removing a queued comment as toxic; ``moderator_action`` etc. can be changed."""
    fields: dict[str, Any] = _envelope("api") | {
        "prediction_id": prediction.prediction_id,
        "model_version": prediction.model_version,
        "true_labels": {Label.TOXIC: True},
        "feedback_source": FeedbackSource.MODERATOR,
        "moderator_action": ModeratorAction.REMOVE,
    }
    return FeedbackGiven(**(fields | overrides))


__all__ += ["moderator_decision"]


def nothing_counted(window: Window) -> RollupView:
    """The dashboard view of ``window`` with nothing counted: every table all zeros."""
    return RollupView(
        built_at=window.now,
        window_hours=window.hours,
        window_days=window.days,
        minutes=window.table("minute", names=MINUTE_COUNTERS),
        hours=window.table("hour"),
        days=window.table("day"),
        live_hours=window.table("hour"),
    )
