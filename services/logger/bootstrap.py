"""The logger worker (`toxic serve logger`): predictions, feedback, reviews and models to DynamoDB.

Wiring only: ``main`` builds the DynamoDB store from settings; unit tests pass the in-memory fake
to the same ``build_handlers``.
"""

from __future__ import annotations

import asyncio

from services.logger.handlers import Dependencies, registry
from services.logger.repository import DynamoLoggerStore, LoggerStore
from services.logger.settings import LoggerSettings
from shared.aws import AwsClients
from shared.bus import HandlerRegistry, Publisher
from shared.infra import InfraSpec
from shared.logs import configure_logging
from shared.worker import run_worker

__all__ = ["build_handlers", "main"]

SERVICE = "logger"


def build_handlers(settings: LoggerSettings, store: LoggerStore) -> HandlerRegistry:
    """The logger's handlers, writing to ``store``."""
    return registry(
        Dependencies(
            store=store, prediction_retention_seconds=settings.prediction_retention_seconds
        )
    )


def main() -> None:
    """Entry point of `toxic serve logger`."""
    configure_logging()
    settings = LoggerSettings()
    spec = InfraSpec.for_prefix(settings.prefix)

    def handlers(clients: AwsClients, publisher: Publisher) -> HandlerRegistry:
        # The logger publishes nothing; the worker frame offers a publisher to every service.
        return build_handlers(settings, DynamoLoggerStore(clients.dynamodb, spec))

    asyncio.run(run_worker(settings, SERVICE, handlers))
