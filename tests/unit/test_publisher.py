"""The SNS publisher's batching, size limit and retries, against a fake SNS client."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from contracts import RetrainReason, RetrainRequested, Source, decode
from shared.bus import SnsPublisher
from shared.bus.publisher import MAX_BATCH_BYTES
from shared.errors import PoisonError, RetryableError

pytestmark = pytest.mark.unit

TOPIC = "arn:aws:sns:us-east-1:000000000000:t-events"


def retrain(note_size: int = 0) -> RetrainRequested:
    return RetrainRequested(
        source=Source(service="test", instance="1"),
        reason=RetrainReason.MANUAL,
        requested_by="tester",
        note=("x" * note_size) or None,
    )


class FakeSns:
    """Records PublishBatch calls; each call answers with the next scripted outcome."""

    def __init__(self, outcomes: list[Any] | None = None) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self._outcomes = list(outcomes or [])

    async def publish_batch(self, *, TopicArn: str, PublishBatchRequestEntries: list[Any]) -> Any:
        assert TopicArn == TOPIC
        self.calls.append(PublishBatchRequestEntries)
        outcome = self._outcomes.pop(0) if self._outcomes else "ok"
        if isinstance(outcome, Exception):
            raise outcome
        if callable(outcome):
            return outcome(PublishBatchRequestEntries)
        return {"Successful": [{"Id": e["Id"]} for e in PublishBatchRequestEntries], "Failed": []}


def throttled() -> ClientError:
    response: Any = {"Error": {"Code": "Throttling", "Message": "slow down"}}
    return ClientError(response, "PublishBatch")


def publisher(sns: FakeSns) -> SnsPublisher:
    return SnsPublisher(sns, TOPIC, max_attempts=4, base_delay=0.001, max_delay=0.002)  # type: ignore[arg-type]


async def test_events_go_out_in_batches_of_ten_in_order() -> None:
    sns = FakeSns()
    events = [retrain() for _ in range(25)]

    await publisher(sns).publish(events)

    assert [len(call) for call in sns.calls] == [10, 10, 5]
    sent = [decode(entry["Message"]) for call in sns.calls for entry in call]
    assert sent == events


async def test_each_entry_carries_its_event_type_as_a_message_attribute() -> None:
    sns = FakeSns()

    await publisher(sns).publish([retrain()])

    [[entry]] = sns.calls
    assert entry["MessageAttributes"]["event_type"] == {
        "DataType": "String",
        "StringValue": "RetrainRequested",
    }


async def test_batches_stay_under_the_256_kib_request_limit() -> None:
    sns = FakeSns()
    events = [retrain(note_size=2_000) for _ in range(3)]
    # Notes are capped at 2,000 characters, so build large bodies the way a big event would be.
    big = [e.model_copy(update={"requested_by": "y" * 100_000}) for e in events]

    await publisher(sns).publish(big)

    assert [len(call) for call in sns.calls] == [2, 1]
    for call in sns.calls:
        assert sum(len(e["Message"].encode()) for e in call) <= MAX_BATCH_BYTES


async def test_an_event_larger_than_the_limit_is_refused_before_sending() -> None:
    sns = FakeSns()
    huge = retrain().model_copy(update={"requested_by": "z" * (MAX_BATCH_BYTES + 1)})

    with pytest.raises(PoisonError, match="SNS takes at most"):
        await publisher(sns).publish([retrain(), huge])

    assert sns.calls == []


async def test_throttling_and_connection_errors_are_retried() -> None:
    sns = FakeSns([throttled(), EndpointConnectionError(endpoint_url="http://x"), "ok"])

    await publisher(sns).publish([retrain()])

    assert len(sns.calls) == 3


async def test_an_unreachable_bus_ends_in_a_retryable_error() -> None:
    sns = FakeSns([EndpointConnectionError(endpoint_url="http://x")] * 4)

    with pytest.raises(RetryableError, match="after 4 attempts"):
        await publisher(sns).publish([retrain()])


async def test_only_the_entries_that_failed_transiently_are_sent_again() -> None:
    def first_fails(entries: list[Any]) -> Any:
        return {
            "Successful": [{"Id": e["Id"]} for e in entries[1:]],
            "Failed": [{"Id": entries[0]["Id"], "Code": "InternalError", "SenderFault": False}],
        }

    sns = FakeSns([first_fails, "ok"])
    events = [retrain() for _ in range(3)]

    await publisher(sns).publish(events)

    assert [len(call) for call in sns.calls] == [3, 1]
    assert decode(sns.calls[1][0]["Message"]) == events[0]


async def test_an_entry_refused_as_the_senders_fault_is_reported_as_poison() -> None:
    def refuse_second(entries: list[Any]) -> Any:
        return {
            "Successful": [{"Id": e["Id"]} for e in entries if e["Id"] != "1"],
            "Failed": [{"Id": "1", "Code": "InvalidParameter", "SenderFault": True}],
        }

    sns = FakeSns([refuse_second])

    with pytest.raises(PoisonError, match="InvalidParameter"):
        await publisher(sns).publish([retrain(), retrain()])
    assert len(sns.calls) == 1
