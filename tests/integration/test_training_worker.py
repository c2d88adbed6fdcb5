"""`toxic serve training` as a real process against the stand-in and a real MLflow server."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from contracts import LABELS, ModelPublished, TrainingFailed, decode
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.harness.processes import ServiceProcess, toxic_command

pytestmark = pytest.mark.integration

STARTER = Path(__file__).parents[2] / "services" / "training" / "starter" / "starter.csv"


@pytest.fixture
def spec(deployment: InfraSpec) -> InfraSpec:
    return deployment


async def outcomes(clients: AwsClients, spec: InfraSpec, count: int) -> list[object]:
    """The first ``count`` training outcomes, read from the monitoring queue (which gets them)."""
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("monitoring").name))["QueueUrl"]
    found: list[object] = []
    for _ in range(60):
        response = await clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        )
        for message in response.get("Messages", []):
            found.append(decode(message["Body"]))
            await clients.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if len(found) >= count:
            break
    return found


def worker_env(aws_settings: AwsSettings, mlflow_url: str, data: Path) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": str(aws_settings.endpoint_url),
        "TOXIC_PREFIX": aws_settings.prefix,
        "MLFLOW_TRACKING_URI": mlflow_url,
        "TOXIC_DATA_PATHS": str(data),
        "TOXIC_USE_KAGGLE": "false",
        "TOXIC_WAIT_TIME_SECONDS": "1",
        "TOXIC_EXPERIMENT": f"worker-{aws_settings.prefix}",
        "TOXIC_MODEL_NAME": f"model-{aws_settings.prefix}",
    }


async def test_requests_during_a_run_yield_exactly_one_follow_up_run(
    clients: AwsClients,
    spec: InfraSpec,
    aws_settings: AwsSettings,
    mlflow_url: str,
    processes: Callable[..., ServiceProcess],
) -> None:
    publisher = await open_publisher(clients, spec)
    worker = processes(
        "training",
        toxic_command("serve", "training"),
        env=worker_env(aws_settings, mlflow_url, STARTER),
    )
    worker.wait_until(lambda: "consumer_started" in worker.log(), 60, "consuming")

    first = factories.retrain_requested()
    await publisher.publish([first])
    worker.wait_until(lambda: "training_run_started" in worker.log(), 60, "training")
    during = [factories.retrain_requested() for _ in range(3)]
    await publisher.publish(during)

    results = await outcomes(clients, spec, 2)

    assert len(results) == 2, worker.log()
    assert all(isinstance(r, ModelPublished) for r in results), results
    covered = sorted((r.request_ids for r in results if isinstance(r, ModelPublished)), key=len)
    assert covered[0] == (first.request_id,)
    assert sorted(covered[1]) == sorted(r.request_id for r in during)
    runs = [
        json.loads(line) for line in worker.log().splitlines() if "training_run_started" in line
    ]
    assert len(runs) == 2
    # The outcome is published just before the handlers return; their deletes follow it.
    training_url = (await clients.sqs.get_queue_url(QueueName=spec.queue("training").name))[
        "QueueUrl"
    ]
    left: set[str] = set()
    for _ in range(100):
        attributes = await clients.sqs.get_queue_attributes(
            QueueUrl=training_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        left = set(attributes["Attributes"].values())
        if left == {"0"}:
            break
        await asyncio.sleep(0.1)
    assert left == {"0"}


async def test_a_bad_data_file_yields_training_failed_naming_the_file(
    clients: AwsClients,
    spec: InfraSpec,
    aws_settings: AwsSettings,
    mlflow_url: str,
    processes: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("comment_text,toxic\nhello,2\n")
    worker = processes(
        "training",
        toxic_command("serve", "training"),
        env=worker_env(aws_settings, mlflow_url, bad),
    )
    worker.wait_until(lambda: "consumer_started" in worker.log(), 60, "consuming")

    await (await open_publisher(clients, spec)).publish([factories.retrain_requested()])
    [result] = await outcomes(clients, spec, 1)

    assert isinstance(result, TrainingFailed)
    assert result.stage == "data"
    assert "bad.csv" in result.error


def test_toxic_train_with_a_bad_file_says_why_and_trains_nothing(
    tmp_path: Path, processes: Callable[..., ServiceProcess]
) -> None:
    bad = tmp_path / "labels.csv"
    bad.write_text("comment_text,toxic\nhello,yes\n")
    out = tmp_path / "model"

    train = processes(
        "train",
        [
            sys.executable,
            "-m",
            "services.cli",
            "train",
            "--no-publish",
            "--data",
            str(bad),
            "--output",
            str(out),
        ],
    )

    assert train.wait(120) == 1
    assert "labels.csv" in train.log()
    assert not out.exists()


async def test_toxic_train_publishes_and_toxic_score_uses_the_champion(
    clients: AwsClients,
    spec: InfraSpec,
    aws_settings: AwsSettings,
    mlflow_url: str,
    processes: Callable[..., ServiceProcess],
    tmp_path: Path,
) -> None:
    env = worker_env(aws_settings, mlflow_url, STARTER)

    train = processes("train", toxic_command("train"), env=env)
    assert await asyncio.to_thread(train.wait, 300) == 0, train.log()
    assert "published as champion" in train.log()
    [published] = await outcomes(clients, spec, 1)
    assert isinstance(published, ModelPublished)
    assert f"version {published.model_version} published" in train.log()

    comments = tmp_path / "comments.csv"
    comments.write_text("id,comment_text\n7,thanks for the edit\n8,you moron\n", encoding="utf-8")
    scored = tmp_path / "scored.csv"
    score = processes("score", toxic_command("score", str(comments), str(scored)), env=env)
    assert await asyncio.to_thread(score.wait, 120) == 0, score.log()
    assert f"{published.model_name} {published.model_version}" in score.log()
    lines = scored.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == ["id", "comment_text", *(label.value for label in LABELS)]
    assert [line.split(",")[0] for line in lines[1:]] == ["7", "8"]
