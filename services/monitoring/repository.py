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

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, Protocol
from uuid import UUID

from botocore.exceptions import ClientError
from pydantic import computed_field

from contracts import Label, ModelPublished
from services.monitoring.rollups import BucketKey, Counters
from shared.dynamo import from_attribute_map, to_attribute_map
from shared.errors import RetryableError
from shared.infra import InfraSpec
from shared.items import PredictionItem, StoredItem, UtcTime

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import (
        AttributeValueTypeDef,
        TransactWriteItemTypeDef,
    )

__all__ = [
    "MARKER_PREFIX",
    "AlreadyCounted",
    "BaselineItem",
    "DynamoMonitoringStore",
    "MonitoringStore",
    "RollupReader",
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


class BaselineItem(StoredItem):
    """A model version's drift baseline, in the rollups table under ``baseline#<version>``."""

    TABLE: ClassVar[str] = "rollups"
    HASH_KEY: ClassVar[str] = "pk"

    model_name: str
    model_version: str
    published_at: UtcTime
    event_id: UUID
    baseline_json: str

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pk(self) -> str:
        return f"baseline#{self.model_version}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def sk(self) -> str:
        return "baseline"

    def key(self) -> dict[str, AttributeValueTypeDef]:
        return {"pk": {"S": self.pk}, "sk": {"S": self.sk}}

    @classmethod
    def from_event(cls, event: ModelPublished) -> BaselineItem:
        return cls(
            model_name=event.model_name,
            model_version=event.model_version,
            published_at=event.occurred_at,
            event_id=event.event_id,
            baseline_json=event.baseline.model_dump_json(),
        )


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


class RollupReader(Protocol):
    """What the monitoring's readers (rules, drift, the dashboard) ask of the rollups."""

    async def rollups(
        self, granularity: str, model_version: str, first: str, last: str
    ) -> list[tuple[str, Counters]]: ...

    async def baseline(self, model_version: str) -> BaselineItem | None: ...


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
        values = {name: format(counters[name].normalize(), "f") for name in names}
        return {
            "Update": {
                "TableName": self._rollups,
                "Key": {"pk": {"S": key.pk}, "sk": {"S": key.sk}},
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                "ExpressionAttributeNames": {f"#c{i}": name for i, name in enumerate(names)},
                "ExpressionAttributeValues": {
                    f":c{i}": {"N": values[name]} for i, name in enumerate(names)
                },
            }
        }

    async def commit(
        self, event_ids: Sequence[UUID], increments: Mapping[BucketKey, Counters]
    ) -> None:
        expires_at = int(self._clock()) + self._retention
        items = [self._marker(event_id, expires_at) for event_id in event_ids]
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

    async def rollups(
        self, granularity: str, model_version: str, first: str, last: str
    ) -> list[tuple[str, Counters]]:
        """(bucket, counters) of one granularity and version, ``first`` to ``last``, oldest first.

        ``model_version`` ``*`` reads all versions together; the bounds are inclusive bucket
        texts (``2026-11-30T03:48``): one Query, paged, never a scan.
        """
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
        while True:
            response = await self._dynamodb.query(**query)
            for raw in response.get("Items", []):
                item = from_attribute_map(raw)
                bucket = str(item.pop("sk"))
                item.pop("pk")
                found.append((bucket, item))
            if "LastEvaluatedKey" not in response:
                return found
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    async def baseline(self, model_version: str) -> BaselineItem | None:
        """The stored baseline of ``model_version``, if one was published."""
        response = await self._dynamodb.get_item(
            TableName=self._rollups,
            Key={"pk": {"S": f"baseline#{model_version}"}, "sk": {"S": "baseline"}},
            ConsistentRead=True,
        )
        raw = response.get("Item")
        return None if raw is None else BaselineItem.from_item(raw)

    async def put_baseline(self, item: BaselineItem) -> bool:
        try:
            await self._dynamodb.put_item(
                TableName=self._rollups,
                Item=to_attribute_map(item.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
