"""The dashboard's materialized view on the AWS stand-in: stored by the real monitoring process,
decoded by the real reader, equal to a live read, shown by the page; newer builds win.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.dashboard.data import load_page_data
from services.dashboard.summaries import kpis
from services.monitoring.repository import DynamoMonitoringStore
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.monitoring.reader import DynamoMonitoringReader
from shared.monitoring.records import ViewItem
from shared.monitoring.view import RollupView, Window, read_view
from shared.monitoring.view_codec import decode_view, encode_view
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.factories import nothing_counted
from tests.harness.processes import ServiceProcess, toxic_command
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

MODEL_NAME = "toxic-comment-classifier"


@pytest.fixture
def reader(clients: AwsClients, deployment: InfraSpec) -> DynamoMonitoringReader:
    return DynamoMonitoringReader(clients.dynamodb, deployment)


@pytest.fixture
async def monitoring(
    deployment: InfraSpec, aws_settings: AwsSettings, processes: Callable[..., ServiceProcess]
) -> ServiceProcess:
    """The monitoring process, building the view every second."""
    process = processes(
        "monitoring",
        toxic_command("serve", "monitoring"),
        env={
            "AWS_ENDPOINT_URL": str(aws_settings.endpoint_url),
            "TOXIC_PREFIX": aws_settings.prefix,
            "TOXIC_WAIT_TIME_SECONDS": "1",
            "TOXIC_VIEW_SECONDS": "1",
        },
    )
    await asyncio.to_thread(
        process.wait_until, lambda: "consumer_started" in process.log(), 60, "consuming"
    )
    return process


async def test_the_monitoring_process_stores_a_view_the_reader_decodes_as_a_live_read_sees_it(
    clients: AwsClients,
    deployment: InfraSpec,
    reader: DynamoMonitoringReader,
    monitoring: ServiceProcess,
) -> None:
    now = datetime.now(UTC)
    events = [
        factories.prediction_made(occurred_at=now - timedelta(minutes=i), model_version="7")
        for i in range(6)
    ]
    await (await open_publisher(clients, deployment)).publish(events)

    async def counted_view() -> tuple[ViewItem, RollupView] | None:
        item = await reader.view()
        if item is None:
            return None
        view = decode_view(item.view)
        # The hours and days are read before the minutes: a build racing the last commit may
        # count the six in its minutes only; the next build counts them everywhere.
        counts = {kpis(part.total()).predictions for part in (view.minutes, view.hours, view.days)}
        return (item, view) if counts == {6} else None

    found = await eventually(counted_view, "a view counting six", 60, describe=monitoring.log)
    assert found is not None
    item, view = found
    assert item.built_by
    live = await read_view(reader, view.built_at, model_name=MODEL_NAME)
    assert view == live
    assert view.version_days == {}  # no model published: nothing to compare
    assert "view_built" in monitoring.log()

    data = await load_page_data(reader, datetime.now(UTC), model_name=MODEL_NAME)
    assert data.view_built_at is not None
    assert data.view_built_at >= item.built_at
    assert kpis(data.minutes.total()).predictions == 6


async def test_a_view_built_before_the_stored_one_does_not_replace_it(
    clients: AwsClients, deployment: InfraSpec, reader: DynamoMonitoringReader
) -> None:
    store = DynamoMonitoringStore(clients.dynamodb, deployment)
    now = datetime.now(UTC).replace(microsecond=0)

    def built(at: datetime, by: str) -> ViewItem:
        return ViewItem(view=encode_view(nothing_counted(Window(at))), built_at=at, built_by=by)

    assert await store.put_view(built(now, "m-2"))
    assert not await store.put_view(built(now - timedelta(seconds=3), "m-1"))
    assert await store.put_view(built(now + timedelta(seconds=1), "m-3"))

    stored = await reader.view()
    assert stored is not None
    assert stored.built_by == "m-3"
    assert decode_view(stored.view).built_at == now + timedelta(seconds=1)
