"""The whole deployment, defined once from its prefix (DESIGN §4).

Every name, queue attribute, subscription filter, table key and index lives here; ``apply`` makes
AWS (or the stand-in) match it, ``render`` shows it, and the services take their resource names
from it rather than spelling them again.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from contracts.topology import EVENT_TYPE_ATTRIBUTE, QUEUE_ROUTES, REPLICA_ROLE, TOPIC_SUFFIX
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

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

MAX_RECEIVE_COUNT: Final = 5
DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600  # the SQS maximum: time to look at what failed
_DEFAULT_RETENTION_SECONDS: Final = 4 * 24 * 3600
_REPLICA_RETENTION_SECONDS: Final = 24 * 3600  # a replica that is away longer reads the pointer
_DEFAULT_VISIBILITY_SECONDS: Final = 30
# Training holds one message for a whole run; the consumer extends it, this is the floor.
_TRAINING_VISIBILITY_SECONDS: Final = 900

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_FORBIDDEN_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_FORBIDDEN_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
_INSTANCE_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

AttributeType = Literal["S", "N", "B"]


def _check(pattern: re.Pattern[str], kind: str, name: str, rule: str) -> None:
    if not pattern.fullmatch(name):
        raise ConfigurationError(f"{kind} name {name!r} is not valid on AWS: {rule}")


def _check_bucket(name: str) -> None:
    rule = "3-63 characters of a-z, 0-9, '.' and '-', starting and ending with a letter or digit"
    _check(_BUCKET_NAME, "bucket", name, rule)
    if ".." in name or re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        raise ConfigurationError(f"bucket name {name!r} is not valid on AWS: {rule}")
    if name.startswith(_BUCKET_FORBIDDEN_PREFIXES) or name.endswith(_BUCKET_FORBIDDEN_SUFFIXES):
        raise ConfigurationError(f"bucket name {name!r} uses a prefix or suffix AWS reserves")


@dataclass(frozen=True)
class TopicSpec:
    """The one SNS topic every event is published to."""

    name: str

    def __post_init__(self) -> None:
        _check(_TOPIC_NAME, "topic", self.name, "1-256 characters of A-Z, a-z, 0-9, '_' and '-'")


@dataclass(frozen=True)
class QueueSpec:
    """One SQS queue; subscribed to the topic when it has ``event_types``."""

    name: str
    role: str
    description: str
    visibility_timeout_seconds: int = _DEFAULT_VISIBILITY_SECONDS
    retention_seconds: int = _DEFAULT_RETENTION_SECONDS
    dead_letter_queue: str | None = None
    max_receive_count: int = MAX_RECEIVE_COUNT
    event_types: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(_QUEUE_NAME, "queue", self.name, "1-80 characters of A-Z, a-z, 0-9, '_' and '-'")

    @property
    def subscribed(self) -> bool:
        return bool(self.event_types)

    def attributes(
        self, *, dead_letter_arn: str | None, policy: str | None
    ) -> dict[QueueAttributeNameType, str]:
        """The SQS attributes this queue must carry, given the ARNs only AWS knows."""
        attributes: dict[QueueAttributeNameType, str] = {
            "VisibilityTimeout": str(self.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(self.retention_seconds),
        }
        if self.dead_letter_queue is not None:
            if dead_letter_arn is None:
                raise ValueError(f"queue {self.name} needs the ARN of {self.dead_letter_queue}")
            attributes["RedrivePolicy"] = redrive_policy(dead_letter_arn, self.max_receive_count)
        if policy is not None:
            attributes["Policy"] = policy
        return attributes

    def subscription_attributes(self) -> dict[str, str]:
        """The SNS subscription attributes: raw delivery, filtered on the event type."""
        return {
            "RawMessageDelivery": "true",
            "FilterPolicy": filter_policy(self.event_types),
            "FilterPolicyScope": "MessageAttributes",
        }


@dataclass(frozen=True)
class KeyAttribute:
    name: str
    type: AttributeType = "S"


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index, projecting every attribute."""

    name: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None

    @property
    def key_attributes(self) -> tuple[KeyAttribute, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)


@dataclass(frozen=True)
class TableSpec:
    """One DynamoDB table, billed per request."""

    name: str
    description: str
    hash_key: KeyAttribute
    range_key: KeyAttribute | None = None
    indexes: tuple[IndexSpec, ...] = ()
    ttl_attribute: str | None = None

    def __post_init__(self) -> None:
        _check(_TABLE_NAME, "table", self.name, "3-255 characters of A-Z, a-z, 0-9, '_.-'")
        types: dict[str, str] = {}
        for attribute in self.attribute_definitions:
            if types.setdefault(attribute.name, attribute.type) != attribute.type:
                raise ConfigurationError(f"table {self.name}: {attribute.name} has two types")

    @property
    def key_attributes(self) -> tuple[KeyAttribute, ...]:
        return (self.hash_key,) if self.range_key is None else (self.hash_key, self.range_key)

    @property
    def attribute_definitions(self) -> tuple[KeyAttribute, ...]:
        """Every attribute used as a key by the table or an index, once each."""
        seen: dict[str, KeyAttribute] = {}
        for attribute in self.key_attributes + tuple(
            a for index in self.indexes for a in index.key_attributes
        ):
            seen.setdefault(attribute.name, attribute)
        return tuple(seen.values())

    def index(self, name: str) -> IndexSpec:
        for index in self.indexes:
            if index.name == name:
                return index
        raise KeyError(f"table {self.name} has no index {name}")


@dataclass(frozen=True)
class BucketSpec:
    """The S3 bucket for model artifacts, training-set snapshots and MLflow artifacts."""

    name: str

    def __post_init__(self) -> None:
        _check_bucket(self.name)


def filter_policy(event_types: tuple[str, ...]) -> str:
    """The SNS filter policy accepting exactly ``event_types`` in the event-type attribute."""
    return json.dumps({EVENT_TYPE_ATTRIBUTE: sorted(event_types)}, separators=(",", ":"))


def redrive_policy(dead_letter_arn: str, max_receive_count: int) -> str:
    return json.dumps(
        {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": max_receive_count},
        separators=(",", ":"),
    )


def queue_policy(queue_arn: str, topic_arn: str) -> str:
    """An SQS queue policy letting only our topic send to the queue (AWS requires it)."""
    document: dict[str, Any] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "topic-sends",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    return json.dumps(document, separators=(",", ":"))


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
        TableSpec(f"{prefix}-rollups", "Monitoring counters per minute, hour and day.", pk, sk),
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
                    description=f"Messages the {role} service failed {MAX_RECEIVE_COUNT} times.",
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
                        else _DEFAULT_VISIBILITY_SECONDS
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
                description="Messages any API replica failed; shared by every replica queue.",
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
