"""Exactly-once rollups with few transactions: events share one transaction per short window.

Counting each event in a transaction of its own would put every event's update on the same hot
items (``minute#*`` above all) one after another, and competing consumers would conflict on them
all the time. Instead each handler hands its event's increments to the batcher and waits. The
batcher collects events for ``max_delay`` seconds (or until the next event would not fit in
``max_items``, DynamoDB's limit of 100 items per transaction) and commits them as one
transaction: a conditional marker per event plus one ADD per rollup item with the batch's sums.

Outcomes, per event:
- committed: its handler returns True, the consumer deletes the message; its counts are durable.
- already counted (its marker exists: a redelivery, or a competing consumer counted it): the
  transaction is cancelled, so nothing was written; the batcher drops those events (their
  handlers return False) and commits the rest again, without them.
- any other failure: after ``attempts`` tries (a conflict with a competing consumer's
  transaction is retried at once, with jitter), the handlers of every event in the batch raise,
  and the consumer leaves their messages for redelivery. Nothing was written, so nothing is
  counted twice.

One transaction at a time per process: the next batch fills while one commits. Concurrent
transactions of one process would only conflict with each other on the hot items (DynamoDB
cancels one with ``TransactionConflict``), and the stand-in does not isolate concurrent
transactions at all (moto rolls a cancelled one back by restoring whole tables, undoing what a
concurrent one wrote).

The same event delivered twice into one window joins the entry already waiting: a transaction
may not name one item twice, and both deliveries are done once the event is counted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from uuid import UUID

from services.monitoring.repository import AlreadyCounted, MonitoringStore
from shared.errors import RetryableError
from shared.logs import get_logger
from shared.monitoring.rollups import BucketKey, Increments, merge

__all__ = ["RollupBatcher"]

log = get_logger(__name__)


@dataclass
class _Batch:
    entries: dict[UUID, tuple[Increments, asyncio.Future[bool]]] = field(default_factory=dict)
    keys: set[BucketKey] = field(default_factory=set)

    def size_with(self, increments: Increments) -> int:
        """Items in the transaction if an event with ``increments`` joined."""
        return len(self.entries) + 1 + len(self.keys | increments.keys())


class RollupBatcher:
    """Counts events exactly once, several per transaction."""

    def __init__(
        self,
        store: MonitoringStore,
        *,
        max_delay: float = 0.05,
        max_items: int = 100,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if not 8 <= max_items <= 100:
            raise ValueError("a rollup transaction holds 8 to 100 items")
        self._store = store
        self._max_delay = max_delay
        self._max_items = max_items
        self._attempts = attempts
        self._sleep = sleep
        self._open: _Batch | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._committing = asyncio.Lock()
        self.transactions = 0

    async def count(self, event_id: UUID, increments: Increments) -> bool:
        """Add the event's increments once; True when counted now, False when counted before."""
        batch = self._open
        if batch is not None and event_id in batch.entries:
            await asyncio.shield(batch.entries[event_id][1])
            return False  # the first delivery counted it (or raised, and so does this one)
        if batch is not None and batch.size_with(increments) > self._max_items:
            self._flush_now(batch)
            batch = None
        if batch is None:
            batch = self._open = _Batch()
            self._start(self._flush_later(batch))
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        batch.entries[event_id] = (increments, done)
        batch.keys |= increments.keys()
        if len(batch.entries) + len(batch.keys) >= self._max_items:
            self._flush_now(batch)
        # Shielded: a handler cancelled at shutdown must not cancel its batch-mates' commit.
        return await asyncio.shield(done)

    def _start(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _flush_now(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None
            self._start(self._commit(batch))

    async def _flush_later(self, batch: _Batch) -> None:
        await self._sleep(self._max_delay)
        self._flush_now(batch)

    async def _commit(self, batch: _Batch) -> None:
        async with self._committing:
            await self._commit_serially(batch)

    async def _commit_serially(self, batch: _Batch) -> None:
        entries = dict(batch.entries)
        failures = 0
        while entries:
            try:
                await self._store.commit(list(entries), merge(inc for inc, _ in entries.values()))
            except AlreadyCounted as counted:
                dropped = [entries.pop(e) for e in counted.event_ids if e in entries]
                for _, done in dropped:
                    _settle(done, False)
                if dropped:
                    continue
                _fail(entries, counted)  # names none of this batch: retrying would loop
                return
            except RetryableError as exc:
                failures += 1
                if failures < self._attempts:
                    log.info("rollup_commit_retried", error=str(exc), events=len(entries))
                    await self._sleep(random.uniform(0, 0.02 * 2**failures))  # noqa: S311
                    continue
                _fail(entries, exc)
                return
            except Exception as exc:
                _fail(entries, exc)
                return
            self.transactions += 1
            for _, done in entries.values():
                _settle(done, True)
            return


def _settle(done: asyncio.Future[bool], counted: bool) -> None:
    if not done.done():
        done.set_result(counted)


def _fail(entries: dict[UUID, tuple[Increments, asyncio.Future[bool]]], exc: Exception) -> None:
    log.warning("rollup_commit_failed", error=f"{type(exc).__name__}: {exc}", events=len(entries))
    for _, done in entries.values():
        if not done.done():
            done.set_exception(exc)
