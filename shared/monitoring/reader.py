"""Reading what the monitoring and the logger keep: every read one Query or GetItem, never a scan.

The monitoring's rules and the dashboard read through :class:`MonitoringReader`; the DynamoDB
adapter is :class:`DynamoMonitoringReader` and the in-memory fake is in ``tests/fakes``. Lists
are bounded: the newest feedback walks the ``by_time`` index day by day (newest first) until it
has ``limit`` rows or has looked back ``days`` days; pending reviews are one page of the
``by_status`` index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.dynamo import from_attribute_map
from shared.infra import InfraSpec
from shared.items import FeedbackItem, ModelItem, ReviewItem, ReviewStatus
from shared.monitoring.records import (
    ActiveAlert,
    BaselineItem,
    CurrentModel,
    FiringRecord,
    PipelineHealth,
    RetrainClaim,
    TrainingOutcomeItem,
    ViewItem,
)
from shared.monitoring.rollups import Counters

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoMonitoringReader", "ModelHistoryEntry", "MonitoringReader"]

ModelHistoryEntry = ModelItem | TrainingOutcomeItem


class MonitoringReader(Protocol):
    async def rollups(
        self, granularity: str, model_version: str, first: str, last: str
    ) -> list[tuple[str, Counters]]:
        """(bucket, counters) of one granularity and version, ``first`` to ``last`` inclusive."""
        ...

    async def baseline(self, model_version: str) -> BaselineItem | None: ...

    async def current_model(self) -> CurrentModel | None: ...

    async def view(self) -> ViewItem | None:
        """The default view as the monitoring last stored it (still encoded)."""
        ...

    async def active_alerts(self) -> list[ActiveAlert]: ...

    async def firings(self, limit: int) -> list[FiringRecord]:
        """The newest ``limit`` entries of the alert history, newest first."""
        ...

    async def retrain_claims(self) -> list[RetrainClaim]: ...

    async def pipeline_health(self) -> PipelineHealth | None: ...

    async def model_history(self, model_name: str, limit: int) -> list[ModelHistoryEntry]:
        """Published, rejected and failed, newest first."""
        ...

    async def recent_feedback(self, limit: int, days: int) -> list[FeedbackItem]:
        """The newest ``limit`` feedback rows of the last ``days`` days, newest first."""
        ...

    async def pending_reviews(self, limit: int) -> list[ReviewItem]:
        """Pending review items, highest priority and oldest first."""
        ...


def _items(response: Any) -> list[dict[str, Any]]:
    return [from_attribute_map(raw) for raw in response.get("Items", [])]


class DynamoMonitoringReader:
    """The rollups, alerts, models, feedback and reviews tables of one deployment."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        spec: InfraSpec,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._dynamodb = dynamodb
        self._rollups = spec.table("rollups").name
        self._alerts = spec.table("alerts").name
        self._models = spec.table("models").name
        self._feedback = spec.table(FeedbackItem.TABLE).name
        self._reviews = spec.table(ReviewItem.TABLE).name
        self._now = clock

    async def rollups(
        self,
        granularity: str,
        model_version: str,
        first: str,
        last: str,
        attributes: Sequence[str] | None = None,
    ) -> list[tuple[str, Counters]]:
        found: list[tuple[str, Counters]] = []
        query: dict[str, Any] = {
            "TableName": self._rollups,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": f"{granularity}#{model_version}"},
                ":first": {"S": first},
                ":last": {"S": last},
            },
        }
        if attributes is not None:
            # A day of minute items is ~1,440 items of ~100 counters: reading a dozen of them
            # is a fraction of the read (and of the pages it takes).
            names = {f"#a{i}": name for i, name in enumerate(["pk", "sk", *attributes])}
            query["ProjectionExpression"] = ", ".join(names)
            query["ExpressionAttributeNames"] = names
        while True:
            response = await self._dynamodb.query(**query)
            for item in _items(response):
                bucket = str(item.pop("sk"))
                item.pop("pk")
                item.pop("expires_at", None)
                found.append((bucket, item))
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def _get(self, table: str, pk: str, sk: str) -> dict[str, Any] | None:
        response = await self._dynamodb.get_item(
            TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
        )
        raw = response.get("Item")
        return None if raw is None else from_attribute_map(raw)

    async def _partition(
        self, table: str, pk: str, *, limit: int | None = None, newest_first: bool = False
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": pk}},
            "ScanIndexForward": not newest_first,
        }
        if limit is not None:
            query["Limit"] = limit
        found: list[dict[str, Any]] = []
        while True:
            response = await self._dynamodb.query(**query)
            found.extend(_items(response))
            if "LastEvaluatedKey" not in response or (limit is not None and len(found) >= limit):
                return found if limit is None else found[:limit]
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def baseline(self, model_version: str) -> BaselineItem | None:
        item = await self._get(self._rollups, f"baseline#{model_version}", "baseline")
        return None if item is None else BaselineItem.model_validate(item)

    async def current_model(self) -> CurrentModel | None:
        item = await self._get(self._rollups, "model#current", "current")
        return None if item is None else CurrentModel.model_validate(item)

    async def view(self) -> ViewItem | None:
        item = await self._get(self._rollups, "view#default", "current")
        return None if item is None else ViewItem.model_validate(item)

    async def active_alerts(self) -> list[ActiveAlert]:
        return [
            ActiveAlert.model_validate(i) for i in await self._partition(self._alerts, "active")
        ]

    async def firings(self, limit: int) -> list[FiringRecord]:
        found = await self._partition(self._alerts, "firings", limit=limit, newest_first=True)
        return [FiringRecord.model_validate(i) for i in found]

    async def retrain_claims(self) -> list[RetrainClaim]:
        return [
            RetrainClaim.model_validate(i) for i in await self._partition(self._alerts, "retrain")
        ]

    async def pipeline_health(self) -> PipelineHealth | None:
        item = await self._get(self._alerts, "health", "pipeline")
        return None if item is None else PipelineHealth.model_validate(item)

    async def model_history(self, model_name: str, limit: int) -> list[ModelHistoryEntry]:
        found = await self._partition(
            self._models, f"model#{model_name}", limit=limit, newest_first=True
        )
        return [
            ModelItem.model_validate(i)
            if i.get("outcome", "published") == "published"
            else TrainingOutcomeItem.model_validate(i)
            for i in found
        ]

    async def recent_feedback(self, limit: int, days: int) -> list[FeedbackItem]:
        rows: list[FeedbackItem] = []
        today = self._now().astimezone(UTC).date()
        for back in range(days):
            day = (today - timedelta(days=back)).isoformat()
            query: dict[str, Any] = {
                "TableName": self._feedback,
                "IndexName": "by_time",
                "KeyConditionExpression": "#day = :day",
                "ExpressionAttributeNames": {"#day": "day"},
                "ExpressionAttributeValues": {":day": {"S": day}},
                "ScanIndexForward": False,
                "Limit": limit - len(rows),
            }
            response = await self._dynamodb.query(**query)
            rows.extend(FeedbackItem.model_validate(i) for i in _items(response))
            if len(rows) >= limit:
                break
        return rows[:limit]

    async def pending_reviews(self, limit: int) -> list[ReviewItem]:
        response = await self._dynamodb.query(
            TableName=self._reviews,
            IndexName="by_status",
            KeyConditionExpression="#status = :status",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":status": {"S": ReviewStatus.PENDING.value}},
            Limit=limit,
        )
        return [ReviewItem.model_validate(i) for i in _items(response)]
