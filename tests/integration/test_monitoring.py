"""Monitoring rollups on the AWS stand-in: the adapter, competing batchers, the real process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from contracts import DriftBaseline, Label
from services.monitoring.batcher import RollupBatcher
from services.monitoring.repository import AlreadyCounted, DynamoMonitoringStore, marker_key
from shared.aws import AwsClients
from shared.dynamo import from_attribute_map
from shared.infra import InfraSpec
from shared.items import PredictionItem
from shared.monitoring.reader import DynamoMonitoringReader
from shared.monitoring.records import BaselineItem
from shared.monitoring.rollups import merge, prediction_increments
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.harness.processes import ServiceProcess, toxic_command
from tests.harness.tables import rollup
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 30, 3, 48, 27, tzinfo=UTC)
MINUTE, HOUR, DAY = "2026-11-30T03:48", "2026-11-30T03", "2026-11-30"


@pytest.fixture
def store(clients: AwsClients, deployment: InfraSpec) -> DynamoMonitoringStore:
    return DynamoMonitoringStore(clients.dynamodb, deployment)


@pytest.fixture
def reader(clients: AwsClients, deployment: InfraSpec) -> DynamoMonitoringReader:
    return DynamoMonitoringReader(clients.dynamodb, deployment)


async def marker(clients: AwsClients, spec: InfraSpec, event_id: object) -> dict[str, Any]:
    response = await clients.dynamodb.get_item(
        TableName=spec.table("processed").name,
        Key={"pk": {"S": f"monitoring#{event_id}"}},
        ConsistentRead=True,
    )
    return from_attribute_map(response.get("Item", {}))


async def test_a_commit_adds_the_counters_and_writes_markers_that_expire(
    clients: AwsClients, deployment: InfraSpec, store: DynamoMonitoringStore
) -> None:
    events = [factories.prediction_made(occurred_at=AT) for _ in range(3)]

    await store.commit(
        [e.event_id for e in events], merge(prediction_increments(e) for e in events)
    )

    item = await rollup(clients, deployment, "minute#*", MINUTE)
    assert item["predictions"] == 3
    assert item["score_sum_toxic"] == Decimal("0.03")
    assert (await rollup(clients, deployment, "day#7", DAY))["decision_allow"] == 3
    stored = await marker(clients, deployment, events[0].event_id)
    assert stored["pk"] == marker_key(events[0].event_id)
    assert stored["expires_at"] > datetime.now(UTC).timestamp()


async def test_zero_scores_and_bins_far_apart_in_time_are_committed_and_read_back_by_range(
    store: DynamoMonitoringStore, reader: DynamoMonitoringReader
) -> None:
    times = [AT.replace(hour=h) for h in (1, 3, 4)] + [AT.replace(day=29)]
    events = [factories.prediction_made(occurred_at=t, scores=factories.scores(0.0)) for t in times]
    await store.commit([e.event_id for e in events], merge(map(prediction_increments, events)))

    hours = await reader.rollups("hour", "*", "2026-11-30T00", "2026-11-30T03")

    assert [bucket for bucket, _ in hours] == ["2026-11-30T01", "2026-11-30T03"]
    assert all(counters["predictions"] == 1 for _, counters in hours)
    assert all(counters["top_score_0"] == 1 for _, counters in hours)
    assert "score_sum_toxic" not in hours[0][1]  # a zero sum adds nothing
    days = await reader.rollups("day", "7", "2026-11-01", "2026-11-30")
    assert [(bucket, int(counters["predictions"])) for bucket, counters in days] == [
        ("2026-11-29", 1),
        ("2026-11-30", 3),
    ]
    assert await reader.rollups("minute", "8", "2026-11-30", "2026-12-01") == []


async def test_a_commit_naming_counted_events_writes_nothing_and_names_them(
    clients: AwsClients, deployment: InfraSpec, store: DynamoMonitoringStore
) -> None:
    counted = [factories.prediction_made(occurred_at=AT) for _ in range(2)]
    await store.commit([e.event_id for e in counted], merge(map(prediction_increments, counted)))
    fresh = factories.prediction_made(occurred_at=AT)
    batch = [counted[0], fresh, counted[1]]

    with pytest.raises(AlreadyCounted) as raised:
        await store.commit([e.event_id for e in batch], merge(map(prediction_increments, batch)))

    # The stand-in, like DynamoDB, gives a reason per item: every counted event is named.
    assert raised.value.event_ids == {counted[0].event_id, counted[1].event_id}
    assert (await rollup(clients, deployment, "minute#*", MINUTE))["predictions"] == 2
    assert await marker(clients, deployment, fresh.event_id) == {}


async def test_a_batch_with_a_duplicate_counts_it_once(
    clients: AwsClients, deployment: InfraSpec, store: DynamoMonitoringStore
) -> None:
    batcher = RollupBatcher(store, max_delay=0.02)
    counted = factories.prediction_made(occurred_at=AT)
    await batcher.count(counted.event_id, prediction_increments(counted))
    batch = [counted, *(factories.prediction_made(occurred_at=AT) for _ in range(4)), counted]

    outcomes = await asyncio.gather(
        *(batcher.count(e.event_id, prediction_increments(e)) for e in batch)
    )

    assert outcomes == [False, True, True, True, True, False]
    assert (await rollup(clients, deployment, "hour#*", HOUR))["predictions"] == 5


async def test_competing_batchers_with_overlapping_events_count_each_event_once(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    # Two consumers' batchers, each with its own store, as two processes would have; small
    # transactions (14 events each) so that several of each race on the same hot items.
    first, second = (
        RollupBatcher(
            DynamoMonitoringStore(clients.dynamodb, deployment), max_delay=0.005, max_items=20
        )
        for _ in range(2)
    )
    events = [factories.prediction_made(occurred_at=AT) for _ in range(60)]
    # Events 15 to 44 reach both consumers (redeliveries), in opposite orders.
    work = [first.count(e.event_id, prediction_increments(e)) for e in events[:45]]
    work += [second.count(e.event_id, prediction_increments(e)) for e in reversed(events[15:])]

    outcomes = await asyncio.gather(*work)

    assert sum(outcomes) == 60
    assert first.transactions > 1
    assert second.transactions > 1
    for pk, sk in [("minute#*", MINUTE), ("hour#7", HOUR), ("day#*", DAY)]:
        item = await rollup(clients, deployment, pk, sk)
        assert item["predictions"] == 60
        assert item["decision_allow"] == 60
        assert item["score_sum_toxic"] == Decimal("0.6")


async def test_the_flags_of_a_logged_prediction_are_read_back(
    clients: AwsClients, deployment: InfraSpec, store: DynamoMonitoringStore
) -> None:
    flagged = factories.prediction_made(flagged=(Label.TOXIC, Label.INSULT))
    unflagged = factories.prediction_made()
    for event in (flagged, unflagged):
        await clients.dynamodb.put_item(
            TableName=deployment.table("predictions").name,
            Item=PredictionItem.from_event(event, retention_seconds=60).to_item(),
        )

    assert await store.prediction_flags(flagged.prediction_id) == (Label.TOXIC, Label.INSULT)
    assert await store.prediction_flags(unflagged.prediction_id) == ()
    assert await store.prediction_flags(factories.prediction_made().prediction_id) is None


async def test_a_versions_baseline_is_stored_once(
    store: DynamoMonitoringStore, reader: DynamoMonitoringReader
) -> None:
    first = BaselineItem.from_event(factories.model_published(model_version="12"))
    again = BaselineItem.from_event(
        factories.model_published(model_version="12", baseline=factories.drift_baseline(rows=5))
    )

    assert await store.put_baseline(first) is True
    assert await store.put_baseline(again) is False

    stored = await reader.baseline("12")
    assert stored == first
    assert DriftBaseline.model_validate_json(stored.baseline_json).rows == 30
    assert await reader.baseline("13") is None


async def start_monitoring(
    aws_settings: AwsSettings, processes: Callable[..., ServiceProcess], name: str = "monitoring"
) -> ServiceProcess:
    process = processes(
        name,
        toxic_command("serve", "monitoring"),
        env={
            "AWS_ENDPOINT_URL": str(aws_settings.endpoint_url),
            "TOXIC_PREFIX": aws_settings.prefix,
            "TOXIC_WAIT_TIME_SECONDS": "1",
        },
    )
    await asyncio.to_thread(
        process.wait_until, lambda: "consumer_started" in process.log(), 60, "consuming"
    )
    return process


@pytest.fixture
async def monitoring(
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Callable[..., ServiceProcess],
) -> ServiceProcess:
    """The monitoring process, consuming its queue."""
    return await start_monitoring(aws_settings, processes)


async def test_two_competing_monitoring_processes_count_every_event_once(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Callable[..., ServiceProcess],
) -> None:
    first, second = [
        await start_monitoring(aws_settings, processes, f"monitoring-{i}") for i in (1, 2)
    ]
    publisher = await open_publisher(clients, deployment)
    events = [factories.prediction_made(occurred_at=AT) for _ in range(300)]

    # Every event twice, in separate publications: both processes see copies of many of them.
    for copies in (events, list(reversed(events))):
        await asyncio.gather(
            *(publisher.publish(copies[i : i + 10]) for i in range(0, len(copies), 10))
        )

    def logs() -> str:
        return first.log() + second.log()

    await eventually(lambda: drained(clients, deployment), "an empty queue", 60, describe=logs)
    for pk, sk in [("minute#*", MINUTE), ("hour#7", HOUR), ("day#*", DAY)]:
        assert (await rollup(clients, deployment, pk, sk))["predictions"] == 300
    assert "duplicate_ignored" in first.log()
    assert "duplicate_ignored" in second.log()


async def test_the_monitoring_process_counts_published_predictions_once_into_every_bucket(
    clients: AwsClients, deployment: InfraSpec, monitoring: ServiceProcess
) -> None:
    publisher = await open_publisher(clients, deployment)
    events = [factories.prediction_made(occurred_at=AT, model_version="7") for _ in range(5)]

    await publisher.publish([*events, events[0]])
    await publisher.publish([events[1]])

    async def counted() -> bool:
        item = await rollup(clients, deployment, "minute#*", MINUTE)
        return item.get("predictions") == 5

    await eventually(counted, "five predictions in the minute", describe=monitoring.log)
    # The duplicates are handled too (their messages deleted) without adding anything.
    await eventually(
        lambda: drained(clients, deployment), "an empty queue", describe=monitoring.log
    )
    assert monitoring.log().count("duplicate_ignored") == 2
    for pk, sk in [("minute#7", MINUTE), ("hour#7", HOUR), ("hour#*", HOUR), ("day#7", DAY)]:
        assert (await rollup(clients, deployment, pk, sk))["predictions"] == 5
    assert (await rollup(clients, deployment, "day#*", DAY))["latency_ms_le_5"] == 5


async def test_feedback_arriving_before_its_prediction_is_logged_counts_once_it_is(
    clients: AwsClients, deployment: InfraSpec, monitoring: ServiceProcess
) -> None:
    prediction = factories.prediction_made(occurred_at=AT, flagged=(Label.TOXIC,))
    feedback = factories.feedback_given(
        prediction_id=prediction.prediction_id, occurred_at=AT, true_labels={Label.TOXIC: True}
    )

    await (await open_publisher(clients, deployment)).publish([feedback])
    await eventually(
        lambda: _said(monitoring, "not logged yet"), "a retry", describe=monitoring.log
    )
    assert await rollup(clients, deployment, "minute#7", MINUTE) == {}
    await clients.dynamodb.put_item(
        TableName=deployment.table("predictions").name,
        Item=PredictionItem.from_event(prediction, retention_seconds=3600).to_item(),
    )

    async def confusion() -> dict[str, Any]:
        item = await rollup(clients, deployment, "minute#7", MINUTE)
        return item if item.get("tp_toxic") == 1 else {}

    item = await eventually(confusion, "the confusion counts", describe=monitoring.log)
    assert item["feedback"] == item["feedback_user"] == 1


async def test_sigterm_stops_the_monitoring_cleanly(monitoring: ServiceProcess) -> None:
    monitoring.signal(signal.SIGTERM)

    assert await asyncio.to_thread(monitoring.wait, 30) == 0
    assert "worker_stopped" in monitoring.log()


async def _said(process: ServiceProcess, text: str) -> bool:
    return text in process.log()


async def drained(clients: AwsClients, spec: InfraSpec) -> bool:
    """True when the monitoring queue holds no message, visible or in flight."""
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("monitoring").name))["QueueUrl"]
    attributes = await clients.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )
    return set(attributes["Attributes"].values()) == {"0"}
