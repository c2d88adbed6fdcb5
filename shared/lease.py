"""A named lease in DynamoDB: at most one holder at a time across the deployment.

The training service takes it around each run, so training is single-flight however many
training workers run. A holder that dies loses the lease when it expires; a live holder renews it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoLease", "InMemoryLease", "Lease", "LeaseBoard"]


class Lease(Protocol):
    async def acquire(self) -> bool:
        """Take the lease if it is free or expired (or already ours); True when held now."""
        ...

    async def renew(self) -> bool:
        """Extend our hold; False when the lease was lost to someone else."""
        ...

    async def release(self) -> None:
        """Give the lease up, if we still hold it."""
        ...


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoLease:
    """A lease row in the ``leases`` table (hash key ``name``)."""

    def __init__(
        self, dynamodb: DynamoDBClient, table: str, name: str, owner: str, ttl_seconds: int = 300
    ) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._name = name
        self._owner = owner
        self._ttl = ttl_seconds

    async def acquire(self) -> bool:
        return await self._put("attribute_not_exists(#n) OR expires_at < :now OR #o = :me")

    async def renew(self) -> bool:
        return await self._put("#o = :me")

    async def _put(self, condition: str) -> bool:
        now = time.time()
        names = {"#n": "name", "#o": "owner"}
        values = {":me": {"S": self._owner}, ":now": {"N": f"{now:.3f}"}}
        try:
            await self._dynamodb.put_item(
                TableName=self._table,
                Item={
                    "name": {"S": self._name},
                    "owner": {"S": self._owner},
                    "expires_at": {"N": f"{now + self._ttl:.3f}"},
                },
                ConditionExpression=condition,
                # DynamoDB refuses placeholders the expression does not use.
                ExpressionAttributeNames={k: v for k, v in names.items() if k in condition},
                ExpressionAttributeValues={k: v for k, v in values.items() if k in condition},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    async def release(self) -> None:
        try:
            await self._dynamodb.delete_item(
                TableName=self._table,
                Key={"name": {"S": self._name}},
                ConditionExpression="#o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":me": {"S": self._owner}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise


class LeaseBoard:
    """The in-memory table behind :class:`InMemoryLease`, shared by the leases of one test."""

    def __init__(self) -> None:
        self.holders: dict[str, tuple[str, float]] = {}


class InMemoryLease:
    """The same rules in memory, for unit tests."""

    def __init__(self, board: LeaseBoard, name: str, owner: str, ttl_seconds: float = 300) -> None:
        self._board = board
        self._name = name
        self._owner = owner
        self._ttl = ttl_seconds

    async def acquire(self) -> bool:
        holder = self._board.holders.get(self._name)
        if holder is not None and holder[0] != self._owner and holder[1] >= time.time():
            return False
        self._board.holders[self._name] = (self._owner, time.time() + self._ttl)
        return True

    async def renew(self) -> bool:
        holder = self._board.holders.get(self._name)
        if holder is None or holder[0] != self._owner:
            return False
        self._board.holders[self._name] = (self._owner, time.time() + self._ttl)
        return True

    async def release(self) -> None:
        holder = self._board.holders.get(self._name)
        if holder is not None and holder[0] == self._owner:
            del self._board.holders[self._name]
