"""What the services store in DynamoDB: one model per item shape, so all read and write alike.

Attribute names match the keys in ``shared.infra.spec`` (``prediction_id``, ``day``,
``created_at``, ``status``, ``queue_key``, ``expires_at``). Timestamps are stored as fixed-width
UTC ISO strings (``2026-01-31T12:00:00.000000Z``), so string order is time order in the range
keys; numbers go over the wire as DynamoDB's decimal strings; absent optional fields are left out
of the item (which keeps the GSIs sparse).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Final, Protocol, Self, Unpack
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
    FeedbackGiven,
    FeedbackSource,
    Label,
    ModeratorAction,
    PredictionMade,
    ReviewPriority,
)
from shared.errors import RetryableError

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb.type_defs import (
        AttributeValueTypeDef,
        BatchWriteItemInputTypeDef,
        BatchWriteItemOutputTypeDef,
        WriteRequestTypeDef,
    )

__all__ = [
    "BATCH_WRITE_LIMIT",
    "BatchWriteClient",
    "FeedbackItem",
    "PredictionItem",
    "ReviewItem",
    "ReviewStatus",
    "StoredItem",
    "batch_put",
    "batch_write",
    "from_attribute_map",
    "iso_utc",
    "to_attribute_map",
]

BATCH_WRITE_LIMIT: Final = 25  # requests per BatchWriteItem on AWS (moto takes more)
# DynamoDB numbers: 38 significant digits, magnitudes from 1e-130 to below 1e126.
_SMALLEST, _LARGEST = Decimal("1e-130"), Decimal("1e126")
_PRIORITY_RANK: Final = {ReviewPriority.HIGH: 0, ReviewPriority.MEDIUM: 1, ReviewPriority.LOW: 2}


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC ISO text: sorts as it reads, unlike isoformat() which drops zero micros."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


UtcTime = Annotated[AwareDatetime, PlainSerializer(iso_utc, return_type=str)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


# --- attribute values -------------------------------------------------------------------------


def _number(value: float | Decimal) -> str:
    number = value if isinstance(value, Decimal) else Decimal(repr(value))
    if not number.is_finite():
        raise ValueError(f"DynamoDB cannot store {value!r}")
    if abs(number) < _SMALLEST:
        return "0"  # below DynamoDB's smallest magnitude; only underflowing scores get here
    if abs(number) >= _LARGEST:
        raise ValueError(f"{value!r} is beyond DynamoDB's number range")
    return str(number)


def _attribute(value: object) -> AttributeValueTypeDef:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):  # before int: bool is an int
        return {"BOOL": value}
    if isinstance(value, int):
        return {"N": str(value)}
    if isinstance(value, float | Decimal):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, Mapping):
        return {"M": {str(key): _attribute(inner) for key, inner in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [_attribute(inner) for inner in value]}
    raise TypeError(f"cannot store a {type(value).__name__} in DynamoDB")


def _plain(value: Mapping[str, Any]) -> Any:
    if "S" in value:
        return value["S"]
    if "N" in value:
        return Decimal(value["N"])
    if "BOOL" in value:
        return value["BOOL"]
    if "NULL" in value:
        return None
    if "M" in value:
        return {key: _plain(inner) for key, inner in value["M"].items()}
    if "L" in value:
        return [_plain(inner) for inner in value["L"]]
    if "SS" in value:
        return set(value["SS"])
    if "NS" in value:
        return {Decimal(n) for n in value["NS"]}
    if "B" in value:
        return bytes(value["B"])
    raise ValueError(f"unsupported DynamoDB attribute value: {sorted(value)}")


def to_attribute_map(data: Mapping[str, object]) -> dict[str, AttributeValueTypeDef]:
    """Plain JSON-like data as a DynamoDB item; None values are left out."""
    return {key: _attribute(value) for key, value in data.items() if value is not None}


def from_attribute_map(item: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A DynamoDB item as plain data (numbers as Decimal)."""
    return {key: _plain(value) for key, value in item.items()}


# --- item shapes ------------------------------------------------------------------------------


class StoredItem(BaseModel):
    """Base of the item shapes: immutable, tolerant of attributes added by newer code."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    TABLE: ClassVar[str]
    """The table's name without the deployment prefix, as in ``InfraSpec.table``."""
    HASH_KEY: ClassVar[str]

    def to_item(self) -> dict[str, AttributeValueTypeDef]:
        return to_attribute_map(self.model_dump(mode="json", exclude_none=True))

    @classmethod
    def from_item(cls, item: Mapping[str, Mapping[str, Any]]) -> Self:
        return cls.model_validate(from_attribute_map(item))

    def key(self) -> dict[str, AttributeValueTypeDef]:
        """The primary key of this item, for get/update/delete."""
        return {self.HASH_KEY: self.to_item()[self.HASH_KEY]}


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


# --- batch writes -----------------------------------------------------------------------------


class BatchWriteClient(Protocol):
    """The one DynamoDB call batch writes need (the aiobotocore client has it)."""

    async def batch_write_item(
        self, **kwargs: Unpack[BatchWriteItemInputTypeDef]
    ) -> BatchWriteItemOutputTypeDef: ...


def _chunks(requests: Sequence[WriteRequestTypeDef]) -> Iterable[list[WriteRequestTypeDef]]:
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        yield list(requests[start : start + BATCH_WRITE_LIMIT])


async def batch_write(
    client: BatchWriteClient,
    table: str,
    requests: Sequence[WriteRequestTypeDef],
    *,
    max_attempts: int = 8,
    base_delay: float = 0.05,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Send write requests in batches of 25, retrying what DynamoDB leaves unprocessed.

    Raises RetryableError when some writes are still unprocessed after ``max_attempts`` calls.
    A batch may not name one key twice (AWS refuses it): callers deduplicate first.
    """
    for chunk in _chunks(requests):
        pending: Sequence[Any] = chunk
        for attempt in range(max_attempts):
            response = await client.batch_write_item(RequestItems={table: pending})
            pending = response.get("UnprocessedItems", {}).get(table, [])
            if not pending:
                break
            if attempt + 1 < max_attempts:
                # Unprocessed items mean throttling: back off with full jitter.
                cap = min(base_delay * 2**attempt, 5.0)
                await sleep(random.uniform(0, cap))  # noqa: S311 - jitter, not secrecy
        if pending:
            raise RetryableError(
                f"{len(pending)} writes to {table} still unprocessed after {max_attempts} attempts"
            )


async def batch_put(
    client: BatchWriteClient,
    table: str,
    items: Iterable[StoredItem],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Put many items into ``table`` (its full name) in batches of 25."""
    requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": i.to_item()}} for i in items]
    await batch_write(client, table, requests, max_attempts=max_attempts, sleep=sleep)
