"""The event bus: publish to the SNS topic, consume from SQS queues, in memory for tests."""

from shared.bus.consumer import Consumer, ConsumerStats
from shared.bus.idempotency import (
    DynamoIdempotencyStore,
    IdempotencyStore,
    InMemoryIdempotencyStore,
    idempotent,
    run_once,
)
from shared.bus.memory import InMemoryBroker, InMemoryQueue
from shared.bus.ports import (
    Delivery,
    Handler,
    HandlerRegistry,
    Publisher,
    QueueTransport,
    bind_handlers,
)
from shared.bus.publisher import SnsPublisher
from shared.bus.sqs import DEAD_LETTER_REASON, DEAD_LETTER_SOURCE, SqsQueue

__all__ = [
    "DEAD_LETTER_REASON",
    "DEAD_LETTER_SOURCE",
    "Consumer",
    "ConsumerStats",
    "Delivery",
    "DynamoIdempotencyStore",
    "Handler",
    "HandlerRegistry",
    "IdempotencyStore",
    "InMemoryBroker",
    "InMemoryIdempotencyStore",
    "InMemoryQueue",
    "Publisher",
    "QueueTransport",
    "SnsPublisher",
    "SqsQueue",
    "bind_handlers",
    "idempotent",
    "run_once",
]
