"""What the API reads from storage: stored predictions, the review queue, training examples.

The logger writes predictions and review items; the API only reads them here. Its own writes are
events, never table writes, so one service owns each table.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol
from uuid import UUID

from contracts import LABELS, Label, ReviewPriority
from services.api.service import KnownPrediction
from shared.errors import NotFoundError
from shared.items import PredictionItem, ReviewItem, ReviewStatus

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

    from shared.artifacts import ArtifactStore

__all__ = [
    "DynamoPredictions",
    "DynamoReviews",
    "Example",
    "Examples",
    "ReviewPage",
    "ReviewStats",
    "Reviews",
]

_RANK: Final = {ReviewPriority.HIGH: "0", ReviewPriority.MEDIUM: "1", ReviewPriority.LOW: "2"}


class DynamoPredictions:
    """Predictions the logger stored, by id (read consistently: it may have just written)."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    async def get(self, prediction_id: UUID) -> KnownPrediction | None:
        response = await self._dynamodb.get_item(
            TableName=self._table,
            Key={"prediction_id": {"S": str(prediction_id)}},
            ConsistentRead=True,
        )
        if "Item" not in response:
            return None
        item = PredictionItem.from_item(response["Item"])
        return KnownPrediction(item.prediction_id, item.model_version, item.text, item.flagged)


@dataclass(frozen=True)
class ReviewPage:
    items: list[ReviewItem]
    more: bool


@dataclass(frozen=True)
class ReviewStats:
    pending: dict[ReviewPriority, int]
    reviewed: int
    actions: dict[str, int] = field(default_factory=dict)

    @property
    def total_pending(self) -> int:
        return sum(self.pending.values())


class Reviews(Protocol):
    async def list(
        self, status: ReviewStatus | None, priority: ReviewPriority | None, limit: int
    ) -> ReviewPage: ...

    async def get(self, prediction_id: UUID) -> ReviewItem | None: ...

    async def stats(self) -> ReviewStats: ...


class DynamoReviews:
    """The review queue through the ``by_status`` index: high priority first, then oldest first."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    async def _query(
        self, status: ReviewStatus, priority: ReviewPriority | None, limit: int
    ) -> ReviewPage:
        condition = "#s = :s"
        values: dict[str, Any] = {":s": {"S": status.value}}
        if priority is not None:
            condition += " AND begins_with(queue_key, :p)"
            values[":p"] = {"S": f"{_RANK[priority]}#"}
        items: list[ReviewItem] = []
        start: dict[str, Any] | None = None
        while len(items) <= limit:
            query: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "by_status",
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": values,
                "Limit": limit + 1 - len(items),
            }
            if start:
                query["ExclusiveStartKey"] = start
            page = await self._dynamodb.query(**query)
            items.extend(ReviewItem.from_item(item) for item in page.get("Items", []))
            start = page.get("LastEvaluatedKey")
            if not start:
                break
        return ReviewPage(items=items[:limit], more=len(items) > limit)

    async def list(
        self, status: ReviewStatus | None, priority: ReviewPriority | None, limit: int
    ) -> ReviewPage:
        """Items of ``status`` (None: pending first, then reviewed), at most ``limit``."""
        if status is not None:
            return await self._query(status, priority, limit)
        pending = await self._query(ReviewStatus.PENDING, priority, limit)
        if pending.more or len(pending.items) == limit:
            return ReviewPage(pending.items, more=True)
        reviewed = await self._query(ReviewStatus.REVIEWED, priority, limit - len(pending.items))
        return ReviewPage(pending.items + reviewed.items, more=reviewed.more)

    async def get(self, prediction_id: UUID) -> ReviewItem | None:
        response = await self._dynamodb.get_item(
            TableName=self._table,
            Key={"prediction_id": {"S": str(prediction_id)}},
            ConsistentRead=True,
        )
        return ReviewItem.from_item(response["Item"]) if "Item" in response else None

    async def _count(self, status: ReviewStatus, priority: ReviewPriority | None) -> int:
        condition = "#s = :s"
        values: dict[str, Any] = {":s": {"S": status.value}}
        if priority is not None:
            condition += " AND begins_with(queue_key, :p)"
            values[":p"] = {"S": f"{_RANK[priority]}#"}
        total = 0
        paginator = self._dynamodb.get_paginator("query")
        async for page in paginator.paginate(
            TableName=self._table,
            IndexName="by_status",
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=values,
            Select="COUNT",
        ):
            total += page.get("Count", 0)
        return total

    async def stats(self) -> ReviewStats:
        pending = {p: await self._count(ReviewStatus.PENDING, p) for p in ReviewPriority}
        actions: Counter[str] = Counter()
        paginator = self._dynamodb.get_paginator("query")
        async for page in paginator.paginate(
            TableName=self._table,
            IndexName="by_status",
            KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status", "#a": "moderator_action"},
            ExpressionAttributeValues={":s": {"S": ReviewStatus.REVIEWED.value}},
            ProjectionExpression="#a",
        ):
            actions.update(item.get("moderator_action", {}).get("S", "?") for item in page["Items"])
        return ReviewStats(pending=pending, reviewed=sum(actions.values()), actions=dict(actions))


@dataclass(frozen=True)
class Example:
    text: str
    labels: dict[Label, bool]
    model_version: str
    dataset_digest: str


class Examples:
    """Random comments from the serving model's training-set snapshot, with their own labels.

    The snapshot (``datasets/<digest>.csv.gz``) is read once per digest and kept in memory.
    """

    def __init__(self, store: ArtifactStore, rng: random.Random | None = None) -> None:
        self._store = store
        self._rng = rng or random.Random()  # noqa: S311 - choosing an example, not a secret
        self._lock = asyncio.Lock()
        self._digest: str | None = None
        self._rows: list[tuple[str, dict[Label, bool]]] = []

    async def random(self, dataset_key: str | None, digest: str, model_version: str) -> Example:
        if dataset_key is None:
            raise NotFoundError(f"model {model_version} has no training-set snapshot")
        async with self._lock:  # one download per snapshot, however many ask at once
            if self._digest != digest:
                data = await self._store.get_bytes(dataset_key)
                self._rows = await asyncio.to_thread(_read_rows, data)
                self._digest = digest
        if not self._rows:
            raise NotFoundError(f"the training-set snapshot of {model_version} has no rows")
        text, labels = self._rng.choice(self._rows)
        return Example(text, labels, model_version, digest)


def _read_rows(csv_gz: bytes) -> list[tuple[str, dict[Label, bool]]]:
    # A training comment may be longer than the csv module's default field limit (128 KiB).
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    reader = csv.DictReader(io.StringIO(gzip.decompress(csv_gz).decode("utf-8")))
    rows: list[tuple[str, dict[Label, bool]]] = []
    for row in reader:
        labels = {
            label: row[label.value].strip() in {"1", "1.0", "true", "True"}
            for label in LABELS
            if row.get(label.value, "").strip() not in {"", "nan", "NaN"}
        }
        rows.append((row.get("comment_text", ""), labels))
    return rows
