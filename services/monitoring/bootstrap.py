"""The monitoring worker (`toxic serve monitoring`): rollups and drift baselines in DynamoDB.

Wiring only: ``main`` builds the DynamoDB store from settings; unit tests pass the in-memory fake
to the same ``build_handlers``.
"""

from __future__ import annotations

import asyncio

from services.monitoring.batcher import RollupBatcher
from services.monitoring.handlers import Dependencies, registry
from services.monitoring.repository import DynamoMonitoringStore, MonitoringStore
from services.monitoring.settings import MonitoringSettings
from shared.aws import AwsClients
from shared.bus import HandlerRegistry, Publisher
from shared.infra import InfraSpec
from shared.logs import configure_logging
from shared.worker import run_worker

__all__ = ["build_handlers", "main"]

SERVICE = "monitoring"


def build_handlers(settings: MonitoringSettings, store: MonitoringStore) -> HandlerRegistry:
    """The monitoring's handlers, counting into ``store``."""
    batcher = RollupBatcher(
        store, max_delay=settings.batch_delay_ms / 1000, max_items=settings.batch_items
    )
    return registry(Dependencies(store=store, batcher=batcher))


def main() -> None:
    """Entry point of `toxic serve monitoring`."""
    configure_logging()
    settings = MonitoringSettings()
    spec = InfraSpec.for_prefix(settings.prefix)

    def handlers(clients: AwsClients, publisher: Publisher) -> HandlerRegistry:
        return build_handlers(settings, DynamoMonitoringStore(clients.dynamodb, spec))

    asyncio.run(run_worker(settings, SERVICE, handlers))
