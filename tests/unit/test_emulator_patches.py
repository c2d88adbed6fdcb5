"""The stand-in's fixes decide exactly what moto's own code decides, without its costs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.sqs.models import SQSBackend

from shared.emulator_patches import (
    COUNTS,
    _isolated_transaction,
    _partition_query,
    _retention_check,
    _table_copy_skipped,
    send_patches,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("retention", "age_seconds"), [(60, 0), (60, 59), (60, 61), (345600, 10)])
def test_the_retention_check_agrees_with_motos(retention: int, age_seconds: int) -> None:
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("q", MessageRetentionPeriod=str(retention))
    message = backend.send_message("q", "body")
    message.sent_timestamp = int(message.sent_timestamp or 0) - age_seconds * 1000  # type: ignore[assignment]
    original = SQSBackend.is_message_valid_based_on_retention_period

    assert _retention_check(backend, "q", message) == original(backend, "q", message)
    assert _retention_check(backend, "q", message) is (age_seconds < retention)


def _backend_with_tables(monkeypatch: pytest.MonkeyPatch) -> Any:
    import moto.dynamodb.models as dynamodb_models

    monkeypatch.setattr(dynamodb_models, "copy", _table_copy_skipped())
    backend = DynamoDBBackend("us-east-1", "123456789012")
    for name, schema in (("markers", ["pk"]), ("counters", ["pk", "sk"])):
        backend.create_table(
            name,
            schema=[
                {"AttributeName": key, "KeyType": "HASH" if i == 0 else "RANGE"}
                for i, key in enumerate(schema)
            ],
            throughput=None,
            attr=[{"AttributeName": key, "AttributeType": "S"} for key in schema],
            global_indexes=None,
            indexes=None,
            streams=None,
            billing_mode="PAY_PER_REQUEST",
            sse_specification=None,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )
    return backend


def _marker(key: str) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": "markers",
            "Item": {"pk": {"S": key}},
            "ConditionExpression": "attribute_not_exists(pk)",
        }
    }


def _add(amount: int) -> dict[str, Any]:
    return {
        "Update": {
            "TableName": "counters",
            "Key": {"pk": {"S": "minute#*"}, "sk": {"S": "03:48"}},
            "UpdateExpression": "ADD #n :n",
            "ExpressionAttributeNames": {"#n": "count"},
            "ExpressionAttributeValues": {":n": {"N": str(amount)}},
        }
    }


def test_a_cancelled_transaction_leaves_every_item_it_named_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = _backend_with_tables(monkeypatch)
    transact = _isolated_transaction(DynamoDBBackend.transact_write_items)
    transact(backend, [_marker("seen"), _add(1)])

    with pytest.raises(TransactionCanceledException) as cancelled:
        transact(backend, [_marker("new"), _add(5), _marker("seen")])

    reasons = json.loads(cancelled.value.description)["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed"]
    assert backend.get_item("markers", {"pk": {"S": "new"}}) is None
    assert backend.get_item("markers", {"pk": {"S": "seen"}}) is not None
    counter = backend.get_item("counters", {"pk": {"S": "minute#*"}, "sk": {"S": "03:48"}})
    assert counter is not None
    assert counter.attrs["count"].value == "1"


def test_a_transaction_copies_no_table(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _backend_with_tables(monkeypatch)
    transact = _isolated_transaction(DynamoDBBackend.transact_write_items)
    for i in range(200):
        transact(backend, [_marker(f"m{i}"), _add(1)])
    copied: list[object] = []
    real_deepcopy = copy.deepcopy

    def recording(value: Any, memo: Any = None) -> Any:
        copied.append(value)
        return real_deepcopy(value, memo)

    monkeypatch.setattr(copy, "deepcopy", recording)

    transact(backend, [_marker("last"), _add(1)])

    assert not any(isinstance(value, Table) for value in copied)


def _query(backend: Any, pk: str, **options: Any) -> tuple[list[str], Any]:
    table = backend.get_table("counters")
    items, _, last = table.query(
        DynamoType({"S": pk}),
        options.get("comparison"),
        [DynamoType({"S": v}) for v in options.get("values", [])],
        options.get("limit"),
        options.get("start"),
        options.get("forward", True),
        None,
    )
    return [f"{i.hash_key.value}/{i.range_key.value}" for i in items], last


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"forward": False},
        {"limit": 3},
        {"comparison": "BETWEEN", "values": ["03:02", "03:05"]},
        {"comparison": "BEGINS_WITH", "values": ["03:1"], "forward": False, "limit": 2},
        {"limit": 2, "start": {"pk": {"S": "minute#*"}, "sk": {"S": "03:04"}}},
    ],
)
def test_a_partition_query_returns_what_motos_query_returns(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, Any]
) -> None:
    backend = _backend_with_tables(monkeypatch)
    for pk in ("minute#*", "minute#7", "hour#*"):
        for minute in range(12):
            backend.put_item("counters", {"pk": {"S": pk}, "sk": {"S": f"03:{minute:02d}"}})
    original = Table.query

    expected = _query(backend, "minute#*", **options)
    monkeypatch.setattr(Table, "query", _partition_query(original))
    patched = _query(backend, "minute#*", **options)
    missing = _query(backend, "day#*", **options)

    assert patched == expected
    assert expected[0]  # the case returns something to compare
    assert missing == ([], None)


def test_a_partition_query_never_gathers_the_whole_table(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _backend_with_tables(monkeypatch)
    for pk in ("a", "b"):
        backend.put_item("counters", {"pk": {"S": pk}, "sk": {"S": "1"}})
    gathered: list[int] = []
    real_all_items = Table.all_items

    def recording(self: Any) -> Any:
        found = real_all_items(self)
        gathered.append(len(found))
        return found

    monkeypatch.setattr(Table, "all_items", recording)
    monkeypatch.setattr(Table, "query", _partition_query(Table.query))

    assert _query(backend, "a")[0] == ["a/1"]
    assert gathered == [1]


@pytest.fixture
def sends_patched(monkeypatch: pytest.MonkeyPatch) -> None:
    patches = send_patches()
    assert {name for _, name, _ in patches} == {*COUNTS, "send_message", "send_message_batch"}
    for target, name, replacement in patches:
        monkeypatch.setattr(target, name, replacement)


def _counting_visibility(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list whose length is how often a message's visibility was read (moto's counts scan)."""
    from moto.sqs.models import Message

    reads: list[int] = []
    visible = Message.visible
    assert isinstance(visible, property)
    assert visible.fget is not None
    read = visible.fget

    def counted(self: Any) -> bool:
        reads.append(1)
        return bool(read(self))

    monkeypatch.setattr(Message, "visible", property(counted))
    return reads


