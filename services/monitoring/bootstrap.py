"""The monitoring worker (`toxic serve monitoring`): rollups, alert rules, pipeline health.

Wiring only: ``main`` builds the DynamoDB store from settings; unit tests pass the in-memory fake
to the same ``build_handlers`` and ``build_evaluator``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import httpx
from aiobotocore.session import get_session

from contracts import Source
from services.monitoring.batcher import RollupBatcher
from services.monitoring.evaluator import Evaluator
from services.monitoring.handlers import Dependencies, LagGauge, registry
from services.monitoring.health import CloudWatchOldestAge, HealthProbe, OldestAge
from services.monitoring.repository import AlertStore, DynamoMonitoringStore, MonitoringStore
from services.monitoring.rules import RuleSettings
from services.monitoring.settings import MonitoringSettings
from services.monitoring.view_builder import ViewBuilder, refresh_view
from shared.aws import AwsClients, client_config
from shared.bus import HandlerRegistry, Publisher
from shared.infra import InfraSpec
from shared.logs import configure_logging, get_logger
from shared.monitoring.reader import DynamoMonitoringReader, MonitoringReader
from shared.worker import default_instance, run_worker

__all__ = ["build_evaluator", "build_handlers", "main"]

SERVICE = "monitoring"

log = get_logger(__name__)


def build_handlers(
    settings: MonitoringSettings, store: MonitoringStore, lag: LagGauge | None = None
) -> HandlerRegistry:
    """The monitoring's handlers, counting into ``store``."""
    batcher = RollupBatcher(
        store, max_delay=settings.batch_delay_ms / 1000, max_items=settings.batch_items
    )
    return registry(Dependencies(store=store, batcher=batcher, lag=lag or LagGauge()))


def build_evaluator(
    reader: MonitoringReader,
    alerts: AlertStore,
    publisher: Publisher,
    rules: RuleSettings,
    instance: str,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Evaluator:
    source = Source(service=SERVICE, instance=instance)
    return Evaluator(reader, alerts, publisher, rules, source, clock=clock)


@contextlib.asynccontextmanager
async def _oldest_age(settings: MonitoringSettings) -> AsyncIterator[OldestAge | None]:
    """CloudWatch on AWS; nothing on a stand-in, which has no CloudWatch."""
    if settings.is_local:
        yield None
        return
    client = get_session().create_client(
        "cloudwatch", settings.region, config=client_config(), **settings.credentials()
    )
    async with client as cloudwatch:
        yield CloudWatchOldestAge(cloudwatch)


async def watch(evaluator: Evaluator, probe: HealthProbe, alerts: AlertStore, every: float) -> None:
    """Judge the rules and measure the pipeline every ``every`` seconds until cancelled."""
    while True:
        try:
            await evaluator.run_once()
        except Exception as exc:
            log.exception("evaluation_failed", error=str(exc))
        try:
            await alerts.put_health(await probe.measure())
        except Exception as exc:
            log.exception("health_measure_failed", error=str(exc))
        await asyncio.sleep(every)


def main() -> None:
    """Entry point of `toxic serve monitoring`."""
    configure_logging()
    settings = MonitoringSettings()
    rules = RuleSettings()
    spec = InfraSpec.for_prefix(settings.prefix)
    instance = settings.instance or default_instance()
    lag = LagGauge()

    def handlers(clients: AwsClients, publisher: Publisher) -> HandlerRegistry:
        return build_handlers(settings, DynamoMonitoringStore(clients.dynamodb, spec), lag)

    async def background(clients: AwsClients, publisher: Publisher) -> None:
        store = DynamoMonitoringStore(clients.dynamodb, spec)
        reader = DynamoMonitoringReader(clients.dynamodb, spec)
        evaluator = build_evaluator(reader, store, publisher, rules, instance)
        async with (
            httpx.AsyncClient(timeout=settings.probe_timeout_seconds) as http,
            _oldest_age(settings) as oldest_age,
        ):
            probe = HealthProbe(clients, spec, http, lag, instance, oldest_age=oldest_age)
            views = ViewBuilder(reader, store, model_name=settings.model_name, instance=instance)
            # Beside the rules, not after them: the view's freshness is its own setting.
            async with asyncio.TaskGroup() as group:
                group.create_task(watch(evaluator, probe, store, settings.evaluate_seconds))
                group.create_task(refresh_view(views, settings.view_seconds))

    asyncio.run(run_worker(settings, SERVICE, handlers, background))
