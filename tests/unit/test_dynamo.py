"""DynamoDB helpers: sortable timestamps, the number range, and batched writes with retries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shared.dynamo import BATCH_WRITE_LIMIT, batch_put, batch_write, iso_utc, to_attribute_map
from shared.errors import RetryableError
from shared.items import FeedbackItem
from tests import factories

pytestmark = pytest.mark.unit

CREATED = datetime(2026, 3, 14, 23, 59, 58, 123456, tzinfo=UTC)


def test_stored_timestamps_sort_as_text_in_time_order() -> None:
    moments = [CREATED.replace(microsecond=0), CREATED.replace(microsecond=1), CREATED]

    texts = [iso_utc(m) for m in moments]

    assert sorted(texts) == texts
    assert len({len(t) for t in texts}) == 1


def test_numbers_dynamodb_cannot_hold_are_refused_and_underflow_becomes_zero() -> None:
    with pytest.raises(ValueError, match="cannot store"):
        to_attribute_map({"x": float("nan")})
    with pytest.raises(ValueError, match="range"):
        to_attribute_map({"x": 1e200})

    assert to_attribute_map({"x": 1e-300}) == {"x": {"N": "0"}}


# --- batch writes -----------------------------------------------------------------------------


class FakeDynamoDB:
    """Records BatchWriteItem calls; refuses over-size batches as AWS does.

    ``hold_back`` lists, per call, how many of the call's requests to return as unprocessed.
    """

    def __init__(self, hold_back: list[int] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self.written: list[dict[str, Any]] = []
        self._hold_back = list(hold_back or [])

    async def batch_write_item(self, **kwargs: Any) -> Any:
        ((table, requests),) = kwargs["RequestItems"].items()
        requests = list(requests)
        if len(requests) > BATCH_WRITE_LIMIT:
            raise ValueError("Too many items requested for the BatchWriteItem call")
        self.calls.append(requests)
        held = self._hold_back.pop(0) if self._hold_back else 0
        self.written.extend(requests[held:])
        return {"UnprocessedItems": {table: requests[:held]} if held else {}}


async def no_sleep(_: float) -> None:
    return None


def put(n: int) -> Any:
    return {"PutRequest": {"Item": {"pk": {"S": f"item-{n}"}}}}


async def test_sixty_writes_go_out_as_batches_of_25_25_and_10() -> None:
    dynamodb = FakeDynamoDB()
    requests: list[Any] = [put(n) for n in range(60)]

    await batch_write(dynamodb, "t-rollups", requests, sleep=no_sleep)

    assert [len(call) for call in dynamodb.calls] == [25, 25, 10]
    assert dynamodb.written == requests


async def test_unprocessed_writes_are_sent_again_until_all_are_written() -> None:
    dynamodb = FakeDynamoDB(hold_back=[3, 1, 0])
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    requests: list[Any] = [put(n) for n in range(30)]
    await batch_write(dynamodb, "t-rollups", requests, sleep=sleep)

    assert [len(call) for call in dynamodb.calls] == [25, 3, 1, 5]
    assert sorted(r["PutRequest"]["Item"]["pk"]["S"] for r in dynamodb.written) == sorted(
        r["PutRequest"]["Item"]["pk"]["S"] for r in requests
    )
    assert len(dynamodb.written) == 30
    assert len(slept) == 2


async def test_writes_still_unprocessed_after_every_attempt_raise_a_retryable_error() -> None:
    dynamodb = FakeDynamoDB(hold_back=[2, 2, 2])

    with pytest.raises(RetryableError, match="2 writes to t-rollups"):
        await batch_write(dynamodb, "t-rollups", [put(1), put(2)], max_attempts=3, sleep=no_sleep)

    assert len(dynamodb.calls) == 3


async def test_no_writes_make_no_calls() -> None:
    dynamodb = FakeDynamoDB()

    await batch_write(dynamodb, "t-rollups", [], sleep=no_sleep)

    assert dynamodb.calls == []


async def test_batch_put_writes_items_in_their_dynamodb_form() -> None:
    dynamodb = FakeDynamoDB()
    items = [
        FeedbackItem.from_event(factories.feedback_given()) for _ in range(BATCH_WRITE_LIMIT + 1)
    ]

    await batch_put(dynamodb, "t-feedback", items, sleep=no_sleep)

    assert [len(call) for call in dynamodb.calls] == [25, 1]
    stored = [FeedbackItem.from_item(r["PutRequest"]["Item"]) for r in dynamodb.written]
    assert stored == items
