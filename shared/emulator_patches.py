"""Fixes to moto's SQS and DynamoDB, applied only inside the `toxic emulator` process.

moto 5.2 checks each message's retention on receive by computing *every* attribute of its queue,
including counts that scan all of the queue's messages: one receive costs O(depth²), so a queue a
thousand messages deep takes hundreds of milliseconds per call and a backlog feeds on itself. The
replacement reads the retention period alone; what it decides is unchanged.

Its send (``SendMessage``, ``SendMessageBatch`` and every SNS delivery to a queue) reads one
attribute of the queue, ``ContentBasedDeduplication``, from the same all-attributes dict: each
message sent scans the queue's messages three times to count them, so sending into a queue a
thousand deep costs a thousand times more than into an empty one, and a queue nobody drains slows
every publish to its topic. While a send runs on a thread, the three counts are not computed
(``None`` in that dict, which the send does not read); everywhere else they are moto's own.

moto 5.2's DynamoDB ``TransactWriteItems`` deep-copies every table a transaction names, once per
item of the transaction, to roll back by putting the copies back: a transaction costs
O(items x table size), so monitoring's 100-item transactions against a ``processed`` table of
thousands of markers take seconds. It is also not isolated: the server runs requests on threads,
and restoring whole tables undoes what a concurrent request wrote meanwhile (two consumers then
both pass an ``attribute_not_exists`` marker, or lose each other's counters). The replacement
runs transactions and single-item writes one at a time, remembers only the items a transaction
names and, when it is cancelled, puts back only those. What a transaction decides is moto's own.

moto 5.2's DynamoDB ``Query`` on a table's own key gathers and sorts *every* item of the table
(``Table.all_items``) and then keeps the queried partition: each Query costs O(table size log
table size), where DynamoDB reads one partition. The dashboard's reads of a few rollup partitions
in a table of a million predictions' worth of items paid for all of them. The replacement runs
moto's own ``query`` on a shallow view of the table that holds only the queried partition; what
it returns, in what order and with which ``LastEvaluatedKey``, is unchanged. Index queries keep
moto's path (an index has no partition map to read from).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

__all__ = ["COUNTS", "apply_patches", "send_patches"]

# One lock for every DynamoDB write: transactions are isolated from each other and from writes.
_DYNAMODB_WRITES = threading.RLock()


def _retention_check(self: Any, queue_name: str, message: Any) -> bool:
    """True while ``message`` is younger than its queue's MessageRetentionPeriod."""
    from moto.core.utils import unix_time

    retention_seconds = int(self.get_queue(queue_name).message_retention_period)
    retain_until: float = retention_seconds + message.sent_timestamp / 1000
    return bool(retain_until > unix_time())


_SENDING = threading.local()
"""``active`` while the thread runs an SQS send: its queue's message counts are not computed."""

COUNTS: tuple[str, ...] = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_not_visible",
    "approximate_number_of_messages_delayed",
)


def _sending(original: Callable[..., Any]) -> Callable[..., Any]:
    def send(self: Any, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_SENDING, "active", False)
        _SENDING.active = True
        try:
            return original(self, *args, **kwargs)
        finally:
            _SENDING.active = outer

    return send


def _uncounted_while_sending(count: property) -> property:
    def fget(self: Any) -> int | None:
        if getattr(_SENDING, "active", False):
            return None  # a send reads ContentBasedDeduplication alone from the attributes
        value: int = count.fget(self)  # type: ignore[misc]
        return value

    return property(fget)


def send_patches() -> list[tuple[type, str, Any]]:
    """(class, attribute, replacement) that spare SQS sends the counts; none if moto changed."""
    from moto.sqs.models import Queue, SQSBackend

    counts: list[Any] = [getattr(Queue, name, None) for name in COUNTS]
    senders = ("send_message", "send_message_batch")
    if not all(isinstance(count, property) for count in counts) or not all(
        hasattr(SQSBackend, name) for name in senders
    ):
        return []
    found: list[tuple[type, str, Any]] = [
        (Queue, name, _uncounted_while_sending(count))
        for name, count in zip(COUNTS, counts, strict=True)
    ]
    found += [(SQSBackend, name, _sending(getattr(SQSBackend, name))) for name in senders]
    return found


def _table_copy_skipped() -> Any:
    """moto's ``copy`` module as its DynamoDB backend sees it, without the whole-table copies."""
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    return SimpleNamespace(deepcopy=deepcopy, copy=copy.copy)


def _touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[str, Any, Any]]:
    """(table, key, a copy of the item or None) for every item the transaction names."""
    touched = []
    for entry in transact_items:
        _, op = next(iter(entry.items()))
        try:
            table = backend.get_table(op["TableName"])
            if "Item" in op:
                key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = op["Item"][table.range_key_attr]
            else:
                key = op["Key"]
            current = backend.get_item(op["TableName"], key)
        except Exception:  # noqa: S112 - moto's own call reports what is wrong with the item
            continue
        touched.append((op["TableName"], key, copy.deepcopy(current)))
    return touched


def _isolated_transaction(original: Callable[..., None]) -> Callable[..., None]:
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with _DYNAMODB_WRITES:
            before = _touched(self, transact_items)
            try:
                original(self, transact_items)
            except Exception:
                for table_name, key, item in reversed(before):
                    self.delete_item(table_name, key)
                    if item is not None:
                        self.put_item(table_name, item.to_json()["Attributes"])
                raise

    return transact_write_items


def _serialized(original: Callable[..., Any]) -> Callable[..., Any]:
    def write(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _DYNAMODB_WRITES:
            return original(self, *args, **kwargs)

    return write


def _partition_query(original: Callable[..., Any]) -> Callable[..., Any]:
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # ``index_name`` is query's 8th parameter (the 7th after hash_key).
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
        if index_name or hash_key is None:
            return original(self, hash_key, *args, **kwargs)
        view = copy.copy(self)
        view.items = {hash_key: self.items[hash_key]} if hash_key in self.items else {}
        return original(view, hash_key, *args, **kwargs)

    return query


def apply_patches() -> list[str]:
    """Apply every patch whose target exists in the installed moto; returns what was applied."""
    from moto.sqs.models import SQSBackend

    applied: list[str] = []
    if hasattr(SQSBackend, "is_message_valid_based_on_retention_period"):
        SQSBackend.is_message_valid_based_on_retention_period = _retention_check  # type: ignore[method-assign]
        applied.append("sqs-retention-check")

    sends = send_patches()
    for target, name, replacement in sends:
        setattr(target, name, replacement)
    if sends:
        applied.append("sqs-send-without-counts")

    import moto.dynamodb.models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend

    if hasattr(DynamoDBBackend, "transact_write_items"):
        setattr(dynamodb_models, "copy", _table_copy_skipped())  # noqa: B010 - not exported
        DynamoDBBackend.transact_write_items = _isolated_transaction(  # type: ignore[method-assign]
            DynamoDBBackend.transact_write_items
        )
        for name in ("put_item", "update_item", "delete_item"):
            setattr(DynamoDBBackend, name, _serialized(getattr(DynamoDBBackend, name)))
        applied.append("dynamodb-transactions")

    from moto.dynamodb.models.table import Table

    if hasattr(Table, "query") and hasattr(Table, "all_items"):
        Table.query = _partition_query(Table.query)  # type: ignore[method-assign]
        applied.append("dynamodb-partition-query")
    return applied
