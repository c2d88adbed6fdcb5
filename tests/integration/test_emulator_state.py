"""The stand-in's snapshot and restore: data survives a restart, and a snapshot is one cut."""

from __future__ import annotations

import asyncio
import gzip
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.aws import AwsClients, open_clients
from shared.emulator import EmulatorProcess, restore, snapshot
from shared.emulator_state import SNAPSHOT_FILE
from shared.infra import InfraSpec, ensure
from shared.infra.messaging import find_queue, find_topic_arn
from shared.settings import AwsSettings, EmulatorSettings
from tests.harness.ports import free_port

pytestmark = pytest.mark.integration

PREFIX = "snap"


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[Callable[[], EmulatorProcess]]:
    """Start a stand-in keeping its snapshots in one folder; each call starts a fresh one."""
    started: list[EmulatorProcess] = []

    def start() -> EmulatorProcess:
        process = EmulatorProcess(
            EmulatorSettings(port=free_port()), state_dir=tmp_path / "stand-in"
        )
        process.start()
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def settings_for(url: str) -> AwsSettings:
    return AwsSettings(prefix=PREFIX, endpoint_url=url, region="us-east-1")


async def drain(clients: AwsClients, url: str) -> list[Any]:
    messages: list[Any] = []
    while True:
        got = await clients.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        batch = got.get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


async def test_a_restarted_stand_in_gets_back_items_objects_and_messages(stand_ins) -> None:
    spec = InfraSpec.for_prefix(PREFIX)
    first = stand_ins()
    async with open_clients(settings_for(first.url)) as clients:
        await ensure(clients, spec)
        await clients.dynamodb.put_item(
            TableName=spec.table("predictions").name,
            Item={"prediction_id": {"S": "p1"}, "scores": {"M": {"toxic": {"N": "0.25"}}}},
        )
        # Binary values, as the monitoring's compressed dashboard view is stored.
        await clients.dynamodb.put_item(
            TableName=spec.table("rollups").name,
            Item={
                "pk": {"S": "view#default"},
                "sk": {"S": "current"},
                "view": {"B": b"\x00\xffzlib"},
                "nested": {"M": {"parts": {"L": [{"B": b"\x01"}]}}},
            },
        )
        await clients.s3.put_object(
            Bucket=spec.bucket.name,
            Key="models/champion.json",
            Body=b'{"v": 1}',
            ContentType="application/json",
        )
        queue = await find_queue(clients.sqs, spec.queue("logger").name)
        assert queue is not None
        await clients.sqs.send_message(
            QueueUrl=queue,
            MessageBody="hello",
            MessageAttributes={"event_type": {"DataType": "String", "StringValue": "X"}},
        )
        assert len(await drain(clients, queue)) == 1  # now in flight, received once
    written = await asyncio.to_thread(snapshot, first.url)
    assert written["written"] is True
    first.stop()

    second = stand_ins()
    async with open_clients(settings_for(second.url)) as clients:
        await ensure(clients, spec)
        loaded = await asyncio.to_thread(restore, second.url)
        assert loaded["found"] is True
        item = await clients.dynamodb.get_item(
            TableName=spec.table("predictions").name, Key={"prediction_id": {"S": "p1"}}
        )
        assert item["Item"]["scores"] == {"M": {"toxic": {"N": "0.25"}}}
        view = await clients.dynamodb.get_item(
            TableName=spec.table("rollups").name,
            Key={"pk": {"S": "view#default"}, "sk": {"S": "current"}},
        )
        assert view["Item"]["view"] == {"B": b"\x00\xffzlib"}
        assert view["Item"]["nested"] == {"M": {"parts": {"L": [{"B": b"\x01"}]}}}
        got = await clients.s3.get_object(Bucket=spec.bucket.name, Key="models/champion.json")
        assert await got["Body"].read() == b'{"v": 1}'
        assert got["ContentType"] == "application/json"
        # Nothing but reads since the restore: the snapshot on disk is still the state.
        assert (await asyncio.to_thread(snapshot, second.url))["written"] is False
        queue = await find_queue(clients.sqs, spec.queue("logger").name)
        assert queue is not None
        (message,) = await drain(clients, queue)
        assert message["Body"] == "hello"
        assert message["MessageAttributes"]["event_type"]["StringValue"] == "X"
        # Received once before the restart, once now: the redrive count carries on.
        assert message["Attributes"]["ApproximateReceiveCount"] == "2"
    # A receive changes a message (its count, its visibility): that is written.
    assert (await asyncio.to_thread(snapshot, second.url))["written"] is True


