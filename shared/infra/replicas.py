"""Per-replica API queues: created at start, kept alive by a heartbeat tag, removed at stop.

A replica that dies without cleaning up leaves its queue behind; :func:`gc` removes queues whose
heartbeat is older than a threshold. Only queues tagged as replica queues of this deployment are
ever considered, so the static queues and the shared API dead-letter queue are never touched.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from shared.errors import ConfigurationError
from shared.infra.messaging import (
    ensure_queue,
    ensure_subscription,
    find_queue,
    find_topic_arn,
    list_subscriptions,
    queue_arn,
)
from shared.infra.spec import InfraSpec

if TYPE_CHECKING:
    from shared.aws import AwsClients

__all__ = [
    "DEFAULT_HEARTBEAT_INTERVAL_SECONDS",
    "DEFAULT_STALE_AFTER_SECONDS",
    "ENDPOINT_TAG",
    "HEARTBEAT_TAG",
    "REPLICA_TAG_VALUE",
    "ROLE_TAG",
    "LiveReplica",
    "ReplicaQueue",
    "create_replica_queue",
    "gc",
    "heartbeat",
    "live_replicas",
    "remove_replica_queue",
]

HEARTBEAT_TAG: Final = "heartbeat"
ENDPOINT_TAG: Final = "endpoint"
ROLE_TAG: Final = "role"
DEPLOYMENT_TAG: Final = "deployment"
REPLICA_TAG_VALUE: Final = "api-replica"
# A replica beats every minute; gc waits ten beats before it calls a queue abandoned.
DEFAULT_HEARTBEAT_INTERVAL_SECONDS: Final = 60
DEFAULT_STALE_AFTER_SECONDS: Final = 600


@dataclass(frozen=True)
class ReplicaQueue:
    """One API replica's queue and its subscription to the topic."""

    instance: str
    name: str
    url: str
    arn: str
    subscription_arn: str


@dataclass(frozen=True)
class LiveReplica:
    """A replica queue whose heartbeat is fresh, with the HTTP root its replica announced."""

    name: str
    url: str
    endpoint: str | None
    heartbeat: float


def _tags(spec: InfraSpec, now: float, endpoint: str | None) -> dict[str, str]:
    tags = {
        ROLE_TAG: REPLICA_TAG_VALUE,
        DEPLOYMENT_TAG: spec.prefix,
        HEARTBEAT_TAG: str(int(now)),
    }
    if endpoint is not None:
        tags[ENDPOINT_TAG] = endpoint
    return tags


async def create_replica_queue(
    clients: AwsClients,
    spec: InfraSpec,
    instance: str,
    *,
    now: float | None = None,
    endpoint: str | None = None,
) -> ReplicaQueue:
    """Create (or take over) this replica's queue and subscribe it to model announcements.

    Needs the topic and the API dead-letter queue, which ``toxic infra ensure`` creates.
    ``endpoint`` (the replica's HTTP root) is tagged so the monitoring can read its ``/readyz``.
    """
    queue = spec.replica_queue(instance)
    topic_arn = await find_topic_arn(clients.sns, spec.topic.name)
    dead_letter_url = await find_queue(clients.sqs, spec.api_dead_letter_queue.name)
    if topic_arn is None or dead_letter_url is None:
        raise ConfigurationError(
            f"deployment {spec.prefix!r} has no topic or API dead-letter queue yet:"
            " run `toxic infra ensure` first"
        )
    dead_letter_arn = await queue_arn(clients.sqs, dead_letter_url)
    _, state = await ensure_queue(
        clients.sqs, queue, dead_letter_arn=dead_letter_arn, topic_arn=topic_arn
    )
    # Tag before subscribing: gc only ever considers queues carrying the replica tags.
    moment = time.time() if now is None else now
    await clients.sqs.tag_queue(QueueUrl=state.url, Tags=_tags(spec, moment, endpoint))
    _, subscription_arn = await ensure_subscription(clients.sns, topic_arn, queue, state)
    return ReplicaQueue(instance, queue.name, state.url, state.arn, subscription_arn)


