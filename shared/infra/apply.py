"""``ensure``: make AWS (or the stand-in) match the spec, idempotently, and say what changed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from shared.infra.changes import Change
from shared.infra.messaging import (
    QueueState,
    ensure_queue,
    ensure_subscription,
    ensure_topic,
    list_subscriptions,
)
from shared.infra.spec import InfraSpec
from shared.infra.storage import ensure_bucket, ensure_table

if TYPE_CHECKING:
    from shared.aws import AwsClients

__all__ = ["ensure"]


async def ensure(clients: AwsClients, spec: InfraSpec) -> list[Change]:
    """Create what is missing, put back what drifted; a second run changes nothing.

    Order matters: the topic before the queue policies naming it, dead-letter queues before the
    queues redriving to them, queues before their subscriptions.
    """
    changes: list[Change] = []
    topic_change, topic_arn = await ensure_topic(clients.sns, spec.topic)
    changes.append(topic_change)

    states: dict[str, QueueState] = {}
    for queue in spec.static_queues:
        dead_letter = states[queue.dead_letter_queue].arn if queue.dead_letter_queue else None
        change, state = await ensure_queue(
            clients.sqs, queue, dead_letter_arn=dead_letter, topic_arn=topic_arn
        )
        changes.append(change)
        states[queue.name] = state

    subscriptions = await list_subscriptions(clients.sns, topic_arn)
    for queue in spec.static_queues:
        if queue.subscribed:
            change, _ = await ensure_subscription(
                clients.sns, topic_arn, queue, states[queue.name], subscriptions
            )
            changes.append(change)

    # Tables are independent of each other, and creating one on AWS takes seconds: in parallel.
    for table_changes in await asyncio.gather(
        *(ensure_table(clients.dynamodb, table) for table in spec.tables)
    ):
        changes.extend(table_changes)
    changes.append(await ensure_bucket(clients.s3, spec.bucket))
    return changes
