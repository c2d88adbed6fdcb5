"""What the services store in DynamoDB: one model per item shape, so all read and write alike.

Attribute names match the keys in ``shared.infra.spec`` (``prediction_id``, ``day``,
``created_at``, ``status``, ``queue_key``, ``expires_at``). Timestamps are stored as fixed-width
UTC ISO strings (``2026-01-31T12:00:00.000000Z``), so string order is time order in the range
keys; numbers go over the wire as DynamoDB's decimal strings; absent optional fields are left out
of the item (which keeps the GSIs sparse). The conversion itself and batched writes are in
``shared.dynamo``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Literal, Self
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    computed_field,
    field_validator,
    model_validator,
)

from contracts import (
    Channel,
    Decision,
    DriftBaseline,
    FeedbackGiven,
    FeedbackSource,
    Label,
    LabelMetrics,
    ModelPublished,
    ModeratorAction,
    PredictionMade,
    ReviewPriority,
    RowCounts,
)
from shared.dynamo import from_attribute_map, iso_utc, to_attribute_map

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import AttributeValueTypeDef

__all__ = [
    "FeedbackItem",
    "ModelItem",
    "PredictionItem",
    "ReviewItem",
    "ReviewStatus",
    "StoredItem",
]

_PRIORITY_RANK: Final = {ReviewPriority.HIGH: 0, ReviewPriority.MEDIUM: 1, ReviewPriority.LOW: 2}

UtcTime = Annotated[AwareDatetime, PlainSerializer(iso_utc, return_type=str)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class StoredItem(BaseModel):
    """Base of the item shapes: immutable, tolerant of attributes added by newer code."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TABLE: ClassVar[str]
    """The table's name without the deployment prefix, as in ``InfraSpec.table``."""
    HASH_KEY: ClassVar[str]
    RANGE_KEY: ClassVar[str | None] = None

    def to_item(self) -> dict[str, AttributeValueTypeDef]:
        return to_attribute_map(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_item(cls, item: Mapping[str, Mapping[str, Any]]) -> Self:
        return cls.model_validate(from_attribute_map(item))

    def key(self) -> dict[str, AttributeValueTypeDef]:
        """The primary key of this item (hash, and range when the table has one)."""
        item = self.to_item()
        names = (self.HASH_KEY,) if self.RANGE_KEY is None else (self.HASH_KEY, self.RANGE_KEY)
        return {name: item[name] for name in names}


class _Dated(StoredItem):
    created_at: UtcTime

    @field_validator("created_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def day(self) -> str:
        """The UTC day of ``created_at``: the hash key of the ``by_time`` index."""
        return self.created_at.strftime("%Y-%m-%d")


class PredictionItem(_Dated):
    """One scored comment in the ``predictions`` table; expires at ``expires_at``."""

    TABLE: ClassVar[str] = "predictions"
    HASH_KEY: ClassVar[str] = "prediction_id"

    prediction_id: UUID
    model_version: str
    scores: dict[Label, Probability]
    flagged: tuple[Label, ...] = ()
    decision: Decision
    review_priority: ReviewPriority | None = None
    text: str | None = None
    text_length: int = Field(ge=0)
    text_sha256: str
    latency_ms: float = Field(ge=0.0)
    channel: Channel
    context: str | None = None
    user_id: str | None = None
    expires_at: int = Field(description="Epoch seconds; DynamoDB's TTL deletes the item after.")

    @classmethod
    def from_event(cls, event: PredictionMade, *, retention_seconds: int) -> PredictionItem:
        """The item the logger writes for a prediction, kept ``retention_seconds``."""
        return cls(
            prediction_id=event.prediction_id,
            created_at=event.occurred_at,
            model_version=event.model_version,
            scores=dict(event.scores),
            flagged=event.flagged,
            decision=event.decision,
            review_priority=event.review_priority,
            text=event.text,
            text_length=event.text_length,
            text_sha256=event.text_sha256,
            latency_ms=event.latency_ms,
            channel=event.channel,
            context=event.context,
            user_id=event.user_id,
            expires_at=int(event.occurred_at.timestamp()) + retention_seconds,
        )


class FeedbackItem(_Dated):
    """Feedback or a moderator's labels in the ``feedback`` table."""

    TABLE: ClassVar[str] = "feedback"
    HASH_KEY: ClassVar[str] = "feedback_id"

    feedback_id: UUID
    prediction_id: UUID | None = None
    model_version: str
    true_labels: dict[Label, bool] = Field(default_factory=dict)
    feedback_source: FeedbackSource
    moderator_action: ModeratorAction | None = None
    text: str | None = None
    note: str | None = None

    @classmethod
    def from_event(cls, event: FeedbackGiven) -> FeedbackItem:
        return cls(
            feedback_id=event.feedback_id,
            prediction_id=event.prediction_id,
            created_at=event.occurred_at,
            model_version=event.model_version,
            true_labels=dict(event.true_labels),
            feedback_source=event.feedback_source,
            moderator_action=event.moderator_action,
            text=event.text,
            note=event.note,
        )


class ReviewStatus(StrEnum):
    PENDING = "pending"
    REVIEWED = "reviewed"


class ReviewItem(StoredItem):
    """A comment in the moderation queue (``reviews`` table), pending until a moderator decides."""

    TABLE: ClassVar[str] = "reviews"
    HASH_KEY: ClassVar[str] = "prediction_id"

    prediction_id: UUID
    created_at: UtcTime
    status: ReviewStatus = ReviewStatus.PENDING
    priority: ReviewPriority
    model_version: str
    scores: dict[Label, Probability]
    flagged: tuple[Label, ...] = ()
    decision: Decision = Decision.REVIEW
    text: str | None = None
    context: str | None = None
    resolved_at: UtcTime | None = None
    resolved_by: str | None = None
    moderator_action: ModeratorAction | None = None
    true_labels: dict[Label, bool] = Field(default_factory=dict)
    feedback_id: UUID | None = None

    @field_validator("created_at", "resolved_at")
    @classmethod
    def _to_utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else value.astimezone(UTC)

    @model_validator(mode="after")
    def _resolution_matches_status(self) -> Self:
        resolved = self.resolved_at is not None and self.moderator_action is not None
        if (self.status is ReviewStatus.REVIEWED) != resolved:
            raise ValueError("a reviewed item has resolved_at and moderator_action; pending none")
        return self

    @computed_field  # type: ignore[prop-decorator]
    @property
    def queue_key(self) -> str:
        """Range key of ``by_status``: higher priority first, then oldest first."""
        return f"{_PRIORITY_RANK[self.priority]}#{iso_utc(self.created_at)}"

    @classmethod
    def from_prediction(cls, event: PredictionMade) -> ReviewItem:
        """The pending review of a prediction whose decision was ``review``."""
        if event.review_priority is None:
            raise ValueError("only a prediction decided 'review' enters the review queue")
        return cls(
            prediction_id=event.prediction_id,
            created_at=event.occurred_at,
            priority=event.review_priority,
            model_version=event.model_version,
            scores=dict(event.scores),
            flagged=event.flagged,
            decision=event.decision,
            text=event.text,
            context=event.context,
        )


class ModelItem(StoredItem):
    """A published model in the ``models`` table: one partition per model name, oldest first.

    The drift baseline is kept as its JSON text: it is read whole, never queried, and DynamoDB's
    nested attribute form would make it several times larger.
    """

    TABLE: ClassVar[str] = "models"
    HASH_KEY: ClassVar[str] = "pk"
    RANGE_KEY: ClassVar[str] = "sk"

    model_name: str
    model_version: str
    outcome: Literal["published"] = "published"
    published_at: UtcTime
    event_id: UUID
    artifact_uri: str
    sha256: str
    format: str
    metrics: dict[Label, LabelMetrics]
    thresholds: dict[Label, Probability]
    training_data_digest: str
    row_counts: RowCounts
    mlflow_run_id: str | None = None
    request_ids: tuple[UUID, ...] = ()
    baseline_json: str

    @field_validator("published_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return f"model#{self.model_name}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        """Publication time, then version: a partition lists a model's history in order."""
        return f"{iso_utc(self.published_at)}#{self.model_version}"

    @property
    def baseline(self) -> DriftBaseline:
        return DriftBaseline.model_validate_json(self.baseline_json)

    @classmethod
    def from_event(cls, event: ModelPublished) -> ModelItem:
        return cls(
            model_name=event.model_name,
            model_version=event.model_version,
            published_at=event.occurred_at,
            event_id=event.event_id,
            artifact_uri=event.artifact_uri,
            sha256=event.sha256,
            format=event.format,
            metrics=dict(event.metrics),
            thresholds=dict(event.thresholds),
            training_data_digest=event.training_data_digest,
            row_counts=event.row_counts,
            mlflow_run_id=event.mlflow_run_id,
            request_ids=event.request_ids,
            baseline_json=event.baseline.model_dump_json(),
        )
