"""Faults injected into real processes on the stand-in; each counts acknowledged against stored.

Every test states what it breaks and asserts the same four things afterwards, where they apply:
nothing acknowledged is lost, nothing is stored or counted twice, poison ends in a dead-letter
queue, and the services are still healthy.
"""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from contracts import encode
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.bus.publisher import message_attributes
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.harness.api import api_env, logger_env, run_replica, start_api
from tests.harness.champion import publish_champion, tiny_model
from tests.harness.load import steady_load
from tests.harness.processes import ServiceProcess, alive, scoring_children, toxic_command
from tests.harness.proxy import TcpProxy
from tests.harness.tables import queue_depth, rollup, stored_prediction_ids
from tests.harness.waiting import eventually

pytestmark = pytest.mark.faults

Start = Callable[..., ServiceProcess]


@pytest.fixture
async def store(deployment: InfraSpec, clients: AwsClients) -> ArtifactStore:
    """The deployment's artifact store, with model v1 published as champion."""
    artifacts = ArtifactStore(clients.s3, deployment.bucket.name)
    await publish_champion(artifacts, "v1")
    return artifacts


def consumer(
    processes: Start, aws: AwsSettings, role: str, name: str, **extra: str
) -> ServiceProcess:
    env = {**logger_env(aws), **{f"TOXIC_{k.upper()}": v for k, v in extra.items()}}
    process = processes(name, toxic_command("serve", role), env=env)
    process.wait_until(lambda: "consumer_started" in process.log(), 90, "consuming")
    return process


async def all_stored(clients: AwsClients, spec: InfraSpec, acknowledged: list[str]) -> list[str]:
    """Wait until at least as many rows as acknowledged predictions are stored; return them."""

    async def enough() -> list[str] | None:
        stored = await stored_prediction_ids(clients, spec)
        return stored if len(stored) >= len(acknowledged) else None

    return await eventually(enough, f"{len(acknowledged)} predictions stored", 90, every=0.5)


async def empty(clients: AwsClients, name: str) -> None:
    async def drained() -> bool:
        return await queue_depth(clients, name) == (0, 0)

    await eventually(drained, f"{name} drained", 60)


