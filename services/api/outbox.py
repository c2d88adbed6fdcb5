"""The API's bounded durable outbox: a request's events wait on local disk until the bus has them.

``put`` is one small SQLite insert on the event loop's thread (WAL, synchronous=NORMAL: a crashed
process loses nothing committed). A relay task publishes the oldest events in batches and deletes
them only once published, so delivery is at least once (consumers de-duplicate on ``event_id``).

- Bounded: ``put`` stores all of its events or none; when they do not fit (capacity, or disk
  full) it raises :class:`OutboxFull` with a Retry-After hint and the API answers 503.
- No index but the row order: a unique index on random event ids made each insert touch pages
  all over a growing B-tree, so a batch's put grew several times slower as events piled up
  while the bus was away (batch throughput in ``bench/api_load.py`` went from 32 % to 48 %).
  A put therefore stores what it is given; the API never puts one event twice, and consumers
  de-duplicate on ``event_id`` anyway.
- Bus failures (any error but a permanent one): the batch stays and is retried, oldest first,
  with jittered backoff doubling up to a cap, for as long as it takes.
- Poison: a permanent error (PoisonError, ValueError, TypeError) on a batch makes the relay send
  it one event at a time; an event refused ``dead_after`` times alone, or whose body no longer
  decodes, moves to the ``dead`` table (kept, counted, logged) and the events behind it go on.
- One process per file: SQLite's exclusive locking mode holds the file while it is open, so a
  second process fails at open (ConfigurationError) instead of publishing the same rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, NoReturn, Self

from contracts import ContractError, Envelope, decode, encode
from services.api.events import EncodedEvents
from shared.bus.ports import Publisher
from shared.errors import ConfigurationError, PoisonError, RetryableError
from shared.logs import get_logger

__all__ = [
    "DEFAULT_CAPACITY",
    "DEFAULT_DRAIN_TIMEOUT_SECONDS",
    "Outbox",
    "OutboxClosed",
    "OutboxFull",
    "OutboxStats",
    "OutboxUnavailable",
    "RelayPolicy",
]

DEFAULT_CAPACITY = 100_000  # events; at ~1 KiB each about 100 MiB of disk
DEFAULT_DRAIN_TIMEOUT_SECONDS = 10.0

# Errors that say the events themselves can never be published; any other is the bus's fault.
_PERMANENT = (PoisonError, ValueError, TypeError)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL,
    event_type TEXT NOT NULL, body TEXT NOT NULL, enqueued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS dead (event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL,
    body TEXT NOT NULL, enqueued_at REAL NOT NULL, attempts INTEGER NOT NULL,
    reason TEXT NOT NULL, dead_at REAL NOT NULL);
"""
_INSERT = "INSERT INTO outbox (event_id, event_type, body, enqueued_at) VALUES (?,?,?,?)"
_OLDEST = "SELECT seq, event_id, body, attempts FROM outbox ORDER BY seq LIMIT ?"
_DELETE = "DELETE FROM outbox WHERE seq BETWEEN ? AND ?"
_BURY = """INSERT OR REPLACE INTO dead
    SELECT event_id, event_type, body, enqueued_at, ?, ?, ? FROM outbox WHERE seq = ?"""

log = get_logger(__name__)


