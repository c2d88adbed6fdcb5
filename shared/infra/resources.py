"""The kinds of resource a deployment is made of, and the AWS naming rules they must obey.

Each class refuses, at construction, a name AWS would refuse, so a bad prefix fails before
anything is created.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from contracts.topology import EVENT_TYPE_ATTRIBUTE
from shared.errors import ConfigurationError

if TYPE_CHECKING:
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

__all__ = [
    "DEFAULT_RETENTION_SECONDS",
    "DEFAULT_VISIBILITY_SECONDS",
    "DLQ_RETENTION_SECONDS",
    "MAX_RECEIVE_COUNT",
    "AttributeType",
    "BucketSpec",
    "IndexSpec",
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
DEFAULT_RETENTION_SECONDS: Final = 4 * 24 * 3600
DEFAULT_VISIBILITY_SECONDS: Final = 30

_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_BUCKET_FORBIDDEN_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_FORBIDDEN_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

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
    visibility_timeout_seconds: int = DEFAULT_VISIBILITY_SECONDS
    retention_seconds: int = DEFAULT_RETENTION_SECONDS
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
