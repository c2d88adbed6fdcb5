"""An in-memory broker with the bus's ports, so handlers and the consumer run in unit tests.

It keeps SQS's semantics that matter to consumers: at-least-once delivery, visibility timeouts,
receive counts, a redrive to the dead-letter queue after ``max_receives``, and filter policies on
``event_type`` between the topic and its queues.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from contracts import Envelope, encode
from shared.bus.ports import Delivery
from shared.bus.publisher import message_attributes
from shared.bus.sqs import DEAD_LETTER_REASON, DEAD_LETTER_SOURCE

__all__ = ["InMemoryBroker", "InMemoryQueue"]


@dataclass
class _Message:
    message_id: str
    body: str
    attributes: dict[str, str]
    receive_count: int = 0
    visible_at: float = 0.0
    receipt: str | None = None


@dataclass
class InMemoryQueue:
    """A queue with SQS's delivery semantics; ``dead_letters`` is its DLQ."""

    name: str
    visibility_timeout: float = 30.0
    max_receives: int = 5
    dead_letters: list[_Message] = field(default_factory=list)
    _messages: list[_Message] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def send(self, body: str, attributes: dict[str, str] | None = None) -> str:
        """Put a raw message on the queue (tests use it for bodies no publisher would send)."""
        message_id = f"{self.name}-{next(self._ids)}"
        self._messages.append(_Message(message_id, body, dict(attributes or {})))
        self._arrived.set()
        return message_id

    @property
    def visible(self) -> int:
        now = time.monotonic()
        return sum(1 for m in self._messages if m.visible_at <= now)

    @property
    def in_flight(self) -> int:
        return len(self._messages) - self.visible

    @property
    def bodies(self) -> list[str]:
        return [m.body for m in self._messages]

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Delivery]:
        deadline = time.monotonic() + wait_seconds
        while True:
            taken = self._take(max_messages)
            remaining = deadline - time.monotonic()
            if taken or remaining <= 0:
                return taken
            self._arrived.clear()
            # Wake on a new message, or poll for messages whose visibility timeout ran out.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.05))

    def _take(self, max_messages: int) -> list[Delivery]:
        now = time.monotonic()
        taken: list[Delivery] = []
        for message in list(self._messages):
            if len(taken) >= max_messages:
                break
            if message.visible_at > now:
                continue
            if message.receive_count >= self.max_receives:
                # SQS's redrive policy: moved on the receive after the last allowed one.
                self._messages.remove(message)
                self.dead_letters.append(message)
                continue
            message.receive_count += 1
            message.visible_at = now + self.visibility_timeout
            message.receipt = f"{message.message_id}#{message.receive_count}"
            taken.append(
                Delivery(
                    message_id=message.message_id,
                    receipt=message.receipt,
                    body=message.body,
                    attributes=dict(message.attributes),
                    receive_count=message.receive_count,
                )
            )
        return taken

    def _by_receipt(self, receipt: str) -> _Message | None:
        # Like SQS, only the latest receipt of a message acts on it.
        return next((m for m in self._messages if m.receipt == receipt), None)

    async def delete(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        for delivery in deliveries:
            message = self._by_receipt(delivery.receipt)
            if message is not None:
                self._messages.remove(message)
        return []

    async def change_visibility(self, deliveries: Sequence[Delivery], seconds: int) -> None:
        now = time.monotonic()
        for delivery in deliveries:
            message = self._by_receipt(delivery.receipt)
            if message is not None:
                message.visible_at = now + seconds
        if seconds == 0:
            self._arrived.set()

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        message = self._by_receipt(delivery.receipt)
        if message is None:
            return
        self._messages.remove(message)
        message.attributes[DEAD_LETTER_REASON] = reason
        message.attributes[DEAD_LETTER_SOURCE] = self.name
        self.dead_letters.append(message)


class InMemoryBroker:
    """A topic fanning out to in-memory queues by ``event_type``; also the Publisher port."""

    def __init__(self) -> None:
        self._subscriptions: list[tuple[InMemoryQueue, frozenset[str]]] = []
        self.published: list[Envelope] = []

    def queue(
        self,
        name: str,
        event_types: Iterable[str],
        *,
        visibility_timeout: float = 30.0,
        max_receives: int = 5,
    ) -> InMemoryQueue:
        """A new queue subscribed to the topic for ``event_types``."""
        queue = InMemoryQueue(
            name, visibility_timeout=visibility_timeout, max_receives=max_receives
        )
        self._subscriptions.append((queue, frozenset(event_types)))
        return queue

    async def publish(self, events: Sequence[Envelope]) -> None:
        for event in events:
            self.published.append(event)
            attributes = {k: v["StringValue"] for k, v in message_attributes(event).items()}
            body = encode(event)
            for queue, accepted in self._subscriptions:
                if attributes["event_type"] in accepted:
                    queue.send(body, attributes)
