"""The SQS consumer runtime: receive, decode, dispatch, acknowledge, dead-letter, stop cleanly.

Per message, never per batch: a handled message is deleted; a failed one is left for redelivery
(after a short backoff); a body that is not a valid contract, or a handler's PoisonError, goes
to the dead-letter queue with the reason. SQS's own redrive (after 5 receives) catches the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from contracts import ContractError, Event, decode
from shared.bus.ports import Delivery, Handler, HandlerRegistry, QueueTransport
from shared.errors import PoisonError, RetryableError
from shared.logs import bound, get_logger

__all__ = ["Consumer", "ConsumerStats"]

log = get_logger(__name__)

_ACK_FLUSH_SECONDS = 0.05


@dataclass
class ConsumerStats:
    """Counters a consumer keeps; exported by the service's metrics."""

    received: int = 0
    handled: int = 0
    failed: int = 0
    dead_lettered: int = 0
    ignored: int = 0
    extended: int = 0
    # now - occurred_at of the last handled event, in seconds.
    last_lag_seconds: float | None = None
    dead_letter_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class _InFlight:
    delivery: Delivery
    started: float


class Consumer:
    """Runs handlers for the messages of one queue with bounded concurrency."""

    def __init__(
        self,
        transport: QueueTransport,
        handlers: HandlerRegistry,
        *,
        concurrency: int = 16,
        wait_seconds: int = 20,
        visibility_timeout: float = 30.0,
        shutdown_grace: float = 60.0,
        max_retry_delay: int = 30,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._transport = transport
        self._handlers = handlers
        self._concurrency = concurrency
        self._wait_seconds = wait_seconds
        self._visibility_timeout = visibility_timeout
        self._shutdown_grace = shutdown_grace
        self._max_retry_delay = max_retry_delay
        self._in_flight: dict[str, _InFlight] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._acks: list[Delivery] = []
        self._slot_free = asyncio.Event()
        self.stats = ConsumerStats()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def run_until_signalled(self) -> None:
        """Run until SIGTERM or SIGINT, then stop receiving, finish in-flight work and return."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.run(stop)
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; then drain in-flight handlers and flush deletes."""
        log.info("consumer_started", queue=self._transport.name, concurrency=self._concurrency)
        acker = asyncio.create_task(self._ack_loop(stop))
        keeper = asyncio.create_task(self._visibility_loop(stop))
        try:
            await self._receive_loop(stop)
        finally:
            log.info("consumer_stopping", queue=self._transport.name, in_flight=self.in_flight)
            await self._drain()
            stop.set()
            await asyncio.gather(acker, keeper, return_exceptions=True)
            await self._flush_acks()
            log.info("consumer_stopped", queue=self._transport.name)

    async def _receive_loop(self, stop: asyncio.Event) -> None:
        stopped = asyncio.create_task(stop.wait())
        try:
            while not stop.is_set():
                free = self._concurrency - len(self._in_flight)
                if free <= 0:
                    self._slot_free.clear()
                    slot = asyncio.create_task(self._slot_free.wait())
                    await asyncio.wait({slot, stopped}, return_when=asyncio.FIRST_COMPLETED)
                    slot.cancel()
                    continue
                receiving = asyncio.create_task(
                    self._transport.receive(min(10, free), self._wait_seconds)
                )
                await asyncio.wait({receiving, stopped}, return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():
                    # Stopping: abandon the long poll. Anything it had already taken becomes
                    # visible again after the visibility timeout; nothing is lost.
                    receiving.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await receiving
                    break
                try:
                    deliveries = receiving.result()
                except Exception as exc:
                    log.warning("receive_failed", queue=self._transport.name, error=str(exc))
                    await asyncio.wait({stopped}, timeout=1.0)
                    continue
                self._start(deliveries)
        finally:
            stopped.cancel()

    def _start(self, deliveries: Sequence[Delivery]) -> None:
        now = time.monotonic()
        for delivery in deliveries:
            self.stats.received += 1
            self._in_flight[delivery.receipt] = _InFlight(delivery, now)
            task = asyncio.create_task(self._process(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _process(self, delivery: Delivery) -> None:
        try:
            await self._handle(delivery)
        finally:
            self._in_flight.pop(delivery.receipt, None)
            self._slot_free.set()

    async def _handle(self, delivery: Delivery) -> None:
        try:
            event = decode(delivery.body)
        except ContractError as exc:
            await self._dead_letter(delivery, f"{exc.reason}: {exc.detail}", exc.reason)
            return
        handlers = self._handlers.get(event.event_type, ())
        if not handlers:
            # A filter policy should have kept it away; it is valid, so acknowledge it.
            log.warning("no_handler", queue=self._transport.name, event_type=event.event_type)
            self.stats.ignored += 1
            self._acks.append(delivery)
            return
        with bound(
            correlation_id=event.correlation_id,
            event_id=str(event.event_id),
            event_type=event.event_type,
        ):
            await self._run_handlers(delivery, event, handlers)

    async def _run_handlers(
        self, delivery: Delivery, event: Event, handlers: Sequence[Handler]
    ) -> None:
        try:
            for handler in handlers:
                await handler(event)
        except PoisonError as exc:
            await self._dead_letter(delivery, f"poison: {exc}", "poison")
        except Exception as exc:
            self.stats.failed += 1
            delay = min(self._max_retry_delay, 2 ** min(delivery.receive_count, 10))
            level = "info" if isinstance(exc, RetryableError) else "error"
            getattr(log, level)(
                "handler_failed",
                queue=self._transport.name,
                receive_count=delivery.receive_count,
                retry_in_seconds=delay,
                error=f"{type(exc).__name__}: {exc}",
                exc_info=level == "error",
            )
            with contextlib.suppress(Exception):
                await self._transport.change_visibility([delivery], delay)
        else:
            self.stats.handled += 1
            self.stats.last_lag_seconds = max(0.0, time.time() - event.occurred_at.timestamp())
            self._acks.append(delivery)

    async def _dead_letter(self, delivery: Delivery, reason: str, kind: str) -> None:
        log.warning(
            "dead_lettered",
            queue=self._transport.name,
            message_id=delivery.message_id,
            reason=reason,
        )
        try:
            await self._transport.dead_letter(delivery, reason)
        except Exception as exc:
            # Left on the queue: the next receive tries again, and SQS's redrive is the backstop.
            log.error("dead_letter_failed", queue=self._transport.name, error=str(exc))
            return
        self.stats.dead_lettered += 1
        self.stats.dead_letter_reasons[kind] = self.stats.dead_letter_reasons.get(kind, 0) + 1

    async def _ack_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(_ACK_FLUSH_SECONDS)
            await self._flush_acks()

    async def _flush_acks(self) -> None:
        while self._acks:
            batch, self._acks = self._acks[:10], self._acks[10:]
            try:
                failed = await self._transport.delete(batch)
            except Exception as exc:
                failed = batch
                log.warning("delete_failed", queue=self._transport.name, error=str(exc))
            if failed:
                # Redelivered later; the handlers are idempotent, so it changes nothing.
                log.warning("delete_incomplete", queue=self._transport.name, count=len(failed))

    async def _visibility_loop(self, stop: asyncio.Event) -> None:
        """Keep slow handlers' messages hidden while they run."""
        period = max(0.2, self._visibility_timeout / 3)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)
            await self._extend_slow(period)

    async def _extend_slow(self, period: float) -> None:
        now = time.monotonic()
        slow = [f.delivery for f in self._in_flight.values() if now - f.started >= period]
        if not slow:
            return
        try:
            await self._transport.change_visibility(slow, math.ceil(self._visibility_timeout))
            self.stats.extended += len(slow)
        except Exception as exc:
            log.warning("visibility_extend_failed", queue=self._transport.name, error=str(exc))

    async def _drain(self) -> None:
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._shutdown_grace)
        for task in pending:
            task.cancel()
        if pending:
            log.warning(
                "shutdown_grace_expired", queue=self._transport.name, cancelled=len(pending)
            )
            await asyncio.gather(*pending, return_exceptions=True)