async def heartbeat(
    clients: AwsClients, replica: ReplicaQueue, *, now: float | None = None
) -> None:
    """Say this replica is alive, so gc leaves its queue alone."""
    moment = time.time() if now is None else now
    await clients.sqs.tag_queue(QueueUrl=replica.url, Tags={HEARTBEAT_TAG: str(int(moment))})


async def _unsubscribe(clients: AwsClients, subscription_arn: str) -> None:
    with contextlib.suppress(clients.sns.exceptions.NotFoundException):
        await clients.sns.unsubscribe(SubscriptionArn=subscription_arn)


async def _delete_queue(clients: AwsClients, url: str) -> None:
    with contextlib.suppress(clients.sqs.exceptions.QueueDoesNotExist):
        await clients.sqs.delete_queue(QueueUrl=url)


async def remove_replica_queue(clients: AwsClients, replica: ReplicaQueue) -> None:
    """Unsubscribe and delete this replica's queue; removing it twice is harmless."""
    await _unsubscribe(clients, replica.subscription_arn)
    await _delete_queue(clients, replica.url)


async def _replica_queue_urls(clients: AwsClients, spec: InfraSpec) -> list[str]:
    urls: list[str] = []
    paginator = clients.sqs.get_paginator("list_queues")
    async for page in paginator.paginate(
        QueueNamePrefix=spec.replica_queue_prefix, PaginationConfig={"PageSize": 1000}
    ):
        urls.extend(page.get("QueueUrls", []))
    return urls


def _heartbeat_of(tags: dict[str, str], spec: InfraSpec) -> float | None:
    """The last heartbeat of a replica queue of this deployment; None when not such a queue."""
    if tags.get(ROLE_TAG) != REPLICA_TAG_VALUE or tags.get(DEPLOYMENT_TAG) != spec.prefix:
        return None
    try:
        return float(tags.get(HEARTBEAT_TAG, ""))
    except ValueError:
        return 0.0  # tagged as ours but never beat: as good as dead


async def gc(
    clients: AwsClients,
    spec: InfraSpec,
    stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
    *,
    now: float | None = None,
) -> list[str]:
    """Remove replica queues (and their subscriptions) whose heartbeat is older than the threshold.

    Returns the names of the queues removed.
    """
    moment = time.time() if now is None else now
    protected = {q.name for q in spec.static_queues}
    topic_arn = await find_topic_arn(clients.sns, spec.topic.name)
    subscriptions = await list_subscriptions(clients.sns, topic_arn) if topic_arn else []
    removed: list[str] = []
    for url in await _replica_queue_urls(clients, spec):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        if name in protected:
            continue
        try:
            tags = (await clients.sqs.list_queue_tags(QueueUrl=url)).get("Tags", {})
            beat = _heartbeat_of(tags, spec)
            if beat is None or moment - beat <= stale_after_seconds:
                continue
            arn = await queue_arn(clients.sqs, url)
        except clients.sqs.exceptions.QueueDoesNotExist:
            continue  # removed by its replica or another gc meanwhile
        for subscription in subscriptions:
            subscription_arn = subscription.get("SubscriptionArn", "")
            if subscription.get("Endpoint") == arn and subscription_arn.startswith("arn:"):
                await _unsubscribe(clients, subscription_arn)
        await _delete_queue(clients, url)
        removed.append(name)
    return removed


async def live_replicas(
    clients: AwsClients,
    spec: InfraSpec,
    stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
    *,
    now: float | None = None,
) -> list[LiveReplica]:
    """The replica queues of this deployment whose heartbeat is fresher than the threshold."""
    moment = time.time() if now is None else now
    protected = {q.name for q in spec.static_queues}
    found: list[LiveReplica] = []
    for url in await _replica_queue_urls(clients, spec):
        name = url.rstrip("/").rsplit("/", 1)[-1]
        if name in protected:
            continue
        try:
            tags = (await clients.sqs.list_queue_tags(QueueUrl=url)).get("Tags", {})
        except clients.sqs.exceptions.QueueDoesNotExist:
            continue
        beat = _heartbeat_of(tags, spec)
        if beat is None or moment - beat > stale_after_seconds:
            continue
        found.append(LiveReplica(name, url, tags.get(ENDPOINT_TAG), beat))
    return sorted(found, key=lambda replica: replica.name)
