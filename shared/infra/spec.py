"""The whole deployment, defined once from its prefix (DESIGN §4).

Every name, queue attribute, subscription filter, table key and index lives here; ``apply`` makes
AWS (or the stand-in) match it, ``render`` shows it, and the services take their resource names
from it rather than spelling them again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

from contracts.topology import QUEUE_ROUTES, REPLICA_ROLE, TOPIC_SUFFIX
from shared.errors import ConfigurationError
from shared.infra.resources import (
    DEFAULT_VISIBILITY_SECONDS,
    DLQ_RETENTION_SECONDS,
    MAX_RECEIVE_COUNT,
    BucketSpec,
    IndexSpec,
    KeyAttribute,
    QueueSpec,
    TableSpec,
    TopicSpec,
    filter_policy,
    queue_policy,
    redrive_policy,
)

__all__ = [
    "DLQ_RETENTION_SECONDS",
    "MAX_RECEIVE_COUNT",
    "BucketSpec",
    "IndexSpec",
    "InfraSpec",
    "KeyAttribute",
    "QueueSpec",
    "TableSpec",
    "TopicSpec",
    "filter_policy",
    "queue_policy",
    "redrive_policy",
]

_REPLICA_RETENTION_SECONDS: Final = 24 * 3600  # a replica that is away longer reads the pointer
# Training holds one message for a whole run; the consumer extends it, this is the floor.
_TRAINING_VISIBILITY_SECONDS: Final = 900
_INSTANCE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def _table(prefix: str, name: str, description: str, hash_key: str, **more: Any) -> TableSpec:
    return TableSpec(f"{prefix}-{name}", description, KeyAttribute(hash_key), **more)


def _by_time() -> IndexSpec:
    return IndexSpec("by_time", KeyAttribute("day"), KeyAttribute("created_at"))


def _tables(prefix: str) -> tuple[TableSpec, ...]:
    pk, sk = KeyAttribute("pk"), KeyAttribute("sk")
    return (
        _table(
            prefix,
            "predictions",
            "Every scored comment; by_time lists a day's predictions in time order. TTL.",
            "prediction_id",
            indexes=(_by_time(),),
            ttl_attribute="expires_at",
        ),
        _table(
            prefix,
            "feedback",
            "Feedback and moderator labels, by day or by the prediction they judge.",
            "feedback_id",
            indexes=(_by_time(), IndexSpec("by_prediction", KeyAttribute("prediction_id"))),
        ),
        _table(
            prefix,
            "reviews",
            "The moderation queue; by_status lists pending items by priority, then age.",
            "prediction_id",
            indexes=(IndexSpec("by_status", KeyAttribute("status"), KeyAttribute("queue_key")),),
        ),
        TableSpec(
            f"{prefix}-rollups",
            "Monitoring counters per minute, hour and day; minute and hour items expire. TTL.",
            pk,
            sk,
            ttl_attribute="expires_at",
        ),
        _table(
            prefix,
            "processed",
            "Processed-event markers, keyed '<consumer>#<event_id>'. TTL.",
            "pk",
            ttl_attribute="expires_at",
        ),
        TableSpec(f"{prefix}-alerts", "Alert state and history of the monitoring rules.", pk, sk),
        TableSpec(f"{prefix}-models", "Model history: every published or rejected model.", pk, sk),
        _table(prefix, "api-keys", "API keys, stored only as their sha256.", "key_hash"),
        _table(prefix, "leases", "Leases, such as the single-flight training lease.", "name"),
    )


@dataclass(frozen=True)
class InfraSpec:
    """Every resource of one deployment. Build it with :meth:`for_prefix`."""

    prefix: str
    topic: TopicSpec
    queues: tuple[QueueSpec, ...]
    api_dead_letter_queue: QueueSpec
    tables: tuple[TableSpec, ...]
    bucket: BucketSpec

    @classmethod
    def for_prefix(cls, prefix: str) -> InfraSpec:
        """The deployment named ``prefix``; raises ConfigurationError if a name breaks AWS rules."""
        queues: list[QueueSpec] = []
        for role, event_types in QUEUE_ROUTES.items():
            if role == REPLICA_ROLE:
                continue
            name = f"{prefix}-{role}"
            queues.append(
                QueueSpec(
                    f"{name}-dlq",
                    role=role,
                    description=f"What {role} received {MAX_RECEIVE_COUNT} times unhandled.",
                    retention_seconds=DLQ_RETENTION_SECONDS,
                )
            )
            queues.append(
                QueueSpec(
                    name,
                    role=role,
                    description=f"The {role} service's work queue.",
                    visibility_timeout_seconds=(
                        _TRAINING_VISIBILITY_SECONDS
                        if role == "training"
                        else DEFAULT_VISIBILITY_SECONDS
                    ),
                    dead_letter_queue=f"{name}-dlq",
                    event_types=tuple(event_types),
                )
            )
        return cls(
            prefix=prefix,
            topic=TopicSpec(f"{prefix}-{TOPIC_SUFFIX}"),
            queues=tuple(queues),
            api_dead_letter_queue=QueueSpec(
                f"{prefix}-{REPLICA_ROLE}-dlq",
                role=REPLICA_ROLE,
                description="What API replicas left unhandled; shared by every replica queue.",
                retention_seconds=DLQ_RETENTION_SECONDS,
            ),
            tables=_tables(prefix),
            bucket=BucketSpec(f"{prefix}-artifacts"),
        )

    @property
    def static_queues(self) -> tuple[QueueSpec, ...]:
        """Every queue ``ensure`` creates, dead-letter queues before those redriving to them."""
        dead_letters = tuple(q for q in self.queues if not q.subscribed)
        return (
            *dead_letters,
            self.api_dead_letter_queue,
            *(q for q in self.queues if q.subscribed),
        )

    def queue(self, role: str) -> QueueSpec:
        """The work queue of a consumer role (``logger``, ``monitoring``, ``training``)."""
        for queue in self.queues:
            if queue.role == role and queue.subscribed:
                return queue
        raise KeyError(f"no queue for role {role!r}")

    def table(self, short_name: str) -> TableSpec:
        """A table by its name without the prefix, such as ``predictions``."""
        for table in self.tables:
            if table.name == f"{self.prefix}-{short_name}":
                return table
        raise KeyError(f"no table {short_name!r}")

    @property
    def replica_queue_prefix(self) -> str:
        return f"{self.prefix}-{REPLICA_ROLE}-"

    def replica_queue(self, instance: str) -> QueueSpec:
        """The queue of one API replica: ``<prefix>-api-<instance>``, made safe and short enough."""
        if not instance.strip():
            raise ConfigurationError("a replica queue needs a non-empty instance name")
        head = self.replica_queue_prefix
        safe = _INSTANCE_UNSAFE.sub("-", instance.strip()).strip("-") or "x"
        digest = hashlib.sha256(instance.encode()).hexdigest()[:8]
        room = 80 - len(head)
        if len(safe) > room:
            # Keep the name unique when the cut would make two long instance names collide.
            safe = f"{safe[: room - 9]}-{digest}"
        if f"{head}{safe}" == self.api_dead_letter_queue.name:
            safe = f"{safe}-{digest}"
        return QueueSpec(
            f"{head}{safe}",
            role=REPLICA_ROLE,
            description=f"API replica {instance}: model swaps.",
            retention_seconds=_REPLICA_RETENTION_SECONDS,
            dead_letter_queue=self.api_dead_letter_queue.name,
            event_types=tuple(QUEUE_ROUTES[REPLICA_ROLE]),
        )
