"""`toxic serve api` on a port, with the stand-in and the logger: what a client sees end to end."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import LABELS
from services.api.keys import Role, create_key
from services.api.keystore import DynamoKeyStore
from services.training.data import read_csv
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.items import PredictionItem, ReviewItem, ReviewStatus
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests.harness.api import (
    ReplicaConfig,
    Start,
    api_env,
    run_replica,
    start_api,
    start_logger,
)
from tests.harness.champion import STARTER, publish_champion, tiny_model
from tests.harness.processes import scoring_children, toxic_command
from tests.harness.proxy import TcpProxy
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(deployment: InfraSpec, clients: AwsClients) -> ArtifactStore:
    """The deployment's artifact store, with model v1 published as champion."""
    artifacts = ArtifactStore(clients.s3, deployment.bucket.name)
    await publish_champion(artifacts, "v1")
    return artifacts


async def stored_prediction(
    clients: AwsClients, spec: InfraSpec, prediction_id: str
) -> PredictionItem | None:
    response = await clients.dynamodb.get_item(
        TableName=spec.table("predictions").name,
        Key={"prediction_id": {"S": prediction_id}},
        ConsistentRead=True,
    )
    return PredictionItem.from_item(response["Item"]) if "Item" in response else None


async def test_a_scored_comment_becomes_a_dynamodb_row(
    store: ArtifactStore,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    replica, api = start_api(processes, aws_settings, tmp_path)
    start_logger(processes, aws_settings)
    async with httpx.AsyncClient(base_url=replica.url) as http:
        kept = (await http.post("/v1/predict", json={"text": "you are a fool"})).json()
        private = (
            await http.post("/v1/predict", json={"text": "my secret", "do_not_store": True})
        ).json()
        example = (await http.get("/v1/examples/random")).json()
        model = (await http.get("/v1/model")).json()
    starter = read_csv(STARTER)
    assert example["text"] in starter.texts
    assert example["model_version"] == model["version"] == "v1"
    assert set(model["metrics"]) == set(model["thresholds"]) == {label.value for label in LABELS}

    row = await eventually(
        lambda: stored_prediction(clients, deployment, kept["prediction_id"]), "the row"
    )
    assert row.model_version == "v1" == kept["model_version"]
    assert row.text == "you are a fool"
    assert row.decision.value == kept["moderation"]["decision"]
    hidden = await eventually(
        lambda: stored_prediction(clients, deployment, private["prediction_id"]), "private row"
    )
    assert hidden.text is None
    assert hidden.text_length == len("my secret")
    log = api.log()
    requests = [json.loads(line) for line in log.splitlines() if '"event": "request"' in line]
    scored = [r for r in requests if r["route"] == "/v1/predict"]
    assert len(scored) == 2
    assert {r["instance"] for r in scored} == {"api-1"}
    assert "you are a fool" not in log
    assert "my secret" not in log


async def test_a_review_item_leaves_the_queue_after_a_moderators_action(
    store: ArtifactStore,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    # Thresholds at the extremes: every comment the tiny model scores goes to review.
    replica, _ = start_api(
        processes, aws_settings, tmp_path, allow_at="0.000001", reject_at="0.9999999999"
    )
    start_logger(processes, aws_settings)
    keys = DynamoKeyStore(clients.dynamodb, deployment.table("api-keys").name)
    moderator = {"X-API-Key": await create_key(keys, Role.MODERATOR, "test moderator")}
    client_key = {"X-API-Key": await create_key(keys, Role.CLIENT, "test client")}

    async with httpx.AsyncClient(base_url=replica.url) as http:
        scored = (await http.post("/v1/predict", json={"text": "is this okay"})).json()
        assert scored["moderation"]["decision"] == "review"
        prediction_id = scored["prediction_id"]
        assert (await http.get("/v1/reviews")).status_code == 401
        assert (await http.get("/v1/reviews", headers=client_key)).status_code == 403

        async def pending() -> list[dict[str, Any]] | None:
            items = (await http.get("/v1/reviews", headers=moderator)).json()["items"]
            return [i for i in items if i["prediction_id"] == prediction_id] or None

        [item] = await eventually(pending, "the review item")
        assert item["status"] == "pending"
        assert item["text"] == "is this okay"
        stats = (await http.get("/v1/reviews/stats", headers=moderator)).json()
        assert stats["pending"] == 1

        decided = await http.post(
            f"/v1/reviews/{prediction_id}",
            json={"action": "remove", "labels": {"insult": True}, "note": "rude"},
            headers=moderator,
        )
        assert decided.status_code == 202, decided.text

        async def reviewed() -> ReviewItem | None:
            response = await clients.dynamodb.get_item(
                TableName=deployment.table("reviews").name,
                Key={"prediction_id": {"S": prediction_id}},
                ConsistentRead=True,
            )
            review = ReviewItem.from_item(response["Item"])
            return review if review.status is ReviewStatus.REVIEWED else None

        resolved = await eventually(reviewed, "the resolution")
        assert resolved.moderator_action is not None
        assert resolved.moderator_action.value == "remove"
        assert (await pending()) is None
        done = (await http.get("/v1/reviews?status=reviewed", headers=moderator)).json()
        assert [i["prediction_id"] for i in done["items"]] == [prediction_id]
        again = await http.post(
            f"/v1/reviews/{prediction_id}", json={"action": "approve"}, headers=moderator
        )
        assert again.status_code == 409


async def test_batches_score_in_a_child_process_and_in_the_replica_while_it_is_away(
    store: ArtifactStore, aws_settings: AwsSettings, processes: Start, tmp_path: Path
) -> None:
    replica, api = start_api(processes, aws_settings, tmp_path, scoring_processes=1)
    texts = read_csv(STARTER).texts[:20]  # more than the few scored on the event loop

    async with httpx.AsyncClient(base_url=replica.url, timeout=30) as http:

        async def children_ready() -> bool:
            return bool((await http.get("/readyz")).json()["scoring_processes_ready"])

        async def batch_scores() -> list[dict[str, float]]:
            response = await http.post("/v1/predict/batch", json={"texts": texts})
            assert response.status_code == 200, response.text
            return [p["scores"] for p in response.json()["predictions"]]

        singles = []  # one comment a request: scored in the replica itself
        for text in texts:
            singles.append((await http.post("/v1/predict", json={"text": text})).json()["scores"])
        await eventually(children_ready, "the scoring process loaded the model", timeout=60)
        assert "toxic_api_scoring_processes_ready 1.0" in (await http.get("/metrics")).text
        assert await batch_scores() == singles

        [child] = scoring_children(api.pid)
        os.kill(child, signal.SIGKILL)
        assert await batch_scores() == singles  # given back to the replica, not failed
        assert not await children_ready()
        await eventually(children_ready, "a new scoring process", timeout=60)
        assert scoring_children(api.pid) != [child]
        assert await batch_scores() == singles
    assert "scoring_processes_failed" in api.log()


async def test_model_published_switches_two_replicas_under_load_without_failed_requests(
    store: ArtifactStore,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    replicas = [
        start_api(processes, aws_settings, tmp_path, f"api-{n}", rate_limit_per_second="0")[0]
        for n in (1, 2)
    ]
    seen: dict[str, set[str]] = {r.name: set() for r in replicas}
    failures: list[str] = []
    stop = asyncio.Event()

    async def load(replica: ReplicaConfig) -> None:
        async with httpx.AsyncClient(base_url=replica.url, timeout=10) as http:
            while not stop.is_set():
                response = await http.post("/v1/predict", json={"text": "you utter fool"})
                if response.status_code != 200:
                    failures.append(f"{replica.name}: {response.status_code} {response.text}")
                else:
                    seen[replica.name].add(response.json()["model_version"])
                await asyncio.sleep(0.005)

    loaders = [asyncio.create_task(load(r)) for r in replicas for _ in range(2)]
    await asyncio.sleep(1.0)
    published = await publish_champion(store, "v2", model=tiny_model(c=0.5))
    await (await open_publisher(clients, deployment)).publish([published.event(store)])
    started = time.monotonic()

    async def switched() -> bool:
        return all("v2" in versions for versions in seen.values())

    await eventually(switched, "both replicas on v2", timeout=15)
    swap_seconds = time.monotonic() - started
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.gather(*loaders)

    assert failures == []
    assert all(versions == {"v1", "v2"} for versions in seen.values()), seen
    assert swap_seconds < 10, swap_seconds  # the reconcile period is 30 s: the event did it


async def test_a_tampered_artifact_is_refused_and_the_old_model_keeps_serving(
    store: ArtifactStore,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    tmp_path: Path,
) -> None:
    replica, _ = start_api(processes, aws_settings, tmp_path)
    published = await publish_champion(store, "v2", model=tiny_model(c=0.5), point=False)
    tampered = bytearray(published.data)
    tampered[len(tampered) // 2] ^= 0xFF
    await store.put_bytes(published.manifest.model_key, bytes(tampered), "application/zip")
    await store.write_champion(published.pointer)
    await (await open_publisher(clients, deployment)).publish([published.event(store)])

    async with httpx.AsyncClient(base_url=replica.url) as http:

        async def refused() -> dict[str, Any] | None:
            ready = (await http.get("/readyz")).json()
            return ready if ready["model_refusals"] >= 1 else None

        ready = await eventually(refused, "the refusal")
        assert ready["model_version"] == "v1"
        assert ready["ready"] is True
        scored = await http.post("/v1/predict", json={"text": "still here"})
        assert scored.status_code == 200
        assert scored.json()["model_version"] == "v1"
        metrics = (await http.get("/metrics")).text
        assert "toxic_api_model_refusals 1.0" in metrics


async def test_with_the_bus_cut_scoring_continues_and_every_prediction_is_stored_once(
    store: ArtifactStore,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    bus_proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    replica, env = api_env(aws_settings, tmp_path, "api-1", sns_endpoint=bus_proxy.url)
    run_replica(processes, replica, env)
    start_logger(processes, aws_settings)
    ids: list[str] = []
    async with httpx.AsyncClient(base_url=replica.url) as http:
        bus_proxy.cut()
        for n in range(30):
            response = await http.post("/v1/predict", json={"text": f"comment number {n}"})
            assert response.status_code == 200
            ids.append(response.json()["prediction_id"])

        async def waiting() -> dict[str, Any] | None:
            ready = (await http.get("/readyz")).json()
            return ready if not ready["bus_reachable"] and ready["outbox_depth"] > 0 else None

        cut = await eventually(waiting, "the outbox to hold events")
        assert cut["ready"] is True
        bus_proxy.restore()

        async def drained() -> bool:
            return bool((await http.get("/readyz")).json()["outbox_depth"] == 0)

        await eventually(drained, "the outbox to drain", timeout=30)

    async def all_stored() -> bool:
        rows = [await stored_prediction(clients, deployment, i) for i in ids]
        return all(row is not None for row in rows)

    await eventually(all_stored, "every prediction stored", timeout=30)
    scan = await clients.dynamodb.scan(TableName=deployment.table("predictions").name)
    stored = [item["prediction_id"]["S"] for item in scan["Items"]]
    assert sorted(stored) == sorted(ids)


def test_without_the_infrastructure_the_api_refuses_to_start_with_one_clear_line(
    aws_settings: AwsSettings, tmp_path: Path
) -> None:
    _, env = api_env(aws_settings, tmp_path)
    result = subprocess.run(
        toxic_command("serve", "api"),
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"topic {aws_settings.prefix}-events does not exist" in result.stderr
    assert "Traceback" not in result.stderr


async def test_events_left_at_a_graceful_stop_are_delivered_by_the_next_start(
    store: ArtifactStore,
    deployment: InfraSpec,
    clients: AwsClients,
    aws_settings: AwsSettings,
    processes: Start,
    bus_proxy: TcpProxy,
    tmp_path: Path,
) -> None:
    replica, env = api_env(
        aws_settings, tmp_path, "api-1", sns_endpoint=bus_proxy.url, drain_seconds="1"
    )
    first = run_replica(processes, replica, env)
    bus_proxy.cut()
    async with httpx.AsyncClient(base_url=replica.url) as http:
        ids = [
            (await http.post("/v1/predict", json={"text": f"left behind {n}"})).json()[
                "prediction_id"
            ]
            for n in range(5)
        ]
    first.signal(signal.SIGTERM)
    first.wait(30)
    assert '"outbox_left": 5' in first.log()

    bus_proxy.restore()
    start_logger(processes, aws_settings)
    run_replica(processes, replica, env, "api-1b")

    async def all_stored() -> bool:
        rows = [await stored_prediction(clients, deployment, i) for i in ids]
        return all(row is not None for row in rows)

    await eventually(all_stored, "the left events stored after the restart", timeout=30)