async def test_kill_9_of_a_logger_mid_batch_loses_nothing_and_stores_nothing_twice(
    store: ArtifactStore,
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    replica, _ = start_api(processes, aws_settings, tmp_path, rate_limit_per_second="0")
    # A short visibility timeout: what the killed logger had received comes back quickly.
    first = consumer(processes, aws_settings, "logger", "logger-1", visibility_timeout_seconds="5")
    acknowledged: list[str] = []
    async with httpx.AsyncClient(base_url=replica.url, timeout=30) as http:
        for n in range(8):
            texts = [f"batch {n} comment {i}" for i in range(100)]
            response = await http.post("/v1/predict/batch", json={"texts": texts})
            assert response.status_code == 200
            acknowledged += [p["prediction_id"] for p in response.json()["predictions"]]

    async def storing() -> bool:
        return 0 < len(await stored_prediction_ids(clients, deployment)) < len(acknowledged)

    await eventually(storing, "the logger part-way through", 60, every=0.02)
    first.signal(signal.SIGKILL)
    first.wait(10)
    second = consumer(processes, aws_settings, "logger", "logger-2", visibility_timeout_seconds="5")

    stored = await all_stored(clients, deployment, acknowledged)
    assert sorted(stored) == sorted(acknowledged)
    await empty(clients, deployment.queue("logger").name)
    assert await queue_depth(clients, f"{deployment.queue('logger').name}-dlq") == (0, 0)
    assert second.returncode is None


async def test_the_bus_unreachable_for_20_seconds_under_load_loses_nothing(
    store: ArtifactStore,
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
    bus_proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    replica, env = api_env(
        aws_settings, tmp_path, "api-1", sns_endpoint=bus_proxy.url, rate_limit_per_second="0"
    )
    run_replica(processes, replica, env)
    consumer(processes, aws_settings, "logger", "logger")
    with steady_load([replica.url]) as load:
        await asyncio.sleep(2)
        bus_proxy.cut()
        cut_at = len(load.acknowledged)
        await asyncio.sleep(20)
        during = len(load.acknowledged) - cut_at
        async with httpx.AsyncClient(base_url=replica.url) as http:
            ready = (await http.get("/readyz")).json()
        bus_proxy.restore()
        await asyncio.sleep(2)

    assert load.failures == []
    assert during > 100  # scoring went on at its pace while the bus was away
    assert ready["bus_reachable"] is False
    assert ready["outbox_depth"] > 0
    stored = await all_stored(clients, deployment, list(load.acknowledged))
    assert sorted(stored) == sorted(load.acknowledged)
    async with httpx.AsyncClient(base_url=replica.url) as http:
        after = (await http.get("/readyz")).json()
    assert (after["ready"], after["bus_reachable"], after["outbox_depth"]) == (True, True, 0)


async def test_a_burst_of_poison_among_good_messages_ends_in_the_dead_letter_queues(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
) -> None:
    logger = consumer(processes, aws_settings, "logger", "logger")
    monitoring = consumer(processes, aws_settings, "monitoring", "monitoring")
    good = [factories.prediction_made(occurred_at=datetime.now(UTC)) for _ in range(40)]
    invalid = json.loads(encode(factories.prediction_made()))
    invalid["scores"]["toxic"] = 7.5  # not a probability
    poison = [
        ("{not json", "PredictionMade"),
        (json.dumps({"event_type": "Bogus", "event_id": "x"}), "Bogus"),
        (json.dumps(invalid), "PredictionMade"),
    ]
    publisher = await open_publisher(clients, deployment)
    await publisher.publish(good[:20])
    for role in ("logger", "monitoring"):
        url = (await clients.sqs.get_queue_url(QueueName=deployment.queue(role).name))["QueueUrl"]
        for body, event_type in poison:
            await clients.sqs.send_message(
                QueueUrl=url,
                MessageBody=body,
                MessageAttributes={"event_type": {"DataType": "String", "StringValue": event_type}},
            )
    await publisher.publish(good[20:])

    stored = await all_stored(clients, deployment, [str(e.prediction_id) for e in good])
    assert sorted(stored) == sorted(str(e.prediction_id) for e in good)

    async def counted() -> int | None:
        total = 0
        for event_minute in {e.occurred_at.strftime("%Y-%m-%dT%H:%M") for e in good}:
            item = await rollup(clients, deployment, "minute#*", event_minute)
            total += int(item.get("predictions", 0))
        return total if total >= len(good) else None

    assert await eventually(counted, "the good events counted", 60) == len(good)
    for role in ("logger", "monitoring"):
        dlq = f"{deployment.queue(role).name}-dlq"

        async def dead(dlq: str = dlq) -> bool:
            return (await queue_depth(clients, dlq))[0] == len(poison)

        await eventually(dead, f"the poison in {dlq}", 60)
        await empty(clients, deployment.queue(role).name)
    for process in (logger, monitoring):
        assert process.returncode is None
        assert process.log().count("dead_lettered") >= len(poison), process.log()[-2000:]


async def test_a_storm_of_duplicate_deliveries_stores_and_counts_each_event_once(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
) -> None:
    consumers = [
        consumer(processes, aws_settings, role, f"{role}-{i}")
        for role in ("logger", "monitoring")
        for i in (1, 2)
    ]
    at = datetime.now(UTC).replace(second=30)
    events = [factories.prediction_made(occurred_at=at) for _ in range(60)]
    publisher = await open_publisher(clients, deployment)
    # Five publications of every event, and raw copies straight into the queues on top.
    for _ in range(5):
        await asyncio.gather(*(publisher.publish(events[i : i + 10]) for i in range(0, 60, 10)))
    for role in ("logger", "monitoring"):
        url = (await clients.sqs.get_queue_url(QueueName=deployment.queue(role).name))["QueueUrl"]
        for event in events[:10]:
            await clients.sqs.send_message(
                QueueUrl=url,
                MessageBody=encode(event),
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value["StringValue"]}
                    for name, value in message_attributes(event).items()
                },
            )

    for role in ("logger", "monitoring"):
        await empty(clients, deployment.queue(role).name)
    stored = await stored_prediction_ids(clients, deployment)
    assert sorted(stored) == sorted(str(e.prediction_id) for e in events)
    minute = at.strftime("%Y-%m-%dT%H:%M")
    assert (await rollup(clients, deployment, "minute#*", minute))["predictions"] == 60
    assert (await rollup(clients, deployment, "day#7", at.strftime("%Y-%m-%d")))[
        "predictions"
    ] == 60
    assert all(c.returncode is None for c in consumers)
    assert sum(c.log().count("duplicate_ignored") for c in consumers) >= 4 * 60


