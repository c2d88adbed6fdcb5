"""The frame every SQS worker runs in: clients opened once, its queue found, stop on a signal.

A worker's ``bootstrap`` builds its handler registry from the opened clients and passes it here;
tests call the same bootstrap with in-memory fakes instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable, Coroutine
from typing import Any

from shared.aws import AwsClients, open_clients
from shared.bus import Consumer, ConsumerStats, HandlerRegistry, Publisher, SnsPublisher, SqsQueue
from shared.errors import ConfigurationError
from shared.infra.messaging import find_queue, find_topic_arn
from shared.infra.spec import InfraSpec
from shared.logs import bound, get_logger
from shared.settings import ConsumerSettings

__all__ = ["default_instance", "open_publisher", "open_queue", "run_worker"]

log = get_logger(__name__)

BuildHandlers = Callable[[AwsClients, Publisher], HandlerRegistry]
# Work a worker does beside consuming (the monitoring's rule evaluation): runs until cancelled.
Background = Callable[[AwsClients, Publisher], Coroutine[Any, Any, None]]


def default_instance() -> str:
    """This process's instance name: host and pid, unique among running replicas."""
    return f"{socket.gethostname()}-{os.getpid()}"


async def open_queue(clients: AwsClients, spec: InfraSpec, role: str) -> SqsQueue:
    """The work queue of ``role`` and its DLQ; a clear error when the infra is not applied."""
    queue = spec.queue(role)
    if queue.dead_letter_queue is None:
        raise ConfigurationError(f"queue {queue.name} has no dead-letter queue in the spec")
    url = await find_queue(clients.sqs, queue.name)
    dlq_url = await find_queue(clients.sqs, queue.dead_letter_queue)
    if url is None or dlq_url is None:
        raise ConfigurationError(
            f"queue {queue.name} or its DLQ does not exist; run `toxic infra ensure` first"
        )
    return SqsQueue(clients.sqs, name=queue.name, url=url, dlq_url=dlq_url)


async def open_publisher(clients: AwsClients, spec: InfraSpec) -> SnsPublisher:
    """The publisher to the deployment's topic; a clear error when it does not exist."""
    arn = await find_topic_arn(clients.sns, spec.topic.name)
    if arn is None:
        raise ConfigurationError(
            f"topic {spec.topic.name} does not exist; run `toxic infra ensure` first"
        )
    return SnsPublisher(clients.sns, arn)


async def run_worker(
    settings: ConsumerSettings,
    role: str,
    build_handlers: BuildHandlers,
    background: Background | None = None,
) -> ConsumerStats:
    """Consume ``role``'s queue until SIGTERM or SIGINT; returns the consumer's counters.

    ``background`` runs beside the consumer and is cancelled when the consumer has stopped.
    """
    spec = InfraSpec.for_prefix(settings.prefix)
    instance = settings.instance or default_instance()
    with bound(service=role, instance=instance):
        async with open_clients(settings) as clients:
            queue = await open_queue(clients, spec, role)
            publisher = await open_publisher(clients, spec)
            consumer = Consumer(
                queue,
                build_handlers(clients, publisher),
                concurrency=settings.concurrency,
                wait_seconds=settings.wait_time_seconds,
                visibility_timeout=(
                    settings.visibility_timeout_seconds
                    or spec.queue(role).visibility_timeout_seconds
                ),
                shutdown_grace=settings.shutdown_grace_seconds,
            )
            task: asyncio.Task[None] | None = None
            if background is not None:
                task = asyncio.create_task(background(clients, publisher), name=f"{role}-bg")
            try:
                await consumer.run_until_signalled()
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            log.info("worker_stopped", **vars(consumer.stats))
            return consumer.stats
