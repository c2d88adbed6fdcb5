"""The outbox with the real SNS publisher against moto's server, through a proxy we can cut."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import pytest

from contracts import decode
from services.api.outbox import Outbox, RelayPolicy
from shared.aws import AwsClients, open_clients
from shared.bus import SnsPublisher
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.harness.proxy import TcpProxy

pytestmark = pytest.mark.integration


async def until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def queue_url(clients: AwsClients, name: str) -> str:
    return (await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"]


async def take_all(clients: AwsClients, url: str, expected: int) -> Counter[UUID]:
    """How often each event arrived on the queue: read until ``expected`` came and no more do."""
    seen: Counter[UUID] = Counter()
    async with asyncio.timeout(30):
        while True:
            received = await clients.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            messages = received.get("Messages", [])
            if not messages and seen.total() >= expected:
                return seen
            for message in messages:
                seen[decode(message["Body"]).event_id] += 1
                await clients.sqs.delete_message(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"]
                )


async def test_events_put_while_the_bus_is_cut_wait_on_disk_and_arrive_once_when_it_is_back(
    aws_settings: AwsSettings,
    deployment: InfraSpec,
    bus_proxy: TcpProxy,
    clients: AwsClients,
    tmp_path: Path,
) -> None:
    topic_arn = (await open_publisher(clients, deployment)).topic_arn
    logger_queue = await queue_url(clients, deployment.queue("logger").name)
    # One attempt per AWS call: botocore's own retries would only slow the outage down.
    through_proxy = aws_settings.model_copy(
        update={"endpoint_url": bus_proxy.url, "max_attempts": 1}
    )
    events = [factories.prediction_made() for _ in range(30)]

    async with open_clients(through_proxy) as proxied:
        publisher = SnsPublisher(proxied.sns, topic_arn, max_attempts=2, base_delay=0.01)
        policy = RelayPolicy(backoff_initial=0.05, backoff_max=0.5)
        async with Outbox(tmp_path / "outbox.db", publisher, policy=policy) as outbox:
            bus_proxy.cut()
            for start in range(0, 30, 10):
                outbox.put(events[start : start + 10])
            await until(lambda: outbox.stats.publish_failures >= 3)

            assert outbox.depth == 30
            assert outbox.stats.bus_reachable is False
            attributes = await clients.sqs.get_queue_attributes(
                QueueUrl=logger_queue, AttributeNames=["ApproximateNumberOfMessages"]
            )
            assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"

            bus_proxy.restore()
            await until(lambda: outbox.depth == 0)

            assert outbox.stats.published == 30
            assert outbox.stats.bus_reachable is True

    arrived = await take_all(clients, logger_queue, expected=len(events))
    assert arrived == Counter({event.event_id: 1 for event in events})
