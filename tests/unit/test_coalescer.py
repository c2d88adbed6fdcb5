"""Single-flight, coalescing training runs, driven through the consumer and the in-memory bus."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from contracts import Envelope, ModelPublished, RetrainRequested
from services.training.coalescer import Coalescer
from shared.bus import Consumer, InMemoryBroker
from shared.errors import RetryableError
from shared.lease import InMemoryLease, LeaseBoard
from tests import factories

pytestmark = pytest.mark.unit


class ScriptedTraining:
    """A training run that waits for the test's go-ahead, recording what each run covered."""

    def __init__(self) -> None:
        self.runs: list[list[RetrainRequested]] = []
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.fail_next = False

    async def __call__(self, requests: Sequence[RetrainRequested]) -> Envelope:
        self.runs.append(list(requests))
        self.started.set()
        await self.release.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("out of memory")
        return factories.model_published(request_ids=tuple(r.request_id for r in requests))


@pytest.fixture
def broker() -> InMemoryBroker:
    return InMemoryBroker()


async def test_requests_arriving_during_a_run_collapse_into_one_follow_up_run(
    broker: InMemoryBroker,
) -> None:
    queue = broker.queue("training", ["RetrainRequested"])
    training = ScriptedTraining()
    coalescer = Coalescer(training, broker, InMemoryLease(LeaseBoard(), "training", "w1"))
    consumer = Consumer(queue, {"RetrainRequested": [coalescer.handle]}, wait_seconds=0)
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))

    first = factories.retrain_requested()
    await broker.publish([first])
    await asyncio.wait_for(training.started.wait(), 5)
    later = [factories.retrain_requested() for _ in range(3)]
    await broker.publish(later)
    await asyncio.sleep(0.1)
    # None of the requests is deleted while the run covering it has not finished.
    assert queue.in_flight == 4
    training.release.set()

    async with asyncio.timeout(5):
        while consumer.stats.handled < 4:
            await asyncio.sleep(0.01)
    stop.set()
    await running

    assert [[r.request_id for r in run] for run in training.runs] == [
        [first.request_id],
        [r.request_id for r in later],
    ]
    outcomes = [e for e in broker.published if isinstance(e, ModelPublished)]
    assert len(outcomes) == 2
    assert queue.visible == queue.in_flight == 0


async def test_a_crashed_run_leaves_its_requests_for_redelivery(broker: InMemoryBroker) -> None:
    training = ScriptedTraining()
    training.fail_next = True
    training.release.set()
    coalescer = Coalescer(training, broker, InMemoryLease(LeaseBoard(), "training", "w1"))

    with pytest.raises(RetryableError, match="training run crashed"):
        await coalescer.handle(factories.retrain_requested())

    assert not [e for e in broker.published if isinstance(e, ModelPublished)]


async def test_a_run_waits_for_the_lease_held_by_another_worker(broker: InMemoryBroker) -> None:
    board = LeaseBoard()
    other = InMemoryLease(board, "training", "other-worker")
    assert await other.acquire()
    training = ScriptedTraining()
    training.release.set()
    coalescer = Coalescer(
        training, broker, InMemoryLease(board, "training", "w1"), lease_retry_seconds=0.05
    )

    waiting = asyncio.create_task(coalescer.handle(factories.retrain_requested()))
    await asyncio.sleep(0.2)
    assert training.runs == []
    await other.release()
    await asyncio.wait_for(waiting, 5)

    assert len(training.runs) == 1
    assert board.holders == {}
