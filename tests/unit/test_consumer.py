"""The consumer runtime against the in-memory broker: per-message outcomes and a clean stop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from contracts import Event, RetrainReason, RetrainRequested, Source
from shared.bus import (
    DEAD_LETTER_REASON,
    Consumer,
    InMemoryBroker,
    InMemoryIdempotencyStore,
    InMemoryQueue,
    idempotent,
)
from shared.errors import PoisonError

pytestmark = pytest.mark.unit


def retrain(note: str = "") -> RetrainRequested:
    return RetrainRequested(
        source=Source(service="test", instance="1"),
        reason=RetrainReason.MANUAL,
        requested_by="tester",
        note=note or None,
    )


async def consume_until(consumer: Consumer, done: Callable[[], bool], timeout: float = 5.0) -> None:
    """Run ``consumer`` until ``done()`` holds, then stop it and wait for it to finish."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout)


def recorder(seen: list[Event]) -> Callable[[Event], Awaitable[None]]:
    async def record(event: Event) -> None:
        seen.append(event)

    return record


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


@pytest.fixture
def queue(broker: InMemoryBroker) -> InMemoryQueue:
    return broker.queue("training", ["RetrainRequested"], visibility_timeout=30)


async def test_handled_messages_are_deleted(broker: InMemoryBroker, queue: InMemoryQueue) -> None:
    seen: list[Event] = []
    await broker.publish([retrain() for _ in range(25)])
    consumer = Consumer(queue, {"RetrainRequested": [recorder(seen)]}, wait_seconds=0)

    await consume_until(consumer, lambda: len(seen) == 25)

    assert queue.visible == 0
    assert queue.in_flight == 0
    assert consumer.stats.handled == 25


async def test_a_failing_handler_leaves_its_message_and_the_batch_is_deleted(
    broker: InMemoryBroker, queue: InMemoryQueue
) -> None:
    good = [retrain(f"good {i}") for i in range(4)]
    bad = retrain("bad")
    handled: list[Event] = []

    async def handle(event: Event) -> None:
        if event == bad:
            raise RuntimeError("database down")
        handled.append(event)

    await broker.publish([*good[:2], bad, *good[2:]])
    consumer = Consumer(queue, {"RetrainRequested": [handle]}, wait_seconds=0)

    await consume_until(consumer, lambda: consumer.stats.failed >= 1 and len(handled) == 4)

    assert queue.bodies == [json.dumps(json.loads(bad.model_dump_json()), separators=(",", ":"))]
    assert consumer.stats.failed == 1
    assert queue.dead_letters == []


async def test_a_failed_message_is_redelivered_and_handled_later(
    broker: InMemoryBroker, queue: InMemoryQueue
) -> None:
    attempts: list[int] = []

    async def flaky(event: Event) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    await broker.publish([retrain()])
    # max_retry_delay=0 makes the failed message visible again at once.
    consumer = Consumer(queue, {"RetrainRequested": [flaky]}, wait_seconds=0, max_retry_delay=0)

    await consume_until(consumer, lambda: consumer.stats.handled == 1)

    assert len(attempts) == 2
    assert queue.visible == 0
    assert queue.in_flight == 0


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "malformed_json"),
        ('{"event_type": "CommentDeleted", "schema_version": "1.0"}', "unknown_event_type"),
        (
            '{"event_type": "RetrainRequested", "schema_version": "2.0"}',
            "unsupported_schema_version",
        ),
        ('{"event_type": "RetrainRequested", "schema_version": "1.0"}', "invalid_fields"),
    ],
)
async def test_a_message_that_is_no_contract_goes_to_the_dlq_and_the_consumer_goes_on(
    broker: InMemoryBroker, queue: InMemoryQueue, body: str, reason: str
) -> None:
    seen: list[Event] = []
    queue.send(body)
    await broker.publish([retrain()])
    consumer = Consumer(queue, {"RetrainRequested": [recorder(seen)]}, wait_seconds=0)

    await consume_until(consumer, lambda: len(seen) == 1 and len(queue.dead_letters) == 1)

    [dead] = queue.dead_letters
    assert dead.body == body
    assert dead.attributes[DEAD_LETTER_REASON].startswith(f"{reason}: ")
    assert queue.visible == queue.in_flight == 0


