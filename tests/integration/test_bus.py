"""The bus against a real moto server over HTTP: topic, filters, queues, DLQs, a real process."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts import EVENT_TYPES, Event, RetrainRequested
from contracts.topology import QUEUE_ROUTES
from shared.aws import AwsClients
from shared.bus import (
    DEAD_LETTER_REASON,
    DEAD_LETTER_SOURCE,
    Consumer,
    DynamoIdempotencyStore,
    SnsPublisher,
    idempotent,
)
from shared.errors import RetryableError
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from shared.worker import open_publisher, open_queue
from tests import factories
from tests.harness.processes import ServiceProcess
from tests.harness.proxy import TcpProxy

pytestmark = pytest.mark.integration

ROLES = ("logger", "monitoring", "training")


@pytest.fixture
def spec(deployment: InfraSpec) -> InfraSpec:
    return deployment


async def depth(clients: AwsClients, url: str) -> tuple[int, int]:
    """(visible, in flight) messages on the queue at ``url``."""
    attributes = await clients.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    values = attributes["Attributes"]
    return (
        int(values["ApproximateNumberOfMessages"]),
        int(values["ApproximateNumberOfMessagesNotVisible"]),
    )


async def drain(
    consumers: Consumer | list[Consumer], done: Callable[[], bool], timeout: float = 20.0
) -> None:
    """Run the consumers together until ``done()`` holds, then stop them and wait."""
    running = consumers if isinstance(consumers, list) else [consumers]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in running]
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout)


def every_event() -> list[Event]:
    return [
        factories.prediction_made(),
        factories.feedback_given(),
        factories.retrain_requested(),
        factories.model_published(),
        factories.model_rejected(),
        factories.training_failed(),
    ]


async def test_each_queue_receives_exactly_the_event_types_its_filter_accepts(
    clients: AwsClients, spec: InfraSpec
) -> None:
    publisher = await open_publisher(clients, spec)
    events = every_event()
    assert {e.event_type for e in events} == set(EVENT_TYPES)

    await publisher.publish(events)

    for role in ROLES:
        seen = await consume_types(clients, spec, role, count=len(QUEUE_ROUTES[role]))
        assert sorted(seen) == sorted(QUEUE_ROUTES[role]), role
        url = (await clients.sqs.get_queue_url(QueueName=spec.queue(role).name))["QueueUrl"]
        assert await depth(clients, url) == (0, 0), f"{role} got more than its filter allows"


async def consume_types(clients: AwsClients, spec: InfraSpec, role: str, count: int) -> list[str]:
    """The event types of the first ``count`` messages handled from ``role``'s queue."""
    seen: list[str] = []

    async def record(event: Event) -> None:
        seen.append(event.event_type)

    queue = await open_queue(clients, spec, role)
    consumer = Consumer(queue, {t: [record] for t in EVENT_TYPES}, wait_seconds=1)
    await drain(consumer, lambda: len(seen) >= count)
    return seen


async def test_a_batch_of_25_events_arrives_whole_and_in_one_piece_each(
    clients: AwsClients, spec: InfraSpec
) -> None:
    publisher = await open_publisher(clients, spec)
    events = [factories.retrain_requested() for _ in range(25)]
    received: list[Event] = []

    async def record(event: Event) -> None:
        received.append(event)

    await publisher.publish(events)
    queue = await open_queue(clients, spec, "training")
    await drain(Consumer(queue, {"RetrainRequested": [record]}), lambda: len(received) == 25)

    assert sorted(str(e.event_id) for e in received) == sorted(str(e.event_id) for e in events)
    assert received[0] == next(e for e in events if e.event_id == received[0].event_id)


async def test_a_failing_handler_leaves_only_its_message_for_redelivery(
    clients: AwsClients, spec: InfraSpec
) -> None:
    publisher = await open_publisher(clients, spec)
    bad = factories.retrain_requested(note="fails")
    good = [factories.retrain_requested() for _ in range(5)]
    handled: list[Event] = []

    async def handle(event: Event) -> None:
        if event.event_id == bad.event_id:
            raise RuntimeError("effect failed")
        handled.append(event)

    await publisher.publish([*good[:2], bad, *good[2:]])
    queue = await open_queue(clients, spec, "training")
    consumer = Consumer(queue, {"RetrainRequested": [handle]}, wait_seconds=1)
    await drain(consumer, lambda: len(handled) == 5 and consumer.stats.failed >= 1)

    url = await clients.sqs.get_queue_url(QueueName=spec.queue("training").name)
    assert sum(await depth(clients, url["QueueUrl"])) == 1
    again = await clients.sqs.receive_message(
        QueueUrl=url["QueueUrl"], WaitTimeSeconds=20, MaxNumberOfMessages=10
    )
    [left] = again["Messages"]
    assert json.loads(left["Body"])["event_id"] == str(bad.event_id)