class OutboxUnavailable(RetryableError):  # noqa: N818 (named for the 503 the API answers)
    """The outbox takes no events now; the caller may retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OutboxFull(OutboxUnavailable):
    """The events do not fit (capacity reached or disk full); none of them was stored."""


class OutboxClosed(OutboxUnavailable):
    """The outbox is stopping and takes no new events."""


@dataclass(frozen=True)
class RelayPolicy:
    """How the relay publishes; the defaults suit SNS."""

    batch_size: int = 100  # events per publish call (SnsPublisher splits them into tens)
    idle_poll: float = 1.0  # seconds between looks at an idle outbox; a put wakes it at once
    backoff_initial: float = 0.1
    backoff_max: float = 5.0
    dead_after: int = 3  # permanent refusals of an event on its own before it is moved to dead


@dataclass
class OutboxStats:
    """What the outbox reports to /readyz and the metrics; ``depth`` is kept, never counted."""

    capacity: int
    depth: int = 0
    published: int = 0
    publish_failures: int = 0
    dead: int = 0  # events in the dead table when opened, plus those moved there since
    rejected: int = 0  # events refused because they did not fit
    # False after a publish failed for a reason other than its events; True again after one
    # succeeded or when nothing waits.
    bus_reachable: bool = True
    last_error: str | None = None


class _Row(NamedTuple):
    seq: int
    event_id: str
    body: str
    attempts: int


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=0.5)
    try:
        # Set before WAL: the lock is then held until close, and no shared-memory index is made.
        db.execute("PRAGMA locking_mode=EXCLUSIVE")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
    except sqlite3.DatabaseError as exc:
        db.close()
        raise ConfigurationError(
            f"outbox {path} cannot be opened (is another process using it?): {exc}"
        ) from exc
    return db


class Outbox:
    """Events on local disk, published to the bus by a background relay (see the module doc)."""

    def __init__(
        self,
        path: Path | str,
        publisher: Publisher,
        *,
        capacity: int = DEFAULT_CAPACITY,
        policy: RelayPolicy = RelayPolicy(),
    ) -> None:
        if min(capacity, policy.batch_size, policy.dead_after) < 1:
            raise ValueError("capacity, batch_size and dead_after must be at least 1")
        self._path = Path(path)
        self._publisher = publisher
        self._policy = policy
        self._db = _connect(self._path)
        self.stats = OutboxStats(
            capacity=capacity,
            depth=self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0],
            dead=self._db.execute("SELECT COUNT(*) FROM dead").fetchone()[0],
        )
        self._accepting = True
        self._full_logged = False
        self._delay = 0.0
        self._suspects: set[str] = set()  # a refused batch's event ids, published one by one
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._relay: asyncio.Task[None] | None = None
        log.info("outbox_opened", path=str(path), depth=self.stats.depth, dead=self.stats.dead)

    @property
    def depth(self) -> int:
        return self.stats.depth

    def put(self, events: Sequence[Envelope]) -> int:
        """Store ``events`` to be published, all or none; returns how many were stored."""
        if not self._accepting:
            raise OutboxClosed("the outbox is closing", retry_after=1)
        if not events:
            return 0
        count = len(events)
        depth, capacity = self.stats.depth, self.stats.capacity
        if depth + count > capacity:
            self._refuse(count, f"{count} events do not fit: {depth} of {capacity} wait")
        now = time.time()
        rows: Iterable[tuple[str, str, str, float]]
        if isinstance(events, EncodedEvents):  # already JSON: stored as they are
            kind = events.event_type
            rows = (
                (i, kind, body, now)
                for i, body in zip(events.event_ids, events.bodies, strict=True)
            )
        else:
            rows = [
                (str(e.event_id), str(getattr(e, "event_type", "")), encode(e), now) for e in events
            ]
        try:
            with self._db:
                self._db.executemany(_INSERT, rows)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname != "SQLITE_FULL":
                raise
            self._refuse(count, f"the outbox's disk is full: {exc}")
        self.stats.depth += count
        self._full_logged = False
        self._drained.clear()
        self._wake.set()
        return count

    def _refuse(self, count: int, reason: str) -> NoReturn:
        self.stats.rejected += count
        if not self._full_logged:  # once per episode, not once per refused request
            self._full_logged = True
            log.warning("outbox_full", reason=reason, bus_reachable=self.stats.bus_reachable)
        # While the bus is down the relay retries every `_delay` seconds; nothing frees sooner.
        raise OutboxFull(reason, retry_after=max(1, math.ceil(self._delay)))

    def start(self) -> None:
        """Start the relay on the running event loop."""
        if self._relay is None and self._accepting:
            self._relay = asyncio.create_task(self._run(), name="outbox-relay")

    async def close(self, drain_timeout: float = DEFAULT_DRAIN_TIMEOUT_SECONDS) -> int:
        """Take no more events, publish what waits for up to ``drain_timeout`` seconds, stop.

        Returns how many events are left in the file; the next start publishes them.
        """
        if not self._accepting:
            return self.stats.depth
        self._accepting = False
        if self._relay is not None:
            if self.stats.depth:
                self._wake.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drained.wait(), drain_timeout)
            # A publish cut short here may have reached the bus: it is sent again next start.
            self._relay.cancel()
            await asyncio.wait([self._relay])
            self._relay = None
        self._db.close()
        left = self.stats.depth
        (log.warning if left else log.info)("outbox_closed", left=left, path=str(self._path))
        return left

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _run(self) -> None:
        while True:
            try:
                rows = [_Row(*r) for r in self._db.execute(_OLDEST, (self._policy.batch_size,))]
                if not rows:
                    self.stats.bus_reachable = True
                    self._drained.set()
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self._policy.idle_poll)
                    continue
                progressed = await self._publish(rows)
            except Exception as exc:
                # The disk failing must not end the relay: the events stay, the step is retried.
                log.exception("outbox_relay_error")
                self.stats.last_error = repr(exc)
                progressed = False
            if progressed:
                self._delay = 0.0
                continue
            policy = self._policy
            self._delay = min(policy.backoff_max, max(policy.backoff_initial, self._delay * 2))
            # Jitter keeps replicas that lost the bus together from retrying in step.
            await asyncio.sleep(random.uniform(self._delay / 2, self._delay))  # noqa: S311

    async def _publish(self, rows: list[_Row]) -> bool:
        """Publish the oldest ``rows``; True when the relay may go on without backing off."""
        if rows[0].event_id in self._suspects:
            rows = rows[:1]
        batch: list[tuple[_Row, Envelope]] = []
        for row in rows:
            try:
                batch.append((row, decode(row.body)))
            except ContractError as exc:
                self._bury(row, row.attempts, f"undecodable: {exc}")
        if not batch:
            return True
        try:
            await self._publisher.publish([event for _, event in batch])
        except _PERMANENT as exc:
            return self._refused([row for row, _ in batch], exc)
        except Exception as exc:
            self.stats.publish_failures += 1
            self.stats.bus_reachable = False
            self.stats.last_error = repr(exc)
            log.warning("outbox_publish_failed", events=len(batch), error=repr(exc))
            return False
        span = (batch[0][0].seq, batch[-1][0].seq)  # the oldest rows, so nothing else between
        with self._db:
            deleted = self._db.execute(_DELETE, span).rowcount
        self.stats.depth -= deleted
        self.stats.published += len(batch)
        if self._suspects:
            self._suspects.difference_update(row.event_id for row, _ in batch)
        if not self.stats.bus_reachable:
            log.info("outbox_publish_recovered", depth=self.stats.depth)
        self.stats.bus_reachable = True
        return True

    def _refused(self, rows: list[_Row], exc: Exception) -> bool:
        self.stats.publish_failures += 1
        self.stats.last_error = repr(exc)
        if len(rows) > 1:
            # Which event is it? Publishing them one by one tells, and keeps their order.
            self._suspects = {row.event_id for row in rows}
            log.warning("outbox_batch_refused", events=len(rows), error=repr(exc))
            return True
        [row] = rows
        attempts = row.attempts + 1
        if attempts >= self._policy.dead_after:
            self._bury(row, attempts, repr(exc))
            return True
        with self._db:
            self._db.execute("UPDATE outbox SET attempts = ? WHERE seq = ?", (attempts, row.seq))
        error = repr(exc)
        log.warning("outbox_event_refused", event_id=row.event_id, attempts=attempts, error=error)
        return False

    def _bury(self, row: _Row, attempts: int, reason: str) -> None:
        """Move an event that can never be published to the ``dead`` table."""
        with self._db:
            self._db.execute(_BURY, (attempts, reason, time.time(), row.seq))
            self._db.execute(_DELETE, (row.seq, row.seq))
        self.stats.depth -= 1
        self.stats.dead += 1
        self._suspects.discard(row.event_id)
        log.error("outbox_event_dead", event_id=row.event_id, attempts=attempts, reason=reason)
