"""The spec for people (``toxic infra show``) and for tools (``--json``)."""

from __future__ import annotations

from typing import Any

from shared.infra.spec import (
    MAX_RECEIVE_COUNT,
    IndexSpec,
    InfraSpec,
    KeyAttribute,
    QueueSpec,
    TableSpec,
)

__all__ = ["render_text", "spec_as_dict"]


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def _key(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> str:
    text = f"{hash_key.name} ({hash_key.type})"
    return text if range_key is None else f"{text} + {range_key.name} ({range_key.type})"


def _queue_lines(queue: QueueSpec) -> list[str]:
    lines = [f"  {queue.name}", f"      {queue.description}"]
    settings = (
        f"visibility {_duration(queue.visibility_timeout_seconds)},"
        f" retention {_duration(queue.retention_seconds)}"
    )
    lines.append(f"      {settings}")
    if queue.dead_letter_queue is not None:
        lines.append(
            f"      dead letters -> {queue.dead_letter_queue}"
            f" after {queue.max_receive_count} receives"
        )
    if queue.subscribed:
        lines.append(f"      receives (raw delivery): {', '.join(queue.event_types)}")
    return lines


def _table_lines(table: TableSpec) -> list[str]:
    lines = [f"  {table.name}", f"      {table.description}"]
    lines.append(f"      key: {_key(table.hash_key, table.range_key)}")
    for index in table.indexes:
        lines.append(f"      index {index.name}: {_key(index.hash_key, index.range_key)}")
    if table.ttl_attribute is not None:
        lines.append(f"      TTL on {table.ttl_attribute} (epoch seconds)")
    return lines


def render_text(spec: InfraSpec) -> str:
    """Every resource of the deployment, one block each, in the order ``ensure`` applies them."""
    replica = spec.replica_queue("INSTANCE")
    lines = [
        f"Deployment {spec.prefix!r}",
        "",
        "Topic (SNS): every event is published here with an event_type message attribute",
        f"  {spec.topic.name}",
        "",
        "Queues (SQS)",
    ]
    for queue in spec.static_queues:
        lines.extend(_queue_lines(queue))
    lines.extend(
        [
            f"  {spec.replica_queue_prefix}<instance>  (one per API replica, made at its start)",
            f"      dead letters -> {replica.dead_letter_queue} after {MAX_RECEIVE_COUNT} receives",
            f"      receives (raw delivery): {', '.join(replica.event_types)}",
            "      tagged with a heartbeat; `toxic infra gc` removes those of dead replicas",
            "",
            "Tables (DynamoDB, on-demand)",
        ]
    )
    for table in spec.tables:
        lines.extend(_table_lines(table))
    lines.extend(
        [
            "",
            "Bucket (S3): model artifacts, training-set snapshots, MLflow artifacts",
            f"  {spec.bucket.name}",
            "      bucket names are global on AWS: the prefix must make this one unique",
        ]
    )
    return "\n".join(lines)


def _key_dict(hash_key: KeyAttribute, range_key: KeyAttribute | None) -> dict[str, Any]:
    key: dict[str, Any] = {"hash": {"name": hash_key.name, "type": hash_key.type}}
    if range_key is not None:
        key["range"] = {"name": range_key.name, "type": range_key.type}
    return key


def _index_dict(index: IndexSpec) -> dict[str, Any]:
    return {"name": index.name, "projection": "ALL", **_key_dict(index.hash_key, index.range_key)}


def _queue_dict(queue: QueueSpec) -> dict[str, Any]:
    return {
        "name": queue.name,
        "role": queue.role,
        "description": queue.description,
        "visibility_timeout_seconds": queue.visibility_timeout_seconds,
        "retention_seconds": queue.retention_seconds,
        "dead_letter_queue": queue.dead_letter_queue,
        "max_receive_count": queue.max_receive_count if queue.dead_letter_queue else None,
        "event_types": list(queue.event_types),
        "subscription": queue.subscription_attributes() if queue.subscribed else None,
    }


def spec_as_dict(spec: InfraSpec) -> dict[str, Any]:
    """The spec as plain JSON-ready data."""
    replica = spec.replica_queue("INSTANCE")
    return {
        "prefix": spec.prefix,
        "topic": spec.topic.name,
        "queues": [_queue_dict(q) for q in spec.static_queues],
        "replica_queues": {
            **_queue_dict(replica),
            "name": f"{spec.replica_queue_prefix}<instance>",
            "description": "One per API replica: model swaps.",
        },
        "tables": [
            {
                "name": table.name,
                "description": table.description,
                **_key_dict(table.hash_key, table.range_key),
                "indexes": [_index_dict(index) for index in table.indexes],
                "ttl_attribute": table.ttl_attribute,
                "billing_mode": "PAY_PER_REQUEST",
            }
            for table in spec.tables
        ],
        "bucket": spec.bucket.name,
    }
