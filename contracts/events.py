"""The six events of the platform (DESIGN §3)."""

from __future__ import annotations

from typing import Annotated, Literal, Self
from uuid import UUID, uuid4

from pydantic import Field, field_validator, model_validator

from contracts.envelope import Envelope, EventModel, NonEmpty, SchemaVersion, schema_version
from contracts.vocabulary import (
    LABELS,
    Channel,
    Decision,
    FeedbackSource,
    Label,
    ModeratorAction,
    RetrainReason,
    ReviewPriority,
)

__all__ = [
    "DriftBaseline",
    "FeedbackGiven",
    "Histogram",
    "LabelMetrics",
    "ModelPublished",
    "ModelRejected",
    "PredictionMade",
    "RetrainRequested",
    "RowCounts",
    "TrainingFailed",
]

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Text = Annotated[str, Field(max_length=100_000)]


def _all_labels(mapping: dict[Label, object], field: str) -> None:
    missing = [label.value for label in LABELS if label not in mapping]
    if missing:
        raise ValueError(f"{field} must name every label; missing: {', '.join(missing)}")


class PredictionMade(Envelope):
    """A comment was scored. One event per comment, also for each item of a batch."""

    event_type: Literal["PredictionMade"] = "PredictionMade"
    schema_version: SchemaVersion = schema_version(0)

    prediction_id: UUID = Field(default_factory=uuid4)
    model_version: NonEmpty
    scores: dict[Label, Probability]
    flagged: tuple[Label, ...] = ()
    decision: Decision
    review_priority: ReviewPriority | None = None
    text: Text | None = Field(
        default=None, description="Absent when the caller asked not to store it."
    )
    text_length: int = Field(ge=0)
    text_sha256: Sha256
    latency_ms: float = Field(ge=0.0)
    channel: Channel
    context: Text | None = None
    user_id: NonEmpty | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _all_labels(dict(self.scores), "scores")
        if (self.decision is Decision.REVIEW) != (self.review_priority is not None):
            raise ValueError("review_priority is set exactly when the decision is review")
        if self.text is not None and len(self.text) != self.text_length:
            raise ValueError("text_length must be the length of text")
        return self


class FeedbackGiven(Envelope):
    """Someone said what the true labels of a comment are."""

    event_type: Literal["FeedbackGiven"] = "FeedbackGiven"
    schema_version: SchemaVersion = schema_version(0)

    feedback_id: UUID = Field(default_factory=uuid4)
    prediction_id: UUID | None = Field(
        default=None, description="Absent only for Perspective suggestions on unscored text."
    )
    model_version: NonEmpty
    true_labels: dict[Label, bool] = Field(
        default_factory=dict, description="The labels given; labels not named were not judged."
    )
    # Named apart from the envelope's ``source`` (the publishing process).
    feedback_source: FeedbackSource
    moderator_action: ModeratorAction | None = None
    text: Text | None = Field(default=None, description="Present when the text may be stored.")
    note: Annotated[str, Field(max_length=2_000)] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.prediction_id is None and self.feedback_source is not FeedbackSource.PERSPECTIVE:
            raise ValueError("prediction_id is required unless the feedback_source is perspective")
        if self.prediction_id is None and self.text is None:
            raise ValueError("feedback without a prediction must carry its text")
        if (
            self.moderator_action is not None
            and self.feedback_source is not FeedbackSource.MODERATOR
        ):
            raise ValueError("moderator_action is only given by a moderator")
        if self.feedback_source is FeedbackSource.MODERATOR and self.moderator_action is None:
            raise ValueError("a moderator's feedback carries the moderator_action")
        if not self.true_labels and self.moderator_action is None:
            raise ValueError("true_labels must name at least one label")
        return self


class RetrainRequested(Envelope):
    """Someone or some rule asked for a new model."""

    event_type: Literal["RetrainRequested"] = "RetrainRequested"
    schema_version: SchemaVersion = schema_version(0)

    request_id: UUID = Field(default_factory=uuid4)
    reason: RetrainReason
    requested_by: NonEmpty
    note: Annotated[str, Field(max_length=2_000)] | None = None


class LabelMetrics(EventModel):
    """Quality of one label's head on held-out data."""

    roc_auc: Probability
    pr_auc: Probability
    f1: Probability
    ece: Probability


class Histogram(EventModel):
    """Counts between ascending bin edges (``len(counts) == len(edges) - 1``)."""

    edges: tuple[float, ...] = Field(min_length=2)
    counts: tuple[Annotated[int, Field(ge=0)], ...]

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if len(self.counts) != len(self.edges) - 1:
            raise ValueError("a histogram has one count fewer than it has edges")
        if any(b <= a for a, b in zip(self.edges, self.edges[1:], strict=False)):
            raise ValueError("histogram edges must be strictly ascending")
        return self


class DriftBaseline(EventModel):
    """What the validation rows looked like, for monitoring to compare live traffic against."""

    score_histograms: dict[Label, Histogram]
    positive_rates: dict[Label, Probability]
    text_length_histogram: Histogram
    rows: int = Field(ge=1)

    @model_validator(mode="after")
    def _complete(self) -> Self:
        _all_labels(dict(self.score_histograms), "score_histograms")
        _all_labels(dict(self.positive_rates), "positive_rates")
        return self


class RowCounts(EventModel):
    train: int = Field(ge=0)
    validation: int = Field(ge=0)
    holdout: int = Field(ge=0)
    feedback: int = Field(default=0, ge=0, description="Rows from feedback and moderators.")


class _TrainingOutcome(Envelope):
    model_name: NonEmpty
    request_ids: tuple[UUID, ...] = Field(
        default=(), description="The RetrainRequested this run covered."
    )


class ModelPublished(_TrainingOutcome):
    """A new champion: every API replica loads it."""

    event_type: Literal["ModelPublished"] = "ModelPublished"
    schema_version: SchemaVersion = schema_version(0)

    model_version: NonEmpty
    artifact_uri: NonEmpty
    sha256: Sha256
    format: Literal["skops"] = "skops"
    metrics: dict[Label, LabelMetrics]
    thresholds: dict[Label, Probability]
    training_data_digest: Sha256
    row_counts: RowCounts
    mlflow_run_id: NonEmpty | None = None
    baseline: DriftBaseline

    @model_validator(mode="after")
    def _complete(self) -> Self:
        _all_labels(dict(self.metrics), "metrics")
        _all_labels(dict(self.thresholds), "thresholds")
        return self


class ModelRejected(_TrainingOutcome):
    """A candidate failed the quality gate; the champion stays."""

    event_type: Literal["ModelRejected"] = "ModelRejected"
    schema_version: SchemaVersion = schema_version(0)

    candidate_version: NonEmpty
    champion_version: NonEmpty | None = None
    candidate_metrics: dict[Label, LabelMetrics]
    champion_metrics: dict[Label, LabelMetrics]
    reasons: tuple[NonEmpty, ...] = Field(min_length=1)
    mlflow_run_id: NonEmpty | None = None


class TrainingFailed(_TrainingOutcome):
    """A training run ended in an error; nothing was published."""

    event_type: Literal["TrainingFailed"] = "TrainingFailed"
    schema_version: SchemaVersion = schema_version(0)

    stage: NonEmpty
    error: Annotated[str, Field(min_length=1, max_length=4_000)]

    @field_validator("error")
    @classmethod
    def _one_line_start(cls, value: str) -> str:
        return value.strip() or "unknown error"