async def test_poison_ends_in_the_dlq_with_its_reason_and_the_consumer_goes_on(
    clients: AwsClients, spec: InfraSpec
) -> None:
    queue_spec = spec.queue("logger")
    url = (await clients.sqs.get_queue_url(QueueName=queue_spec.name))["QueueUrl"]
    assert queue_spec.dead_letter_queue is not None
    dlq_url = (await clients.sqs.get_queue_url(QueueName=queue_spec.dead_letter_queue))["QueueUrl"]
    unknown = json.dumps({"event_type": "CommentDeleted", "schema_version": "1.0"})
    await clients.sqs.send_message(QueueUrl=url, MessageBody="{this is not json")
    await clients.sqs.send_message(QueueUrl=url, MessageBody=unknown)
    good = factories.prediction_made()
    await (await open_publisher(clients, spec)).publish([good])
    handled: list[Event] = []

    async def record(event: Event) -> None:
        handled.append(event)

    consumer = Consumer(await open_queue(clients, spec, "logger"), {"PredictionMade": [record]})
    await drain(consumer, lambda: handled == [good] and consumer.stats.dead_lettered == 2)

    dead = await clients.sqs.receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    reasons = {
        m["Body"]: m["MessageAttributes"][DEAD_LETTER_REASON]["StringValue"]
        for m in dead["Messages"]
    }
    assert reasons["{this is not json"].startswith("malformed_json: ")
    assert reasons[unknown].startswith("unknown_event_type: ")
    sources = {m["MessageAttributes"][DEAD_LETTER_SOURCE]["StringValue"] for m in dead["Messages"]}
    assert sources == {queue_spec.name}
    assert await depth(clients, url) == (0, 0)


async def test_a_duplicate_delivery_runs_the_effect_once_across_competing_consumers(
    clients: AwsClients, spec: InfraSpec
) -> None:
    event = factories.prediction_made()
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("logger").name))["QueueUrl"]
    for _ in range(4):
        await clients.sqs.send_message(QueueUrl=url, MessageBody=event.model_dump_json())
    store = DynamoIdempotencyStore(clients.dynamodb, spec.table("processed").name)
    effects: list[Event] = []

    async def write(event: Event) -> None:
        effects.append(event)

    handler = idempotent(store, "logger", write)
    consumers = [
        Consumer(await open_queue(clients, spec, "logger"), {"PredictionMade": [handler]})
        for _ in range(2)
    ]
    await drain(consumers, lambda: sum(c.stats.handled for c in consumers) >= 4)

    assert effects == [event]
    assert await depth(clients, url) == (0, 0)


async def test_a_slow_handler_keeps_its_message_from_a_competing_consumer(
    clients: AwsClients, spec: InfraSpec
) -> None:
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("training").name))["QueueUrl"]
    await clients.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "2"})
    await (await open_publisher(clients, spec)).publish([factories.retrain_requested()])
    calls = 0

    async def slow(event: Event) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(5)

    consumers = [
        Consumer(
            await open_queue(clients, spec, "training"),
            {"RetrainRequested": [slow]},
            wait_seconds=1,
            visibility_timeout=2,
        )
        for _ in range(2)
    ]
    await drain(consumers, lambda: sum(c.stats.handled for c in consumers) >= 1)

    assert calls == 1
    assert sum(c.stats.extended for c in consumers) >= 3


async def test_sigterm_during_a_slow_handler_finishes_it_and_leaves_the_rest(
    clients: AwsClients,
    spec: InfraSpec,
    aws_settings: AwsSettings,
    processes: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    events = [factories.retrain_requested() for _ in range(4)]
    await (await open_publisher(clients, spec)).publish(events)
    log = tmp_path / "handled.log"
    worker = processes(
        "slow-worker",
        [sys.executable, "-m", "tests.harness.slow_worker"],
        env={
            "AWS_ENDPOINT_URL": str(aws_settings.endpoint_url),
            "TOXIC_PREFIX": aws_settings.prefix,
            "TOXIC_CONCURRENCY": "1",
            "TOXIC_WAIT_TIME_SECONDS": "1",
            "SLOW_WORKER_LOG": str(log),
            "SLOW_WORKER_SECONDS": "2",
        },
    )
    worker.wait_until(lambda: log.exists() and "started" in log.read_text(), 20, "handling")

    worker.signal(signal.SIGTERM)
    assert worker.wait(15) == 0

    lines = log.read_text().split()
    assert lines[0::2] == ["started", "finished"]
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("training").name))["QueueUrl"]
    assert await depth(clients, url) == (3, 0)


async def test_a_cut_bus_fails_publishing_as_retryable_and_a_restored_one_keeps_its_state(
    aws_settings: AwsSettings, spec: InfraSpec, bus_proxy: TcpProxy, clients: AwsClients
) -> None:
    from shared.aws import open_clients

    # One attempt per call: botocore's own retries would only slow the outage down.
    through_proxy = aws_settings.model_copy(
        update={"endpoint_url": bus_proxy.url, "max_attempts": 1}
    )
    async with open_clients(through_proxy) as proxied:
        publisher = await open_publisher(proxied, spec)
        fast = SnsPublisher(proxied.sns, publisher.topic_arn, max_attempts=2, base_delay=0.01)
        bus_proxy.cut()
        with pytest.raises(RetryableError):
            await fast.publish([factories.retrain_requested()])

        bus_proxy.restore()
        event = factories.retrain_requested()
        await fast.publish([event])

    queue = await open_queue(clients, spec, "training")
    received: list[Event] = []

    async def record(e: Event) -> None:
        received.append(e)

    await drain(Consumer(queue, {"RetrainRequested": [record]}), lambda: len(received) == 1)
    assert received == [event]
    assert isinstance(received[0], RetrainRequested)