def _deep_queue(depth: int) -> SQSBackend:
    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("deep")
    for i in range(depth):
        backend.send_message("deep", f"m{i}")
    return backend


def test_moto_scans_a_deep_queue_for_every_message_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = _deep_queue(500)
    reads = _counting_visibility(monkeypatch)
    backend.send_message("deep", "one more")
    assert len(reads) >= 500  # what the patch spares: the counts, computed on every send


@pytest.mark.usefixtures("sends_patched")
def test_a_patched_send_counts_nothing_and_the_counts_stay_right(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = _deep_queue(500)
    reads = _counting_visibility(monkeypatch)
    backend.send_message("deep", "one more")
    backend.send_message_batch(
        "deep",
        {
            str(i): {
                "Id": f"e{i}",
                "MessageBody": f"b{i}",
                "MessageAttributes": {},
                "DelaySeconds": 0,
            }
            for i in range(10)
        },
    )
    assert reads == []
    # Outside a send, the counts are moto's own: 511 visible, then 10 of them received.
    backend.receive_message("deep", 10, 0, 30)
    attributes = backend.get_queue_attributes(
        "deep",
        ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    assert attributes["ApproximateNumberOfMessages"] == 501
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == 10
    assert reads != []


@pytest.mark.usefixtures("sends_patched")
def test_a_patched_send_keeps_fifo_deduplication_and_its_checks() -> None:
    from moto.sqs.exceptions import InvalidParameterValue

    backend = SQSBackend("us-east-1", "123456789012")
    backend.create_queue("by-content.fifo", FifoQueue="true", ContentBasedDeduplication="true")
    backend.send_message("by-content.fifo", "same", group_id="g")
    backend.send_message("by-content.fifo", "same", group_id="g")
    backend.send_message("by-content.fifo", "other", group_id="g")
    assert backend.get_queue("by-content.fifo").approximate_number_of_messages == 2

    backend.create_queue("by-id.fifo", FifoQueue="true")
    with pytest.raises(InvalidParameterValue, match="ContentBasedDeduplication"):
        backend.send_message("by-id.fifo", "no id", group_id="g")
