"""Where API keys live: the DynamoDB ``api-keys`` table, or a dict for tests and local use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from services.api.keys import ApiKey, DuplicateKeyError, WallClock
from shared.dynamo import iso_utc
from shared.errors import ConfigurationError, NotFoundError, RetryableError

if TYPE_CHECKING:
    from types_aiobotocore_dynamodb import DynamoDBClient

__all__ = ["DynamoKeyStore", "InMemoryKeyStore"]

_RETRYABLE_CODES: Final = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ThrottlingException",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class InMemoryKeyStore:
    """The same rules in a dict, for unit tests and single-process use."""

    def __init__(self, *, now: WallClock = _utc_now) -> None:
        self.items: dict[str, ApiKey] = {}
        self._now = now

    async def get(self, key_hash: str) -> ApiKey | None:
        return self.items.get(key_hash)

    async def put(self, key: ApiKey) -> None:
        if key.key_hash in self.items:
            raise DuplicateKeyError(f"a key with hash {key.key_hash[:12]}… is already stored")
        self.items[key.key_hash] = key

    async def revoke(self, key_hash: str) -> ApiKey:
        key = self.items.get(key_hash)
        if key is None:
            raise NotFoundError(f"no key with hash {key_hash[:12]}…")
        if not key.revoked:
            key = self.items[key_hash] = key.model_copy(update={"revoked_at": self._now()})
        return key

    async def list(self) -> list[ApiKey]:
        return sorted(self.items.values(), key=lambda key: key.created_at)


class DynamoKeyStore:
    """Keys in the DynamoDB ``<prefix>-api-keys`` table (hash key ``key_hash``)."""

    def __init__(self, dynamodb: DynamoDBClient, table: str, *, now: WallClock = _utc_now) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._now = now

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """AWS failures as platform errors: a missing table, or a transient failure."""
        try:
            yield
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise ConfigurationError(
                    f"table {self._table} does not exist: run `toxic infra ensure` first"
                ) from None
            if code in _RETRYABLE_CODES:
                raise RetryableError(f"DynamoDB is busy ({code}); try again") from error
            raise
        except (BotoConnectionError, HTTPClientError) as error:
            raise RetryableError(f"DynamoDB is unreachable: {error}") from error

    async def get(self, key_hash: str) -> ApiKey | None:
        with self._translated():
            # Strongly consistent, so a revocation shows on the first lookup after it.
            response = await self._dynamodb.get_item(
                TableName=self._table,
                Key={"key_hash": {"S": key_hash}},
                ConsistentRead=True,
            )
        item = response.get("Item")
        return None if item is None else ApiKey.from_item(item)

    async def put(self, key: ApiKey) -> None:
        with self._translated():
            try:
                await self._dynamodb.put_item(
                    TableName=self._table,
                    Item=key.to_item(),
                    ConditionExpression="attribute_not_exists(key_hash)",
                )
            except self._dynamodb.exceptions.ConditionalCheckFailedException:
                raise DuplicateKeyError(
                    f"a key with hash {key.key_hash[:12]}… is already stored"
                ) from None

    async def revoke(self, key_hash: str) -> ApiKey:
        with self._translated():
            try:
                response = await self._dynamodb.update_item(
                    TableName=self._table,
                    Key={"key_hash": {"S": key_hash}},
                    UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                    ConditionExpression="attribute_exists(key_hash)",
                    ExpressionAttributeValues={":now": {"S": iso_utc(self._now())}},
                    ReturnValues="ALL_NEW",
                )
            except self._dynamodb.exceptions.ConditionalCheckFailedException:
                raise NotFoundError(f"no key with hash {key_hash[:12]}…") from None
        return ApiKey.from_item(response["Attributes"])

    async def list(self) -> list[ApiKey]:
        keys: list[ApiKey] = []
        with self._translated():
            paginator = self._dynamodb.get_paginator("scan")
            async for page in paginator.paginate(TableName=self._table, ConsistentRead=True):
                keys.extend(ApiKey.from_item(item) for item in page.get("Items", []))
        return sorted(keys, key=lambda key: key.created_at)