async def test_a_handler_raising_poison_dead_letters_at_once(
    broker: InMemoryBroker, queue: InMemoryQueue
) -> None:
    async def refuse(event: Event) -> None:
        raise PoisonError("references a model that never existed")

    await broker.publish([retrain()])
    consumer = Consumer(queue, {"RetrainRequested": [refuse]}, wait_seconds=0)

    await consume_until(consumer, lambda: len(queue.dead_letters) == 1)

    assert queue.dead_letters[0].attributes[DEAD_LETTER_REASON] == (
        "poison: references a model that never existed"
    )
    assert queue.dead_letters[0].receive_count == 1


async def test_a_message_failing_on_every_receive_is_redriven_to_the_dlq(
    broker: InMemoryBroker,
) -> None:
    queue = broker.queue("flaky", ["RetrainRequested"], max_receives=5)

    async def broken(event: Event) -> None:
        raise RuntimeError("always")

    await broker.publish([retrain()])
    consumer = Consumer(queue, {"RetrainRequested": [broken]}, wait_seconds=0, max_retry_delay=0)

    await consume_until(consumer, lambda: len(queue.dead_letters) == 1)

    assert consumer.stats.failed == 5


async def test_a_duplicate_delivery_runs_the_effect_once(
    broker: InMemoryBroker, queue: InMemoryQueue
) -> None:
    effects: list[Event] = []
    event = retrain()
    store = InMemoryIdempotencyStore()
    handler = idempotent(store, "training", recorder(effects))
    await broker.publish([event, event, event])
    consumer = Consumer(queue, {"RetrainRequested": [handler]}, wait_seconds=0)

    await consume_until(consumer, lambda: consumer.stats.handled == 3)

    assert effects == [event]


async def test_concurrency_is_bounded(broker: InMemoryBroker, queue: InMemoryQueue) -> None:
    running = 0
    peak = 0
    finished = 0

    async def slow(event: Event) -> None:
        nonlocal running, peak, finished
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.05)
        running -= 1
        finished += 1

    await broker.publish([retrain() for _ in range(12)])
    consumer = Consumer(queue, {"RetrainRequested": [slow]}, concurrency=3, wait_seconds=0)

    await consume_until(consumer, lambda: finished == 12)

    assert peak == 3


async def test_a_slow_handler_keeps_its_message_hidden(broker: InMemoryBroker) -> None:
    # The queue's visibility timeout is the consumer's, as deployed. The consumer extends a message
    # in flight for a third of it (0.5 s) at its next check, so within 1 s: 0.5 s to spare.
    queue = broker.queue("slow", ["RetrainRequested"], visibility_timeout=1.5)
    calls = 0

    async def slow(event: Event) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(2.5)

    await broker.publish([retrain()])
    # Two competing consumers poll throughout; only one may ever see the message.
    consumers = [
        Consumer(queue, {"RetrainRequested": [slow]}, wait_seconds=0, visibility_timeout=1.5)
        for _ in range(2)
    ]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(c.run(stop)) for c in consumers]
    async with asyncio.timeout(5):
        while sum(c.stats.handled for c in consumers) == 0:
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.gather(*tasks)

    assert calls == 1
    assert sum(c.stats.received for c in consumers) == 1
    assert sum(c.stats.extended for c in consumers) >= 2


async def test_stop_finishes_in_flight_work_and_leaves_the_rest(
    broker: InMemoryBroker, queue: InMemoryQueue
) -> None:
    started = asyncio.Event()
    finished: list[Event] = []

    async def slow(event: Event) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(event)

    await broker.publish([retrain()])
    consumer = Consumer(queue, {"RetrainRequested": [slow]}, concurrency=1, wait_seconds=0)
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    await started.wait()
    await broker.publish([retrain() for _ in range(3)])
    stop.set()
    await asyncio.wait_for(task, 5)

    assert len(finished) == 1
    assert queue.visible == 3
    assert queue.in_flight == 0


async def test_an_event_type_without_handler_is_acknowledged(broker: InMemoryBroker) -> None:
    queue = broker.queue("logger", ["RetrainRequested"])
    await broker.publish([retrain()])
    consumer = Consumer(queue, {}, wait_seconds=0)

    await consume_until(consumer, lambda: consumer.stats.ignored == 1)

    assert queue.visible == queue.in_flight == 0
