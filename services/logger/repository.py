"""Where the logger writes: the port its handlers use, and the DynamoDB adapter behind it.

Every write is conditional, so that writing the same thing twice changes nothing:

- ``insert`` puts an item only when no item has its key (``attribute_not_exists``). The first
  write of a prediction, feedback, review or model wins; a redelivery finds it and reports so.
- ``resolve_review`` marks a review item reviewed only when it exists and is pending or was
  resolved by an *older* decision (``resolved_at`` earlier than this one). Redelivering a decision
  changes nothing; a decision delivered after a newer one does not undo it.

The in-memory fake with the same rules is ``tests/fakes/logger_store.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from botocore.exceptions import ClientError

from contracts import Label, ModeratorAction
from shared.dynamo import iso_utc, to_attribute_map
from shared.infra import InfraSpec
from shared.items import ReviewItem, ReviewStatus, StoredItem

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoLoggerStore", "LoggerStore", "Resolution", "ResolveOutcome"]


class ResolveOutcome(StrEnum):
    RESOLVED = "resolved"
    UNCHANGED = "unchanged"
    """Already resolved by this decision or by a newer one."""
    NOT_FOUND = "not_found"
    """No review item exists for the prediction."""


@dataclass(frozen=True)
class Resolution:
    """A moderator's decision on a queued prediction."""

    prediction_id: UUID
    resolved_at: datetime
    resolved_by: str
    moderator_action: ModeratorAction
    true_labels: Mapping[Label, bool]
    feedback_id: UUID


class LoggerStore(Protocol):
    async def insert(self, item: StoredItem) -> bool:
        """Write ``item`` unless an item with its key exists; True when written now."""
        ...

    async def resolve_review(self, resolution: Resolution) -> ResolveOutcome:
        """Mark the prediction's review item reviewed, unless a decision as new already did."""
        ...


def _condition_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoLoggerStore:
    """The logger's tables in DynamoDB, named by the deployment's spec."""

    def __init__(self, dynamodb: DynamoDBClient, spec: InfraSpec) -> None:
        self._dynamodb = dynamodb
        self._spec = spec

    def _table(self, item: type[StoredItem]) -> str:
        return self._spec.table(item.TABLE).name

    async def insert(self, item: StoredItem) -> bool:
        try:
            await self._dynamodb.put_item(
                TableName=self._table(type(item)),
                Item=item.to_item(),
                # On a table with a range key this still names one item: the one with this key.
                ConditionExpression="attribute_not_exists(#k)",
                ExpressionAttributeNames={"#k": item.HASH_KEY},
            )
        except ClientError as exc:
            if _condition_failed(exc):
                return False
            raise
        return True

    async def resolve_review(self, resolution: Resolution) -> ResolveOutcome:
        table = self._table(ReviewItem)
        key = to_attribute_map({ReviewItem.HASH_KEY: str(resolution.prediction_id)})
        fields = {
            "status": ReviewStatus.REVIEWED.value,
            "resolved_at": iso_utc(resolution.resolved_at),
            "resolved_by": resolution.resolved_by,
            "moderator_action": resolution.moderator_action.value,
            "true_labels": {label.value: given for label, given in resolution.true_labels.items()},
            "feedback_id": str(resolution.feedback_id),
        }
        names = {f"#{name}": name for name in fields} | {"#key": ReviewItem.HASH_KEY}
        values = to_attribute_map({f":{name}": value for name, value in fields.items()})
        values[":pending"] = {"S": ReviewStatus.PENDING.value}
        try:
            await self._dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET " + ", ".join(f"#{name} = :{name}" for name in fields),
                # Fixed-width UTC text: string order is time order.
                ConditionExpression=(
                    "attribute_exists(#key) AND (#status = :pending OR #resolved_at < :resolved_at)"
                ),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _condition_failed(exc):
                raise
            old: Any = exc.response.get("Item") or await self._current(table, key)
            return ResolveOutcome.UNCHANGED if old else ResolveOutcome.NOT_FOUND
        return ResolveOutcome.RESOLVED

    async def _current(self, table: str, key: Any) -> Any:
        # Not every stand-in returns the old item on a failed condition; read it then.
        response = await self._dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)
        return response.get("Item", {})
