"""The stand-in's fixes decide exactly what moto's own code decides, without its costs."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from moto.dynamodb.exceptions import TransactionCanceledException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.sqs.models import SQSBackend

from shared.emulator_patches import _isolated_transaction, _retention_check, _table_copy_skipped

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
