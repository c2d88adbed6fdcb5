"""Idempotent steps for the topic, queues and subscriptions; ``apply`` and ``replicas`` use them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.errors import ConfigurationError
from shared.infra.changes import Action, Change
from shared.infra.resources import QueueSpec, TopicSpec, queue_policy

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sns.type_defs import SubscriptionTypeDef
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.literals import QueueAttributeNameType

__all__ = [
    "QueueState",
    "ensure_queue",
    "ensure_subscription",
    "ensure_topic",
    "find_queue",
    "find_topic_arn",
    "list_subscriptions",
    "queue_arn",
]


@dataclass(frozen=True)
class QueueState:
    """Where a queue is, once it exists."""

    name: str
    url: str
    arn: str


async def find_topic_arn(sns: SNSClient, name: str) -> str | None:
    """The ARN of the topic called ``name``, or None when it does not exist."""
    async for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = topic.get("TopicArn", "")
            if arn.rsplit(":", 1)[-1] == name:
                return arn
    return None


async def ensure_topic(sns: SNSClient, topic: TopicSpec) -> tuple[Change, str]:
    """Create the topic unless it exists; returns what happened and its ARN."""
    existing = await find_topic_arn(sns, topic.name)
    if existing is not None:
        return Change("topic", topic.name, Action.UNCHANGED), existing
    created = await sns.create_topic(Name=topic.name)
    return Change("topic", topic.name, Action.CREATED), created["TopicArn"]


async def find_queue(sqs: SQSClient, name: str) -> str | None:
    """The URL of the queue called ``name``, or None when it does not exist."""
    try:
        return (await sqs.get_queue_url(QueueName=name))["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        return None


async def queue_arn(sqs: SQSClient, url: str) -> str:
    attributes = await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def _normalized(name: str, value: str) -> Any:
    """Attribute values compared by meaning: AWS may reformat JSON and send numbers as strings."""
    if name == "RedrivePolicy":
        policy = json.loads(value) if value else {}
        return (policy.get("deadLetterTargetArn"), int(policy.get("maxReceiveCount", 0)))
    if name == "Policy":
        return json.loads(value) if value else None
    return value


async def ensure_queue(
    sqs: SQSClient,
    queue: QueueSpec,
    *,
    dead_letter_arn: str | None = None,
    topic_arn: str | None = None,
) -> tuple[Change, QueueState]:
    """Create the queue, or put back the attributes that differ from the spec."""
    url = await find_queue(sqs, queue.name)
    if url is None:
        # The queue policy names the queue's own ARN, which AWS only tells once the queue exists.
        base = queue.attributes(dead_letter_arn=dead_letter_arn, policy=None)
        url = (await sqs.create_queue(QueueName=queue.name, Attributes=base))["QueueUrl"]
        arn = await queue_arn(sqs, url)
        if queue.subscribed and topic_arn is not None:
            await sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": queue_policy(arn, topic_arn)}
            )
        return Change("queue", queue.name, Action.CREATED), QueueState(queue.name, url, arn)

    current = (await sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]))["Attributes"]
    arn = current["QueueArn"]
    policy = queue_policy(arn, topic_arn) if queue.subscribed and topic_arn is not None else None
    wanted = queue.attributes(dead_letter_arn=dead_letter_arn, policy=policy)
    differing: dict[QueueAttributeNameType, str] = {
        name: value
        for name, value in wanted.items()
        if _normalized(name, current.get(name, "")) != _normalized(name, value)
    }
    state = QueueState(queue.name, url, arn)
    if not differing:
        return Change("queue", queue.name, Action.UNCHANGED), state
    await sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
    detail = "set " + ", ".join(sorted(differing))
    return Change("queue", queue.name, Action.UPDATED, detail), state


async def list_subscriptions(sns: SNSClient, topic_arn: str) -> list[SubscriptionTypeDef]:
    """Every subscription of the topic (all pages)."""
    found: list[SubscriptionTypeDef] = []
    paginator = sns.get_paginator("list_subscriptions_by_topic")
    async for page in paginator.paginate(TopicArn=topic_arn):
        found.extend(page.get("Subscriptions", []))
    return found


def _subscription_value(name: str, value: str | None) -> Any:
    if name == "FilterPolicy":
        policy = json.loads(value) if value else {}
        return {key: sorted(map(json.dumps, values)) for key, values in policy.items()}
    if name == "FilterPolicyScope":
        return value or "MessageAttributes"  # the default when AWS leaves it out
    if name == "RawMessageDelivery":
        return (value or "false").lower()
    return value


async def ensure_subscription(
    sns: SNSClient,
    topic_arn: str,
    queue: QueueSpec,
    state: QueueState,
    existing: list[SubscriptionTypeDef] | None = None,
) -> tuple[Change, str]:
    """Subscribe the queue to the topic with the spec's filter, or fix the attributes that differ.

    ``existing`` is the topic's subscription list when the caller already has it.
    """
    if not queue.subscribed:
        raise ConfigurationError(f"queue {queue.name} receives no event types")
    subscriptions = existing if existing is not None else await list_subscriptions(sns, topic_arn)
    ours = [
        s
        for s in subscriptions
        if s.get("Protocol") == "sqs"
        and s.get("Endpoint") == state.arn
        and s.get("SubscriptionArn", "").startswith("arn:")  # not "PendingConfirmation"
    ]
    wanted = queue.subscription_attributes()
    if not ours:
        created = await sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=state.arn,
            Attributes=wanted,
            ReturnSubscriptionArn=True,
        )
        return Change("subscription", queue.name, Action.CREATED), created["SubscriptionArn"]

    arn = ours[0]["SubscriptionArn"]
    current = (await sns.get_subscription_attributes(SubscriptionArn=arn))["Attributes"]
    differing = [
        name
        for name, value in wanted.items()
        if _subscription_value(name, current.get(name)) != _subscription_value(name, value)
    ]
    # The scope must be right before the policy is read against it.
    for name in sorted(differing, key=lambda n: n != "FilterPolicyScope"):
        await sns.set_subscription_attributes(
            SubscriptionArn=arn, AttributeName=name, AttributeValue=wanted[name]
        )
    if not differing:
        return Change("subscription", queue.name, Action.UNCHANGED), arn
    detail = "set " + ", ".join(sorted(differing))
    return Change("subscription", queue.name, Action.UPDATED, detail), arn
