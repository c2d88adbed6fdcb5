"""Generic DynamoDB helpers: attribute-value conversion, sortable timestamps, batched writes.

Numbers go over the wire as DynamoDB's decimal strings and come back as ``Decimal``; ``None``
values are left out of an item. The item shapes built on these live in ``shared.items``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Protocol, Unpack

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
    "Storable",
    "batch_put",
    "batch_write",
    "from_attribute_map",
    "iso_utc",
    "to_attribute_map",
]

BATCH_WRITE_LIMIT: Final = 25  # requests per BatchWriteItem on AWS (moto takes more)
# DynamoDB numbers: 38 significant digits, magnitudes from 1e-130 to below 1e126.
_SMALLEST, _LARGEST = Decimal("1e-130"), Decimal("1e126")


def iso_utc(moment: datetime) -> str:
    """Fixed-width UTC ISO text: sorts as it reads, unlike isoformat() which drops zero micros."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


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


# --- batch writes -----------------------------------------------------------------------------


class BatchWriteClient(Protocol):
    """The one DynamoDB call batch writes need (the aiobotocore client has it)."""

    async def batch_write_item(
        self, **kwargs: Unpack[BatchWriteItemInputTypeDef]
    ) -> BatchWriteItemOutputTypeDef: ...


class Storable(Protocol):
    """Anything that can give its DynamoDB form, as every ``shared.items.StoredItem`` does."""

    def to_item(self) -> dict[str, AttributeValueTypeDef]: ...


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
    items: Iterable[Storable],
    *,
    max_attempts: int = 8,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> None:
    """Put many items into ``table`` (its full name) in batches of 25."""
    requests: list[WriteRequestTypeDef] = [{"PutRequest": {"Item": i.to_item()}} for i in items]
    await batch_write(client, table, requests, max_attempts=max_attempts, sleep=sleep)
