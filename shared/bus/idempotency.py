"""Idempotent effects keyed on ``event_id``, with a conditional write as the lock.

A marker goes through two states. ``begin`` writes it as *in progress* only when no marker
exists, or when an earlier attempt's lock has expired (that consumer died mid-effect).
``complete`` marks it done; ``abandon`` deletes it so a redelivery can try again. A duplicate
that finds a completed marker is skipped; one that finds a live lock is retried later.

Consumers whose effect is itself a DynamoDB write should rather put the marker in the same
transaction as the effect (:meth:`DynamoIdempotencyStore.marker_put`): then the marker and the
effect are written together or not at all.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from contracts import Event
from shared.bus.ports import Handler
from shared.errors import RetryableError

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient
    from types_aiobotocore_dynamodb.type_defs import TransactWriteItemTypeDef

__all__ = [
    "DynamoIdempotencyStore",
    "IdempotencyStore",
    "InMemoryIdempotencyStore",
    "idempotent",
    "run_once",
]

_IN_PROGRESS = "in_progress"
_COMPLETED = "completed"


class IdempotencyStore(Protocol):
    async def begin(self, key: str) -> bool:
        """True: run the effect. False: it already ran. RetryableError: it is running elsewhere."""
        ...

    async def complete(self, key: str) -> None: ...

    async def abandon(self, key: str) -> None: ...


async def run_once(
    store: IdempotencyStore, key: str, effect: Callable[[], Awaitable[None]]
) -> bool:
    """Run ``effect`` unless it already ran for ``key``; True when it ran now."""
    if not await store.begin(key):
        return False
    try:
        await effect()
    except BaseException:
        await store.abandon(key)
        raise
    await store.complete(key)
    return True


def idempotent(store: IdempotencyStore, consumer: str, handler: Handler) -> Handler:
    """Wrap ``handler`` so that each event's effect runs once for ``consumer``."""
    name = getattr(handler, "__name__", type(handler).__name__)

    async def once(event: Event) -> None:
        await run_once(store, f"{consumer}#{name}#{event.event_id}", lambda: handler(event))

    once.__name__ = name
    return once


@dataclass
class _Marker:
    status: str
    locked_until: float


class InMemoryIdempotencyStore:
    """The store for unit tests, with the same lock expiry rule as DynamoDB's."""

    def __init__(self, lock_seconds: float = 60.0) -> None:
        self._lock_seconds = lock_seconds
        self.markers: dict[str, _Marker] = {}

    async def begin(self, key: str) -> bool:
        marker = self.markers.get(key)
        now = time.time()
        if marker is not None and marker.status == _COMPLETED:
            return False
        if marker is not None and marker.locked_until > now:
            raise RetryableError(f"{key} is being handled by another consumer")
        self.markers[key] = _Marker(_IN_PROGRESS, now + self._lock_seconds)
        return True

    async def complete(self, key: str) -> None:
        self.markers[key] = _Marker(_COMPLETED, 0.0)

    async def abandon(self, key: str) -> None:
        self.markers.pop(key, None)


class DynamoIdempotencyStore:
    """Markers in the ``processed`` table (hash key ``pk``, TTL on ``expires_at``)."""

    def __init__(
        self,
        dynamodb: DynamoDBClient,
        table: str,
        *,
        lock_seconds: int = 120,
        retention_seconds: int = 14 * 24 * 3600,
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._lock_seconds = lock_seconds
        self._retention_seconds = retention_seconds

    async def begin(self, key: str) -> bool:
        now = int(time.time())
        try:
            await self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "pk": {"S": key},
                    "status": {"S": _IN_PROGRESS},
                    "locked_until": {"N": str(now + self._lock_seconds)},
                    "expires_at": {"N": str(now + self._retention_seconds)},
                },
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (#s = :in_progress AND locked_until < :now)"
                ),
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={
                    ":in_progress": {"S": _IN_PROGRESS},
                    ":now": {"N": str(now)},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            old: Any = exc.response.get("Item") or await self._current(key)
            if old.get("status", {}).get("S") == _COMPLETED:
                return False
            raise RetryableError(f"{key} is being handled by another consumer") from None
        return True

    async def _current(self, key: str) -> Any:
        # Not every stand-in returns the old item on a failed condition; read it then.
        response = await self._dynamodb.get_item(
            TableName=self._table, Key={"pk": {"S": key}}, ConsistentRead=True
        )
        return response.get("Item", {})

    async def complete(self, key: str) -> None:
        await self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": key},
                "status": {"S": _COMPLETED},
                "expires_at": {"N": str(int(time.time()) + self._retention_seconds)},
            },
        )

    async def abandon(self, key: str) -> None:
        await self._dynamodb.delete_item(TableName=self._table, Key={"pk": {"S": key}})

    def marker_put(self, key: str) -> TransactWriteItemTypeDef:
        """A transaction item that writes a completed marker, failing if any marker exists."""
        return {
            "Put": {
                "TableName": self._table,
                "Item": {
                    "pk": {"S": key},
                    "status": {"S": _COMPLETED},
                    "expires_at": {"N": str(int(time.time()) + self._retention_seconds)},
                },
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