def snapshot_contents(
    folder: Path, processed: str, rollups: str
) -> tuple[int, int, dict[str, list[str]]]:
    """Markers, the counter and each queue's bodies, as the snapshot file holds them."""
    document = json.loads(gzip.decompress((folder / SNAPSHOT_FILE).read_bytes()))
    tables = {t["table"]: json.loads(t["items"]) for t in document["dynamodb"]}
    markers = sum(1 for item in tables[processed] if item["pk"]["S"].startswith("monitoring#"))
    counter = sum(int(item["predictions"]["N"]) for item in tables[rollups])
    queues = {q["queue"]: sorted(m["body"] for m in q["messages"]) for q in document["sqs"]}
    return markers, counter, queues


async def test_a_snapshot_holds_markers_with_their_effects_and_a_publish_in_every_queue(
    stand_ins, tmp_path: Path
) -> None:
    """Writers count events (marker + counter in one transaction) and publish to the topic
    while snapshots are taken: each snapshot, and the state restored from the last, has as many
    markers as the counter says, and every published event in both subscribed queues or none."""
    spec = InfraSpec.for_prefix(PREFIX)
    processed, rollups = spec.table("processed").name, spec.table("rollups").name
    logger_queue, monitoring_queue = spec.queue("logger").name, spec.queue("monitoring").name
    first = stand_ins()
    stop = asyncio.Event()
    counted = published = 0
    async with open_clients(settings_for(first.url)) as clients:
        await ensure(clients, spec)
        topic = await find_topic_arn(clients.sns, spec.topic.name)
        assert topic is not None
        # Older markers make the table long, so a torn cut would have room to show.
        for start in range(0, 1500, 25):
            await clients.dynamodb.batch_write_item(
                RequestItems={
                    processed: [
                        {"PutRequest": {"Item": {"pk": {"S": f"old#{n}"}}}}
                        for n in range(start, start + 25)
                    ]
                }
            )

        async def count_events() -> None:
            nonlocal counted
            while not stop.is_set():
                await clients.dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": processed,
                                "Item": {"pk": {"S": f"monitoring#{uuid.uuid4()}"}},
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": rollups,
                                "Key": {"pk": {"S": "minute#*"}, "sk": {"S": "t0"}},
                                "UpdateExpression": "ADD predictions :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        },
                    ]
                )
                counted += 1

        async def publish_events() -> None:
            nonlocal published
            while not stop.is_set():
                await clients.sns.publish(
                    TopicArn=topic,
                    Message=json.dumps({"n": published}),
                    MessageAttributes={
                        "event_type": {"DataType": "String", "StringValue": "PredictionMade"}
                    },
                )
                published += 1

        writers = [asyncio.create_task(count_events()) for _ in range(6)]
        writers += [asyncio.create_task(publish_events()) for _ in range(1)]
        cuts = []
        for _ in range(5):
            await asyncio.sleep(0.15)
            assert (await asyncio.to_thread(snapshot, first.url))["written"] is True
            cuts.append(snapshot_contents(tmp_path / "stand-in", processed, rollups))
        stop.set()
        await asyncio.gather(*writers)
    first.stop()  # what came after the last snapshot is lost, as after a hard kill

    for markers, counter, queues in cuts:
        assert markers == counter
        assert queues[logger_queue] == queues[monitoring_queue]
    last_markers, _, last_queues = cuts[-1]
    assert 0 < last_markers < counted, "the last snapshot should fall amid the writes"
    assert 0 < len(last_queues[logger_queue]) < published

    second = stand_ins()
    async with open_clients(settings_for(second.url)) as clients:
        await ensure(clients, spec)
        await asyncio.to_thread(restore, second.url)
        markers = 0
        async for page in _scan_pages(clients, processed):
            markers += sum(1 for item in page if item["pk"]["S"].startswith("monitoring#"))
        counted_item = await clients.dynamodb.get_item(
            TableName=rollups, Key={"pk": {"S": "minute#*"}, "sk": {"S": "t0"}}
        )
        bodies = {}
        for name in (logger_queue, monitoring_queue):
            url = await find_queue(clients.sqs, name)
            assert url is not None
            bodies[name] = sorted(m["Body"] for m in await drain(clients, url))
    assert markers == int(counted_item["Item"]["predictions"]["N"]) == last_markers
    assert bodies[logger_queue] == bodies[monitoring_queue] == last_queues[logger_queue]


async def _scan_pages(clients: AwsClients, table: str):
    async for page in clients.dynamodb.get_paginator("scan").paginate(TableName=table):
        yield page.get("Items", [])
