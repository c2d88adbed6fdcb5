"""The whole mesh on one stand-in: feedback that trips an alert retrains and hot-swaps the model.

Two API replicas, two competing loggers, the monitoring and the training workers and a real
MLflow server, all real processes. A steady load runs against both replicas throughout; users
then tell the system it was wrong, the monitoring's accuracy rule asks for a retrain, training
publishes a new model, both replicas serve it, and no request failed on the way. At the end the
two loggers together have stored every acknowledged prediction exactly once.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from contracts import LABELS
from shared.artifacts import ArtifactStore
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from tests.harness.api import ReplicaConfig, logger_env, start_api
from tests.harness.champion import STARTER, publish_champion
from tests.harness.load import steady_load
from tests.harness.processes import ServiceProcess, toxic_command
from tests.harness.tables import stored_prediction_ids
from tests.harness.waiting import eventually

pytestmark = pytest.mark.e2e

SEED_VERSION = "seed"


def consumer_env(aws: AwsSettings, **extra: str) -> dict[str, str]:
    return {**logger_env(aws), **{f"TOXIC_{k.upper()}": v for k, v in extra.items()}}


def started(process: ServiceProcess) -> ServiceProcess:
    process.wait_until(lambda: "consumer_started" in process.log(), 90, "consuming")
    return process


def holds(condition: Callable[[], bool]) -> Callable[[], Awaitable[bool | None]]:
    """``condition`` as the async probe ``eventually`` polls."""

    async def probe() -> bool | None:
        return condition() or None

    return probe


async def serving_version(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as http:
        return str((await http.get(f"{url}/v1/model")).json()["version"])


@pytest.mark.timeout(600)  # a real training run and seven processes on two cores
async def test_feedback_that_trips_the_accuracy_rule_retrains_and_both_replicas_swap_under_load(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    mlflow_url: str,
    processes: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    await publish_champion(ArtifactStore(clients.s3, deployment.bucket.name), SEED_VERSION)
    replicas: list[ReplicaConfig] = []
    for name in ("api-1", "api-2"):
        replica, _ = start_api(
            processes,
            aws_settings,
            tmp_path,
            name,
            scoring_processes=1,  # as deployed: each model swap replaces them too
            reconcile_seconds="5",
            rate_limit_per_second="0",
        )
        replicas.append(replica)
    consumers = [
        processes(f"logger-{i}", toxic_command("serve", "logger"), env=consumer_env(aws_settings))
        for i in (1, 2)
    ]
    monitoring = processes(
        "monitoring",
        toxic_command("serve", "monitoring"),
        env=consumer_env(
            aws_settings,
            evaluate_seconds="1",
            alert_min_feedback="10",
            alert_min_predictions="1000000",
        ),
    )
    training = processes(
        "training",
        toxic_command("serve", "training"),
        env=consumer_env(
            aws_settings,
            data_paths=str(STARTER),
            use_kaggle="false",
            experiment=f"e2e-{aws_settings.prefix}",
            model_name=f"model-{aws_settings.prefix}",
        )
        | {"MLFLOW_TRACKING_URI": mlflow_url},
    )
    for process in [*consumers, monitoring, training]:
        started(process)

    urls = [r.url for r in replicas]
    with steady_load(urls) as load:
        await eventually(holds(lambda: len(load.acknowledged) >= 20), "steady load", 30)

        # Users say every one of the first predictions got every label wrong.
        async with httpx.AsyncClient(timeout=10) as http:
            judged = list(load.acknowledged)[:20]
            for prediction_id in judged:
                scored = load.acknowledged[prediction_id]
                assert scored == SEED_VERSION
                response = await http.post(
                    f"{urls[0]}/v1/feedback",
                    json={"prediction_id": prediction_id, "labels": dict.fromkeys(LABELS, True)},
                )
                assert response.status_code == 202, response.text

        def logs() -> str:
            return "\n".join(p.name + ":\n" + p.log()[-3000:] for p in (monitoring, training))

        await eventually(
            holds(lambda: "retrain_requested" in monitoring.log()),
            "the monitoring asking for a retrain",
            60,
            describe=logs,
        )

        async def both_swapped() -> bool | None:
            versions = {await serving_version(url) for url in urls}
            return versions.isdisjoint({SEED_VERSION}) or None

        await eventually(both_swapped, "both replicas on the new model", 120, describe=logs)
        new_version = await serving_version(urls[0])
        await eventually(
            holds(lambda: new_version in load.acknowledged.values()),
            "requests served by the new model",
            30,
        )

    assert load.failures == []
    assert monitoring.log().count("retrain_requested") == 1
    assert {SEED_VERSION, new_version} <= set(load.acknowledged.values())
    acknowledged = sorted(load.acknowledged)

    async def all_stored() -> list[str] | None:
        stored = await stored_prediction_ids(clients, deployment)
        return stored if len(stored) >= len(acknowledged) else None

    stored = await eventually(all_stored, f"{len(acknowledged)} predictions stored", 60)
    # One row per acknowledged prediction: none missing, none extra, none twice.
    assert sorted(stored) == acknowledged
