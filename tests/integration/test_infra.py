"""``ensure``, replica queues, gc and ``toxic infra`` against the real stand-in over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.topology import QUEUE_ROUTES
from shared.aws import AwsClients
from shared.dynamo import batch_put
from shared.emulator import EmulatorProcess
from shared.infra import (
    Action,
    InfraSpec,
    create_replica_queue,
    ensure,
    gc,
    heartbeat,
    remove_replica_queue,
)
from shared.infra.messaging import find_queue, find_topic_arn, list_subscriptions
from shared.infra.replicas import HEARTBEAT_TAG
from shared.items import PredictionItem
from shared.settings import AwsSettings
from tests import factories
from tests.harness.ports import free_port

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec(aws_settings: AwsSettings) -> InfraSpec:
    return InfraSpec.for_prefix(aws_settings.prefix)


@pytest.fixture
async def deployed(clients: AwsClients, spec: InfraSpec) -> InfraSpec:
    await ensure(clients, spec)
    return spec


async def _queue_names(clients: AwsClients, prefix: str) -> set[str]:
    urls = (await clients.sqs.list_queues(QueueNamePrefix=prefix)).get("QueueUrls", [])
    return {url.rsplit("/", 1)[-1] for url in urls}


async def _table_names(clients: AwsClients, prefix: str) -> set[str]:
    names = (await clients.dynamodb.list_tables())["TableNames"]
    return {name for name in names if name.startswith(f"{prefix}-")}


async def _publish(clients: AwsClients, topic_arn: str, event_type: str, body: str) -> None:
    await clients.sns.publish(
        TopicArn=topic_arn,
        Message=body,
        MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
    )


async def _drain(clients: AwsClients, queue_name: str) -> list[str]:
    url = await find_queue(clients.sqs, queue_name)
    assert url is not None
    received = await clients.sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [message["Body"] for message in received.get("Messages", [])]


async def test_ensure_creates_every_resource_and_a_second_run_changes_nothing(
    clients: AwsClients, spec: InfraSpec
) -> None:
    first = await ensure(clients, spec)

    assert {c.action for c in first} == {Action.CREATED}
    expected_queues = {q.name for q in spec.static_queues}
    assert await _queue_names(clients, spec.prefix) == expected_queues
    assert await _table_names(clients, spec.prefix) == {t.name for t in spec.tables}
    await clients.s3.head_bucket(Bucket=spec.bucket.name)

    second = await ensure(clients, spec)

    assert [c.action for c in second] == [Action.UNCHANGED] * len(second)
    assert [(c.kind, c.name) for c in second] == [(c.kind, c.name) for c in first]
    assert await _queue_names(clients, spec.prefix) == expected_queues
    topic_arn = await find_topic_arn(clients.sns, spec.topic.name)
    assert topic_arn is not None
    assert len(await list_subscriptions(clients.sns, topic_arn)) == len(spec.queues) // 2


async def test_ensure_gives_tables_their_indexes_and_ttl(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    predictions = await clients.dynamodb.describe_table(
        TableName=deployed.table("predictions").name
    )
    indexes = {
        i["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]]
        for i in predictions["Table"]["GlobalSecondaryIndexes"]
    }
    assert indexes == {"by_time": [("day", "HASH"), ("created_at", "RANGE")]}
    ttl = await clients.dynamodb.describe_time_to_live(TableName=deployed.table("predictions").name)
    assert ttl["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires_at",
    }
    billing = predictions["Table"].get("BillingModeSummary", {}).get("BillingMode")
    assert billing == "PAY_PER_REQUEST"


async def test_ensure_adds_a_missing_index_and_reports_a_changed_one_as_drift(
    clients: AwsClients, spec: InfraSpec
) -> None:
    feedback = spec.table("feedback")
    # An older layout: by_time keyed on created_at alone, and no by_prediction index.
    await clients.dynamodb.create_table(
        TableName=feedback.name,
        AttributeDefinitions=[
            {"AttributeName": "feedback_id", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "feedback_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_time",
                "KeySchema": [{"AttributeName": "created_at", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )

    first = {(c.kind, c.name): c.action for c in await ensure(clients, spec)}
    second = {(c.kind, c.name): c.action for c in await ensure(clients, spec)}

    assert first[("table", feedback.name)] is Action.UNCHANGED
    assert first[("index", f"{feedback.name}/by_prediction")] is Action.CREATED
    assert first[("index", f"{feedback.name}/by_time")] is Action.DRIFTED
    assert second[("index", f"{feedback.name}/by_prediction")] is Action.UNCHANGED
    assert second[("index", f"{feedback.name}/by_time")] is Action.DRIFTED  # never "fixed" away
    described = await clients.dynamodb.describe_table(TableName=feedback.name)
    names = {i["IndexName"] for i in described["Table"]["GlobalSecondaryIndexes"]}
    assert names == {"by_time", "by_prediction"}


@pytest.mark.parametrize("event_type", ["PredictionMade", "RetrainRequested", "ModelPublished"])
async def test_an_event_reaches_only_the_queues_whose_filter_accepts_it_as_the_raw_body(
    clients: AwsClients, deployed: InfraSpec, event_type: str
) -> None:
    topic_arn = await find_topic_arn(clients.sns, deployed.topic.name)
    assert topic_arn is not None
    body = json.dumps({"event_type": event_type, "marker": "raw"})

    await _publish(clients, topic_arn, event_type, body)

    for role, accepted in QUEUE_ROUTES.items():
        if role == "api":
            continue
        bodies = await _drain(clients, deployed.queue(role).name)
        assert bodies == ([body] if event_type in accepted else []), role


async def test_ensure_puts_back_a_drifted_queue_attribute_and_reports_it_updated(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    logger = deployed.queue("logger")
    url = await find_queue(clients.sqs, logger.name)
    assert url is not None
    await clients.sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "7"})

    changes = await ensure(clients, deployed)

    updated = [c for c in changes if c.action is not Action.UNCHANGED]
    assert [(c.kind, c.name, c.action) for c in updated] == [("queue", logger.name, Action.UPDATED)]
    assert "VisibilityTimeout" in updated[0].detail
    attributes = await clients.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["VisibilityTimeout"]
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == str(logger.visibility_timeout_seconds)


async def test_ensure_puts_back_a_drifted_filter_policy(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    topic_arn = await find_topic_arn(clients.sns, deployed.topic.name)
    assert topic_arn is not None
    training_url = await find_queue(clients.sqs, deployed.queue("training").name)
    assert training_url is not None
    training_arn = (
        await clients.sqs.get_queue_attributes(QueueUrl=training_url, AttributeNames=["QueueArn"])
    )["Attributes"]["QueueArn"]
    (subscription,) = [
        s
        for s in await list_subscriptions(clients.sns, topic_arn)
        if s.get("Endpoint") == training_arn
    ]
    await clients.sns.set_subscription_attributes(
        SubscriptionArn=subscription["SubscriptionArn"],
        AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"event_type": ["PredictionMade"]}),
    )

    changes = await ensure(clients, deployed)

    assert [(c.kind, c.action) for c in changes if c.action is not Action.UNCHANGED] == [
        ("subscription", Action.UPDATED)
    ]
    body = json.dumps({"retrain": True})
    await _publish(clients, topic_arn, "RetrainRequested", body)
    assert await _drain(clients, deployed.queue("training").name) == [body]


async def test_a_replica_queue_receives_model_announcements_until_it_is_removed(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    replica = await create_replica_queue(clients, deployed, "host-a.example:1234")
    topic_arn = await find_topic_arn(clients.sns, deployed.topic.name)
    assert topic_arn is not None
    assert replica.name == f"{deployed.prefix}-api-host-a-example-1234"

    await _publish(clients, topic_arn, "PredictionMade", "not for replicas")
    await _publish(clients, topic_arn, "ModelPublished", "new model")
    assert await _drain(clients, replica.name) == ["new model"]

    await heartbeat(clients, replica, now=2_000_000_000)
    tags = (await clients.sqs.list_queue_tags(QueueUrl=replica.url))["Tags"]
    assert tags[HEARTBEAT_TAG] == "2000000000"
    assert tags["role"] == "api-replica"

    await remove_replica_queue(clients, replica)
    await remove_replica_queue(clients, replica)  # a second stop is harmless

    assert await find_queue(clients.sqs, replica.name) is None
    endpoints = {s.get("Endpoint") for s in await list_subscriptions(clients.sns, topic_arn)}
    assert replica.arn not in endpoints


async def test_creating_a_replica_queue_twice_reuses_it(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    first = await create_replica_queue(clients, deployed, "web-1")
    second = await create_replica_queue(clients, deployed, "web-1")

    assert second == first
    topic_arn = await find_topic_arn(clients.sns, deployed.topic.name)
    assert topic_arn is not None
    endpoints = [s.get("Endpoint") for s in await list_subscriptions(clients.sns, topic_arn)]
    assert endpoints.count(first.arn) == 1


async def test_gc_removes_a_stale_replica_queue_and_keeps_fresh_and_static_queues(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    now = 1_900_000_000.0
    stale = await create_replica_queue(clients, deployed, "dead-replica", now=now - 3_600)
    fresh = await create_replica_queue(clients, deployed, "live-replica", now=now - 3_600)
    await heartbeat(clients, fresh, now=now - 30)

    removed = await gc(clients, deployed, stale_after_seconds=600, now=now)

    assert removed == [stale.name]
    remaining = await _queue_names(clients, deployed.prefix)
    assert remaining == {q.name for q in deployed.static_queues} | {fresh.name}
    topic_arn = await find_topic_arn(clients.sns, deployed.topic.name)
    assert topic_arn is not None
    endpoints = {s.get("Endpoint") for s in await list_subscriptions(clients.sns, topic_arn)}
    assert stale.arn not in endpoints
    assert fresh.arn in endpoints
    assert await gc(clients, deployed, stale_after_seconds=600, now=now) == []


async def test_gc_never_removes_static_queues_even_with_a_zero_threshold(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    assert await gc(clients, deployed, stale_after_seconds=0, now=4_000_000_000) == []

    assert await _queue_names(clients, deployed.prefix) == {q.name for q in deployed.static_queues}


async def test_items_written_in_batches_are_queryable_by_day_in_time_order(
    clients: AwsClients, deployed: InfraSpec
) -> None:
    start = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    items = [
        PredictionItem.from_event(
            factories.prediction_made(
                occurred_at=start + timedelta(seconds=n), scores=factories.scores(threat=1e-7)
            ),
            retention_seconds=3_600,
        )
        for n in reversed(range(30))
    ]
    table = deployed.table(PredictionItem.TABLE).name

    await batch_put(clients.dynamodb, table, items)

    response = await clients.dynamodb.query(
        TableName=table,
        IndexName="by_time",
        KeyConditionExpression="#d = :day",
        ExpressionAttributeNames={"#d": "day"},
        ExpressionAttributeValues={":day": {"S": "2026-05-01"}},
    )
    found = [PredictionItem.from_item(item) for item in response["Items"]]
    assert found == sorted(items, key=lambda item: item.created_at)


def _toxic(emulator: EmulatorProcess, prefix: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.url,
        "TOXIC_PREFIX": prefix,
        "AWS_REGION": "us-east-1",
    }
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "infra", *args],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def test_toxic_infra_ensure_prints_what_it_created_and_then_that_nothing_changed(
    emulator: EmulatorProcess, aws_settings: AwsSettings
) -> None:
    spec = InfraSpec.for_prefix(aws_settings.prefix)

    first = _toxic(emulator, aws_settings.prefix, "ensure")
    second = _toxic(emulator, aws_settings.prefix, "ensure")

    assert first.returncode == 0, first.stderr
    for name in [spec.topic.name, spec.bucket.name, *(q.name for q in spec.static_queues)]:
        assert any(
            line.startswith("created") and name in line for line in first.stdout.splitlines()
        ), name
    assert second.returncode == 0, second.stderr
    assert "created" not in second.stdout
    assert second.stdout.strip().splitlines()[-1].startswith("nothing to change")


def test_toxic_infra_gc_runs_against_the_stand_in(
    emulator: EmulatorProcess, aws_settings: AwsSettings
) -> None:
    assert _toxic(emulator, aws_settings.prefix, "ensure").returncode == 0

    result = _toxic(emulator, aws_settings.prefix, "gc", "--stale-after", "60")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "nothing to remove"


def test_toxic_infra_ensure_says_in_one_line_when_the_endpoint_is_unreachable() -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [sys.executable, "-m", "services.cli", "infra", "ensure"],
        env={
            **os.environ,
            "AWS_ENDPOINT_URL": nobody,
            "TOXIC_PREFIX": "unreachable",
            "AWS_MAX_ATTEMPTS": "2",
        },
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error:")
    assert len(result.stderr.strip().splitlines()) == 1
