"""The API's outbox against a fake bus: order, bounds, idempotency, outages, restarts, poison."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from uuid import UUID

import pytest

from contracts import Envelope, encode
from services.api.events import EncodedEvents
from services.api.outbox import Outbox, OutboxClosed, OutboxFull, RelayPolicy
from shared.errors import ConfigurationError, PoisonError, RetryableError
from tests import factories

pytestmark = pytest.mark.unit

FAST = RelayPolicy(idle_poll=0.05, backoff_initial=0.01, backoff_max=0.05)


class FakeBus:
    """The Publisher port: keeps what it accepted; can be taken down or told to refuse events."""

    def __init__(self, *, down: bool = False, latency: float = 0.0) -> None:
        self.down = down
        self.latency = latency
        self.refuse: set[UUID] = set()
        self.batches: list[list[Envelope]] = []
        self.calls: list[float] = []

    @property
    def published(self) -> list[Envelope]:
        return [event for batch in self.batches for event in batch]

    async def publish(self, events: Sequence[Envelope]) -> None:
        self.calls.append(time.monotonic())
        await asyncio.sleep(self.latency)
        if self.down:
            raise RetryableError("SNS unreachable")
        refused = [e.event_id for e in events if e.event_id in self.refuse]
        if refused:
            raise PoisonError(f"event {refused[0]} is too big for SNS")
        self.batches.append(list(events))


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def ids(events: Sequence[Envelope]) -> list[UUID]:
    return [e.event_id for e in events]


def some_events(count: int) -> list[Envelope]:
    return [
        factories.prediction_made() if i % 2 else factories.retrain_requested()
        for i in range(count)
    ]


async def test_put_events_are_published_whole_oldest_first_in_batches(tmp_path: Path) -> None:
    bus = FakeBus()
    events = some_events(250)

    async with Outbox(tmp_path / "outbox.db", bus, policy=FAST) as outbox:
        for start in range(0, 250, 25):
            assert outbox.put(events[start : start + 25]) == 25
        await until(lambda: outbox.depth == 0)

        assert outbox.stats.published == 250

    assert bus.published == events
    assert max(len(batch) for batch in bus.batches) <= FAST.batch_size


async def test_a_put_wakes_an_idle_relay_at_once(tmp_path: Path) -> None:
    bus = FakeBus()
    async with Outbox(tmp_path / "outbox.db", bus, policy=RelayPolicy(idle_poll=30)) as outbox:
        await asyncio.sleep(0.05)  # the relay found nothing and waits
        outbox.put([factories.retrain_requested()])

        await until(lambda: len(bus.published) == 1, timeout=1.0)


async def test_encoded_events_are_stored_as_given_and_published_as_their_events(
    tmp_path: Path,
) -> None:
    events = [factories.prediction_made(text=f"comment {i}") for i in range(30)]
    encoded = EncodedEvents.predictions(
        [str(e.event_id) for e in events], [encode(e) for e in events]
    )
    bus = FakeBus()
    path = tmp_path / "outbox.db"
    outbox = Outbox(path, bus, capacity=40, policy=FAST)
    with pytest.raises(OutboxFull):
        outbox.put(EncodedEvents.predictions(encoded.event_ids * 2, encoded.bodies * 2))
    assert outbox.put(encoded) == 30
    rows = outbox._db.execute("SELECT event_id, event_type, body FROM outbox ORDER BY seq")
    assert [tuple(r) for r in rows] == [
        (str(e.event_id), "PredictionMade", body)
        for e, body in zip(events, encoded.bodies, strict=True)
    ]
    outbox.start()
    await until(lambda: outbox.depth == 0)
    await outbox.close()
    assert bus.published == events


async def test_events_that_do_not_fit_raise_outbox_full_and_none_is_stored(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    outbox = Outbox(path, FakeBus(), capacity=5)
    stored = some_events(3)
    outbox.put(stored)

    with pytest.raises(OutboxFull) as refused:
        outbox.put(some_events(3))

    assert refused.value.retry_after >= 1
    assert outbox.depth == 3
    assert outbox.stats.rejected == 3
    assert outbox.put(some_events(2)) == 2
    with pytest.raises(OutboxFull):
        outbox.put([factories.retrain_requested()])
    await outbox.close()
    reopened = Outbox(path, FakeBus(), capacity=5)
    assert reopened.depth == 5
    await reopened.close()


async def test_a_failing_bus_keeps_the_events_backs_off_and_delivers_them_on_recovery(
    tmp_path: Path,
) -> None:
    bus = FakeBus(down=True)
    policy = RelayPolicy(backoff_initial=0.02, backoff_max=0.16)
    events = some_events(30)
    async with Outbox(tmp_path / "outbox.db", bus, policy=policy) as outbox:
        outbox.put(events)
        await until(lambda: outbox.stats.publish_failures >= 7)

        assert bus.published == []
        assert outbox.depth == 30
        assert outbox.stats.bus_reachable is False
        assert "SNS unreachable" in (outbox.stats.last_error or "")
        assert outbox.stats.dead == 0  # an outage is not the events' fault
        gaps = [later - earlier for earlier, later in zip(bus.calls, bus.calls[1:7], strict=False)]
        # Jittered between half and all of 0.02, 0.04, 0.08, 0.16 (the cap), 0.16, 0.16.
        ceilings = [0.02, 0.04, 0.08, 0.16, 0.16, 0.16]
        for gap, ceiling in zip(gaps, ceilings, strict=True):
            assert ceiling / 2 * 0.9 <= gap <= ceiling + 0.1

        bus.down = False
        await until(lambda: outbox.depth == 0)

        assert outbox.stats.bus_reachable is True
    assert bus.published == events


async def test_events_left_at_close_are_published_after_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    events = some_events(5)
    async with Outbox(path, FakeBus(down=True), policy=FAST) as outbox:
        outbox.put(events)
        left = await outbox.close(drain_timeout=0.1)

    assert left == 5
    bus = FakeBus()
    async with Outbox(path, bus, policy=FAST) as reopened:
        assert reopened.depth == 5
        await until(lambda: reopened.depth == 0)
    assert bus.published == events


async def test_close_drains_what_waits_then_refuses_new_events(tmp_path: Path) -> None:
    bus = FakeBus(latency=0.005)
    outbox = Outbox(tmp_path / "outbox.db", bus, policy=RelayPolicy(batch_size=10))
    outbox.start()
    events = some_events(300)
    outbox.put(events)

    assert await outbox.close(drain_timeout=10) == 0

    assert bus.published == events
    with pytest.raises(OutboxClosed):
        outbox.put([factories.retrain_requested()])


async def test_a_poison_event_moves_to_dead_and_the_events_behind_it_go_on(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    bus = FakeBus()
    before, poison, after = some_events(3), factories.retrain_requested(), some_events(3)
    bus.refuse.add(poison.event_id)
    async with Outbox(path, bus, policy=FAST) as outbox:
        outbox.put([*before, poison, *after])
        await until(lambda: outbox.depth == 0)

        assert bus.published == [*before, *after]
        assert outbox.stats.dead == 1
        assert "PoisonError" in (outbox.stats.last_error or "")
        later = some_events(50)
        outbox.put(later)
        await until(lambda: outbox.depth == 0)
        assert bus.batches[-1] == later  # batching again once the poison is found

    with sqlite3.connect(path) as db:
        [(event_id, attempts, reason)] = db.execute("SELECT event_id, attempts, reason FROM dead")
    db.close()
    assert (UUID(event_id), attempts) == (poison.event_id, FAST.dead_after)
    assert reason.startswith("PoisonError(")
    reopened = Outbox(path, bus)
    assert reopened.stats.dead == 1
    await reopened.close()


async def test_an_event_whose_body_no_longer_decodes_moves_to_dead(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    good, spoiled = factories.retrain_requested(), factories.retrain_requested()
    outbox = Outbox(path, FakeBus())
    outbox.put([spoiled, good])
    await outbox.close()
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE outbox SET body = ? WHERE event_id = ?",
            ('{"event_type": "CommentDeleted"}', str(spoiled.event_id)),
        )
    db.close()

    bus = FakeBus()
    async with Outbox(path, bus, policy=FAST) as reopened:
        await until(lambda: reopened.depth == 0)
        assert reopened.stats.dead == 1
    assert bus.published == [good]


async def test_a_second_opener_of_the_same_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "outbox.db"
    outbox = Outbox(path, FakeBus())

    with pytest.raises(ConfigurationError, match="another process"):
        Outbox(path, FakeBus())
    await outbox.close()


async def test_a_full_disk_refuses_the_put_like_a_full_outbox(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.db", FakeBus())
    outbox.put([factories.retrain_requested()])
    # The file may not grow by another page: as a full disk would answer.
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(OutboxFull, match="disk is full"):
        outbox.put([factories.prediction_made(text="x" * 20_000)])

    assert outbox.depth == 1
    await outbox.close()
