"""Where the monitoring reads and writes: the port its handlers use and the DynamoDB adapter.

``commit`` is the one write of the rollups: a single TransactWriteItems holding, per event, a
conditional Put of its marker in ``processed`` (``monitoring#<event_id>``, only when absent) and,
per rollup item, one Update that ADDs the batch's summed counters. All or nothing: when a marker
exists (the event was counted before, by this or a competing consumer) DynamoDB cancels the
whole transaction and says which items failed their condition; ``commit`` then raises
:class:`AlreadyCounted` naming those events, and nothing was written. Any other cancellation
(a conflict with a concurrent transaction on a hot item, throttling) is a RetryableError.

Markers expire (TTL) after 14 days, SQS's longest message retention: no copy of an event can
still be delivered once its marker is gone.

The in-memory fake with the same rules is ``tests/fakes/monitoring_store.py``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol
from uuid import UUID

from botocore.exceptions import ClientError

from contracts import Label
from shared.dynamo import iso_utc
from shared.errors import RetryableError
from shared.infra import InfraSpec
from shared.items import PredictionItem
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
from shared.monitoring.rollups import BucketKey, Counters, expires_at

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import TransactWriteItemTypeDef

__all__ = [
    "MARKER_PREFIX",
    "AlertStore",
    "AlreadyCounted",
    "DynamoMonitoringStore",
    "MonitoringStore",
    "ViewStore",
    "marker_key",
]

MARKER_PREFIX: Final = "monitoring#"
MARKER_RETENTION_SECONDS: Final = 14 * 24 * 3600


def marker_key(event_id: UUID) -> str:
    """The ``processed`` table's key of the marker saying ``event_id`` was counted."""
    return f"{MARKER_PREFIX}{event_id}"


class AlreadyCounted(Exception):  # noqa: N818 - an outcome the batcher handles, not a failure
    """A commit found markers of these events: nothing was written."""

    def __init__(self, event_ids: frozenset[UUID]) -> None:
        super().__init__(f"{len(event_ids)} events were counted before")
        self.event_ids = event_ids


class MonitoringStore(Protocol):
    async def commit(
        self, event_ids: Sequence[UUID], increments: Mapping[BucketKey, Counters]
    ) -> None:
        """Mark the events counted and add the increments, all at once.

        Raises AlreadyCounted (nothing written) when some of the events were counted before.
        """
        ...

    async def prediction_flags(self, prediction_id: UUID) -> tuple[Label, ...] | None:
        """The labels the logged prediction flagged; None when it is not stored (yet)."""
        ...

    async def put_baseline(self, item: BaselineItem) -> bool:
        """Store a version's baseline unless one is stored; True when written now."""
        ...

    async def put_current_model(self, item: CurrentModel) -> bool:
        """Make ``item`` the current model unless a newer publication is; True when written."""
        ...

    async def put_outcome(self, item: TrainingOutcomeItem) -> bool:
        """Record a rejected or failed run unless recorded; True when written now."""
        ...


class AlertStore(Protocol):
    """The alerts table, as the rule evaluation writes it."""

    async def claim_retrain(self, claim: RetrainClaim, cooldown_start: datetime) -> bool:
        """Take the retrain for ``claim.reason`` unless one was requested after
        ``cooldown_start``; True when this caller may publish it."""
        ...

    async def release_retrain(self, claim: RetrainClaim) -> None:
        """Give back ``claim`` (its request was not sent), unless another replaced it."""
        ...

    async def put_active(self, alert: ActiveAlert) -> None: ...

    async def clear_active(self, rule: str) -> None: ...

    async def add_firing(self, record: FiringRecord) -> None: ...

    async def put_health(self, health: PipelineHealth) -> None: ...