async def test_sigterm_of_the_api_under_load_delivers_every_acknowledged_event(
    store: ArtifactStore,
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    # As deployed: with a scoring process, which must not outlive the replica's stop.
    replica, api = start_api(
        processes, aws_settings, tmp_path, scoring_processes=1, rate_limit_per_second="0"
    )
    consumer(processes, aws_settings, "logger", "logger")
    async with httpx.AsyncClient(base_url=replica.url) as http:

        async def children() -> list[int] | None:
            ready = (await http.get("/readyz")).json()["scoring_processes_ready"]
            return scoring_children(api.pid) if ready else None

        scorers = await eventually(children, "the scoring process loaded", timeout=60)
    with steady_load([replica.url], per_second=50) as load:
        await asyncio.sleep(3)
        api.signal(signal.SIGTERM)
        code = await asyncio.to_thread(api.wait, 40)
        load.stopped.set()

    # uvicorn stops gracefully, then re-raises the signal: a clean stop exits by SIGTERM.
    assert code in (0, -signal.SIGTERM), api.log()[-2000:]
    assert '"outbox_left": 0' in api.log()

    async def scorers_gone() -> bool:
        return not any(alive(pid) for pid in scorers)

    await eventually(scorers_gone, "the scoring process gone with the replica", timeout=10)
    assert len(load.acknowledged) > 50
    # Requests after the stop began were refused (connection closed), never acknowledged.
    stored = await all_stored(clients, deployment, list(load.acknowledged))
    assert sorted(stored) == sorted(load.acknowledged)


async def test_a_tampered_model_under_load_is_refused_and_the_old_one_serves_on(
    store: ArtifactStore,
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    replica, api = start_api(processes, aws_settings, tmp_path, rate_limit_per_second="0")
    consumer(processes, aws_settings, "logger", "logger")
    published = await publish_champion(store, "v2", model=tiny_model(c=0.5), point=False)
    tampered = bytearray(published.data)
    tampered[len(tampered) // 2] ^= 0xFF
    await store.put_bytes(published.manifest.model_key, bytes(tampered), "application/zip")
    await store.write_champion(published.pointer)

    async with httpx.AsyncClient(base_url=replica.url) as http:

        async def refused() -> httpx.Response | None:
            ready = await http.get("/readyz")
            return ready if ready.json()["model_refusals"] >= 1 else None

        with steady_load([replica.url]) as load:
            await asyncio.sleep(1)
            await (await open_publisher(clients, deployment)).publish([published.event(store)])
            ready = await eventually(refused, "the refusal", 30)
            await asyncio.sleep(2)

    assert load.failures == []
    assert len(load.acknowledged) > 40
    assert set(load.acknowledged.values()) == {"v1"}
    assert "model_refused" in api.log()
    assert ready.status_code == 200
    assert ready.json()["model_version"] == "v1"
    stored = await all_stored(clients, deployment, list(load.acknowledged))
    assert sorted(stored) == sorted(load.acknowledged)
