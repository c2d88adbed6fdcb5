"""The stand-in's data on disk: DynamoDB items, S3 objects and SQS messages, as one snapshot.

moto keeps everything in memory. ``toxic up`` keeps it across restarts by asking the stand-in,
every few seconds and at stop, to write a snapshot into its state folder, and to load it back at
start. Only data is kept, not resources: ``toxic infra ensure`` recreates the topic, queues,
subscriptions, tables and bucket from the spec first, and the restore fills them. SNS holds no
data of its own (a publish lands in the queues at once), so there is nothing of it to keep.

Why a structured dump and not a pickle of moto's backends: the DynamoDB, S3 and SNS backends
pickle, but SQS's does not (each queue holds a ``threading.Condition``), and a pickle ties the
state folder to moto's private classes, so an upgrade of moto would make it unreadable.

Layout of the folder::

    snapshot.json.gz     items, object metadata and messages (replaced atomically)
    blobs/<sha256>       object bodies, written once per content, dropped when unreferenced

Messages that were in flight come back visible: the consumer that held them is gone. Their
receive counts and ages are kept, so the redrive to a DLQ still happens on time.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["SNAPSHOT_FILE", "Snapshotter", "dump", "load"]

SNAPSHOT_FILE = "snapshot.json.gz"
_BLOBS = "blobs"
_FORMAT = 1


def _backends(service: str) -> list[tuple[str, str, Any]]:
    """(account, region, backend) for every backend of ``service`` moto has created."""
    from moto.backends import get_backend

    found = []
    for account, regional in list(get_backend(service).items()):  # type: ignore[call-overload]
        for region, backend in list(regional.items()):
            found.append((account, region, backend))
    return found


def _key_of(table: Any, item: Any) -> dict[str, Any]:
    key = {table.hash_key_attr: item.hash_key.to_json()}
    if table.range_key_attr is not None and item.range_key is not None:
        key[table.range_key_attr] = item.range_key.to_json()
    return key


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = {}
    for name, value in attributes.items():
        value = dict(value)
        if isinstance(value.get("BinaryValue"), bytes):
            value["BinaryValue"] = {"base64": base64.b64encode(value["BinaryValue"]).decode()}
        plain[name] = value
    return plain


def _message_attributes_back(attributes: dict[str, Any]) -> dict[str, Any]:
    restored: dict[str, Any] = {}
    for name, value in attributes.items():
        value = dict(value)
        if isinstance(value.get("BinaryValue"), dict):
            value["BinaryValue"] = base64.b64decode(value["BinaryValue"]["base64"])
        restored[name] = value
    return restored


@dataclass
class Dump:
    """What one cut holds; object bodies are bytes until written as blobs."""

    tables: list[dict[str, Any]] = field(default_factory=list)
    buckets: list[dict[str, Any]] = field(default_factory=list)
    queues: list[dict[str, Any]] = field(default_factory=list)
    bodies: dict[tuple[str, str, str], bytes] = field(default_factory=dict)


def _base64_text(value: object) -> str:
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"cannot snapshot a value of type {type(value).__name__}")


def _binary_back(value: dict[str, Any]) -> dict[str, Any]:
    """An attribute value as moto holds it: binary values as bytes again, also nested."""
    (kind, inner), *_ = value.items()
    if kind == "B" and isinstance(inner, str):
        return {"B": base64.b64decode(inner)}
    if kind == "BS":
        return {"BS": [base64.b64decode(v) if isinstance(v, str) else v for v in inner]}
    if kind == "M":
        return {"M": {k: _binary_back(v) for k, v in inner.items()}}
    if kind == "L":
        return {"L": [_binary_back(v) for v in inner]}
    return value


def dump(known_blobs: dict[tuple[str, str, str, str], str]) -> Dump:
    """Everything in moto's DynamoDB, S3 and SQS backends; call it holding the state lock.

    ``known_blobs`` maps (bucket, key, etag, last modified) to an already written blob, so an
    unchanged object is not read again; the bodies of the others are in ``Dump.bodies``.
    """
    result = Dump()
    for account, region, backend in _backends("dynamodb"):
        for name, table in backend.tables.items():
            items = [item.to_json()["Attributes"] for item in table.all_items()]
            # Serialised now: the dicts share lists with moto's live items. Binary values are
            # bytes in moto; they are kept as the base64 text DynamoDB's JSON carries.
            result.tables.append(
                {
                    "account": account,
                    "region": region,
                    "table": name,
                    "items": json.dumps(items, default=_base64_text),
                }
            )
    for account, region, backend in _backends("s3"):
        for name, bucket in backend.buckets.items():
            objects = []
            for key_name, key in bucket.keys.items():
                if not hasattr(key, "value"):
                    continue  # a delete marker: the object is gone
                stamp = key.last_modified.isoformat()
                known = known_blobs.get((name, key_name, key.etag, stamp))
                if known is None:
                    result.bodies[(name, key_name, stamp)] = bytes(key.value)
                objects.append(
                    {
                        "key": key_name,
                        "etag": key.etag,
                        "blob": known,
                        "metadata": dict(key.metadata),
                        "last_modified": stamp,
                        "checksum_algorithm": getattr(key, "checksum_algorithm", None),
                        "checksum_value": getattr(key, "checksum_value", None),
                    }
                )
            result.buckets.append(
                {"account": account, "region": region, "bucket": name, "objects": objects}
            )
    for account, region, backend in _backends("sqs"):
        for name, queue in backend.queues.items():
            messages = [
                {
                    "id": m.id,
                    "body": m.body,
                    "attributes": _message_attributes(m.message_attributes),
                    "system_attributes": m.system_attributes,
                    "sent_timestamp": m.sent_timestamp,
                    "first_receive_timestamp": m.approximate_first_receive_timestamp,
                    "receive_count": m.approximate_receive_count,
                    "delayed_until": m.delayed_until,
                    "group_id": m.group_id,
                    "deduplication_id": m.deduplication_id,
                    "sequence_number": m.sequence_number,
                    "sender_id": m.sender_id,
                }
                for m in queue._messages
            ]
            result.queues.append(
                {"account": account, "region": region, "queue": name, "messages": messages}
            )
    return result


@dataclass
class Restored:
    """What a restore put back, and what it could not (its resource does not exist)."""

    items: int = 0
    objects: int = 0
    messages: int = 0
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "objects": self.objects,
            "messages": self.messages,
            "skipped": self.skipped,
        }


def load(snapshot: dict[str, Any], blobs: Path) -> Restored:
    """Put a snapshot's data into the existing resources; call it holding the state lock.

    A table's and a queue's contents are replaced, an object is overwritten: loading twice
    gives the same state as loading once.
    """
    from moto.backends import get_backend
    from moto.sqs.models import Message

    restored = Restored()
    dynamodb: Any = get_backend("dynamodb")
    for entry in snapshot.get("dynamodb", []):
        table_backend = dynamodb[entry["account"]][entry["region"]]
        table = table_backend.tables.get(entry["table"])
        items = json.loads(entry["items"])
        if table is None:
            restored.skipped.append(f"table {entry['table']} ({len(items)} items)")
            continue
        for item in table.all_items():
            table_backend.delete_item(table.name, _key_of(table, item))
        for item in items:
            table_backend.put_item(table.name, {k: _binary_back(v) for k, v in item.items()})
        restored.items += len(items)
    s3: Any = get_backend("s3")
    for entry in snapshot.get("s3", []):
        bucket_backend = s3[entry["account"]][entry["region"]]
        bucket = bucket_backend.buckets.get(entry["bucket"])
        if bucket is None:
            restored.skipped.append(f"bucket {entry['bucket']} ({len(entry['objects'])} objects)")
            continue
        for obj in entry["objects"]:
            body = (blobs / obj["blob"]).read_bytes()
            key = bucket_backend.put_object(
                entry["bucket"], obj["key"], body, disable_notification=True
            )
            key.set_metadata(dict(obj["metadata"]), replace=True)
            key.last_modified = datetime.fromisoformat(obj["last_modified"])
            if obj.get("checksum_algorithm"):
                key.checksum_algorithm = obj["checksum_algorithm"]
                key.checksum_value = obj["checksum_value"]
            restored.objects += 1
    sqs: Any = get_backend("sqs")
    for entry in snapshot.get("sqs", []):
        queue = sqs[entry["account"]][entry["region"]].queues.get(entry["queue"])
        if queue is None:
            if entry["messages"]:
                restored.skipped.append(
                    f"queue {entry['queue']} ({len(entry['messages'])} messages)"
                )
            continue
        messages = []
        for saved in entry["messages"]:
            message = Message(saved["id"], saved["body"], saved["system_attributes"])
            message.message_attributes = _message_attributes_back(saved["attributes"])
            message.sent_timestamp = saved["sent_timestamp"]
            message.approximate_first_receive_timestamp = saved["first_receive_timestamp"]
            message.approximate_receive_count = saved["receive_count"]
            message.delayed_until = saved["delayed_until"]
            message.group_id = saved["group_id"]
            message.deduplication_id = saved["deduplication_id"]
            message.sequence_number = saved["sequence_number"]
            message.sender_id = saved["sender_id"]
            messages.append(message)
        with queue._messages_lock:
            queue._messages = messages
            queue._pending_messages = set()
            queue._messages_lock.notify_all()
        restored.messages += len(messages)
    return restored


def _write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves the old file or the new, never half."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


class Snapshotter:
    """Writes and reads the snapshot of one state folder; ``take`` and ``restore`` are routes."""

    def __init__(self, folder: Path, lock: Any, changes: Any) -> None:
        self._folder = folder
        self._blobs = folder / _BLOBS
        self._lock = lock
        self._changes = changes  # () -> int: requests that may have changed state so far
        self._busy = threading.Lock()
        self._known: dict[tuple[str, str, str, str], str] = {}
        self._taken_at_change: int | None = None

    @property
    def path(self) -> Path:
        return self._folder / SNAPSHOT_FILE

    def take(self) -> tuple[int, dict[str, Any]]:
        """Write one consistent cut; skipped when no request could have changed anything."""
        with self._busy:
            started = time.monotonic()
            self._blobs.mkdir(parents=True, exist_ok=True)
            with self._lock.exclusive():
                change = self._changes()
                if change == self._taken_at_change and self.path.exists():
                    return 200, {"written": False, "reason": "unchanged"}
                cut = dump(self._known)
            locked = time.monotonic() - started
            for (bucket, key, stamp), body in cut.bodies.items():
                digest = hashlib.sha256(body).hexdigest()
                blob = self._blobs / digest
                if not blob.exists():
                    _write_atomically(blob, body)
                for obj in next(b for b in cut.buckets if b["bucket"] == bucket)["objects"]:
                    if obj["key"] == key and obj["last_modified"] == stamp:
                        obj["blob"] = digest
                        self._known[(bucket, key, obj["etag"], stamp)] = digest
            document = {
                "format": _FORMAT,
                "taken_at": datetime.now(UTC).isoformat(),
                "dynamodb": cut.tables,
                "s3": cut.buckets,
                "sqs": cut.queues,
            }
            _write_atomically(
                self.path, gzip.compress(json.dumps(document).encode(), compresslevel=1)
            )
            self._taken_at_change = change
            referenced = {o["blob"] for b in cut.buckets for o in b["objects"]}
            for blob in self._blobs.iterdir():
                if blob.name not in referenced and not blob.name.startswith("."):
                    blob.unlink(missing_ok=True)
            self._known = {k: v for k, v in self._known.items() if v in referenced}
            return 200, {
                "written": True,
                "items": sum(len(json.loads(t["items"])) for t in cut.tables),
                "objects": len(referenced),
                "messages": sum(len(q["messages"]) for q in cut.queues),
                "locked_seconds": round(locked, 3),
                "seconds": round(time.monotonic() - started, 3),
            }

    def restore(self) -> tuple[int, dict[str, Any]]:
        """Load the snapshot into the resources that exist; 200 with ``found: false`` if none."""
        with self._busy:
            if not self.path.exists():
                return 200, {"found": False}
            document = json.loads(gzip.decompress(self.path.read_bytes()))
            if document.get("format") != _FORMAT:
                return 409, {"error": f"{self.path} has format {document.get('format')!r}"}
            with self._lock.exclusive():
                restored = load(document, self._blobs)
                # What was just loaded is what the file holds: no need to write it again.
                self._taken_at_change = self._changes()
            for bucket in document.get("s3", []):
                for obj in bucket["objects"]:
                    key = (bucket["bucket"], obj["key"], obj["etag"], obj["last_modified"])
                    self._known[key] = obj["blob"]
            return 200, {"found": True, "taken_at": document.get("taken_at"), **restored.as_dict()}
