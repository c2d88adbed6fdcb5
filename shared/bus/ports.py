"""The bus's ports: what handlers and services depend on, never the transport itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from contracts import Envelope

__all__ = [
    "Delivery",
    "Handler",
    "HandlerRegistry",
    "Publisher",
    "QueueTransport",
    "bind_handlers",
]

# A handler takes the event class it is registered for (a dict cannot say so to the type
# checker, hence Any); the consumer only calls it with events of the registered event_type.
Handler = Callable[[Any], Awaitable[None]]
# Plain dict: event type -> the handler functions of each effect, run in order.
HandlerRegistry = Mapping[str, Sequence[Handler]]


def bind_handlers(
    handlers: Mapping[str, Sequence[Callable[[Any, Any], Awaitable[None]]]], deps: object
) -> HandlerRegistry:
    """Handlers written as ``f(event, deps)`` bound to ``deps``, as the consumer takes them."""

    def bound(handler: Callable[[Any, Any], Awaitable[None]]) -> Handler:
        async def handle(event: Any) -> None:
            await handler(event, deps)

        handle.__name__ = handler.__name__
        return handle

    return {event_type: [bound(h) for h in chain] for event_type, chain in handlers.items()}


class Publisher(Protocol):
    """Sends events to the topic; returns once every event is accepted by the bus."""

    async def publish(self, events: Sequence[Envelope]) -> None: ...


@dataclass(frozen=True)
class Delivery:
    """One received message: the raw body and what the queue said about it."""

    message_id: str
    receipt: str
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    receive_count: int = 1


class QueueTransport(Protocol):
    """One queue and its dead-letter queue, as the consumer runtime needs them."""

    @property
    def name(self) -> str: ...

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Delivery]:
        """Up to ``max_messages`` messages, waiting up to ``wait_seconds`` for the first."""
        ...

    async def delete(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """Delete handled messages; returns those that could not be deleted."""
        ...

    async def change_visibility(self, deliveries: Sequence[Delivery], seconds: int) -> None:
        """Hide the messages for ``seconds`` more from now (0 makes them visible at once)."""
        ...

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        """Move a message that can never be handled to the dead-letter queue, with the reason."""
        ...