class ViewStore(Protocol):
    """Where the monitoring keeps the dashboard's materialized view."""

    async def put_view(self, item: ViewItem) -> bool:
        """Store ``item`` unless a view built later is stored; True when written."""
        ...


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class DynamoMonitoringStore:
    """The rollups, processed-markers and predictions tables of one deployment."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        spec: InfraSpec,
        *,
        marker_retention_seconds: int = MARKER_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dynamodb = dynamodb
        self._rollups = spec.table("rollups").name
        self._processed = spec.table("processed").name
        self._predictions = spec.table(PredictionItem.TABLE).name
        self._alerts = spec.table("alerts").name
        self._models = spec.table("models").name
        self._retention = marker_retention_seconds
        self._clock = clock

    def _marker(self, event_id: UUID, expires_at: int) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._processed,
                "Item": {
                    "pk": {"S": marker_key(event_id)},
                    "expires_at": {"N": str(expires_at)},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _update(self, key: BucketKey, counters: Counters) -> TransactWriteItemTypeDef:
        names = sorted(counters)
        # Plain digits: a quantized zero would otherwise go out as "0E-9".
        values: dict[str, Any] = {
            f":c{i}": {"N": format(counters[name].normalize(), "f")} for i, name in enumerate(names)
        }
        expression = "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names)))
        expiry = expires_at(key)
        if expiry is not None:
            expression += " SET expires_at = if_not_exists(expires_at, :expires)"
            values[":expires"] = {"N": str(expiry)}
        return {
            "Update": {
                "TableName": self._rollups,
                "Key": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
                "UpdateExpression": expression,
                "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(names)},
                "ExpressionAttributeValues": values,
            }
        }

    async def commit(
        self, event_ids: Sequence[UUID], increments: Mapping[BucketKey, Counters]
    ) -> None:
        marker_expiry = int(self._clock()) + self._retention
        items = [self._marker(event_id, marker_expiry) for event_id in event_ids]
        for key, counters in increments.items():
            nonzero = {name: delta for name, delta in counters.items() if delta}
            if nonzero:
                items.append(self._update(key, nonzero))
        try:
            await self._dynamodb.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if _code(exc) != "TransactionCanceledException":
                raise
            reasons: list[Any] = list(exc.response.get("CancellationReasons", []))
            counted = frozenset(
                event_id
                for event_id, reason in zip(event_ids, reasons, strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            )
            if counted:
                raise AlreadyCounted(counted) from None
            codes = sorted({str(r.get("Code")) for r in reasons if r.get("Code") != "None"})
            raise RetryableError(f"rollup transaction cancelled: {', '.join(codes)}") from exc

    async def prediction_flags(self, prediction_id: UUID) -> tuple[Label, ...] | None:
        response = await self._dynamodb.get_item(
            TableName=self._predictions,
            Key={PredictionItem.HASH_KEY: {"S": str(prediction_id)}},
            ProjectionExpression="#id, flagged",
            ExpressionAttributeNames={"#id": PredictionItem.HASH_KEY},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            return None
        return tuple(Label(value["S"]) for value in item.get("flagged", {}).get("L", []))

    async def _put_unless(self, table: str, item: Any, condition: str, **values: Any) -> bool:
        request: dict[str, Any] = {
            "TableName": table,
            "Item": item.to_item(),
            "ConditionExpression": condition,
        }
        if values:
            request["ExpressionAttributeValues"] = values
        try:
            await self._dynamodb.put_item(**request)
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    async def put_baseline(self, item: BaselineItem) -> bool:
        return await self._put_unless(self._rollups, item, "attribute_not_exists(pk)")

    async def put_current_model(self, item: CurrentModel) -> bool:
        return await self._put_unless(
            self._rollups,
            item,
            "attribute_not_exists(pk) OR published_at < :at",
            **{":at": {"S": iso_utc(item.published_at)}},
        )

    async def put_outcome(self, item: TrainingOutcomeItem) -> bool:
        return await self._put_unless(self._models, item, "attribute_not_exists(pk)")

    async def claim_retrain(self, claim: RetrainClaim, cooldown_start: datetime) -> bool:
        return await self._put_unless(
            self._alerts,
            claim,
            "attribute_not_exists(pk) OR requested_at <= :start",
            **{":start": {"S": iso_utc(cooldown_start)}},
        )

    async def release_retrain(self, claim: RetrainClaim) -> None:
        with contextlib.suppress(self._dynamodb.exceptions.ConditionalCheckFailedException):
            await self._dynamodb.delete_item(
                TableName=self._alerts,
                Key=claim.key(),
                ConditionExpression="request_id = :id",
                ExpressionAttributeValues={":id": {"S": str(claim.request_id)}},
            )

    async def put_active(self, alert: ActiveAlert) -> None:
        await self._dynamodb.put_item(TableName=self._alerts, Item=alert.to_item())

    async def clear_active(self, rule: str) -> None:
        await self._dynamodb.delete_item(
            TableName=self._alerts, Key={"pk": {"S": "active"}, "sk": {"S": rule}}
        )

    async def add_firing(self, record: FiringRecord) -> None:
        await self._dynamodb.put_item(TableName=self._alerts, Item=record.to_item())

    async def put_health(self, health: PipelineHealth) -> None:
        await self._dynamodb.put_item(TableName=self._alerts, Item=health.to_item())

    async def put_view(self, item: ViewItem) -> bool:
        # Competing monitoring processes each build the view: a slow build finishing after a
        # newer one must not replace it.
        return await self._put_unless(
            self._rollups,
            item,
            "attribute_not_exists(pk) OR built_at < :at",
            **{":at": {"S": iso_utc(item.built_at)}},
        )
