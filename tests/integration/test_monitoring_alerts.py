"""Alert rules and pipeline health in the real monitoring process, on the AWS stand-in."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiobotocore.session import get_session

from contracts import Label, RetrainRequested, decode
from services.monitoring.health import CloudWatchOldestAge
from shared.aws import AwsClients
from shared.infra import InfraSpec, create_replica_queue
from shared.items import PredictionItem
from shared.monitoring.reader import DynamoMonitoringReader
from shared.monitoring.records import PipelineHealth
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.harness.processes import ServiceProcess, toxic_command
from tests.harness.waiting import eventually

pytestmark = pytest.mark.integration


class _Readiness(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"ready": True, "outbox_depth": 3, "model_version": "7"}).encode()
        self.send_response(200 if self.path == "/readyz" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def replica_endpoint() -> Iterator[str]:
    """An HTTP server answering /readyz as an API replica does."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Readiness)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def start(aws: AwsSettings, processes: Callable[..., ServiceProcess], name: str) -> ServiceProcess:
    process = processes(
        name,
        toxic_command("serve", "monitoring"),
        env={
            "AWS_ENDPOINT_URL": str(aws.endpoint_url),
            "TOXIC_PREFIX": aws.prefix,
            "TOXIC_WAIT_TIME_SECONDS": "1",
            "TOXIC_EVALUATE_SECONDS": "0.5",
            "TOXIC_ALERT_MIN_FEEDBACK": "3",
            "TOXIC_ALERT_MIN_PREDICTIONS": "1000",
        },
    )
    process.wait_until(lambda: "consumer_started" in process.log(), 60, "consuming")
    return process


async def training_requests(clients: AwsClients, spec: InfraSpec) -> list[RetrainRequested]:
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("training").name))["QueueUrl"]
    found: list[RetrainRequested] = []
    while True:
        response = await clients.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages = response.get("Messages", [])
        if not messages:
            return found
        found += [e for m in messages if isinstance(e := decode(m["Body"]), RetrainRequested)]


async def test_competing_monitors_ask_for_one_retrain_and_keep_the_alert_and_health_visible(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Callable[..., ServiceProcess],
    replica_endpoint: str,
) -> None:
    await create_replica_queue(clients, deployment, "replica-a", endpoint=replica_endpoint)
    monitors = await asyncio.gather(
        *(asyncio.to_thread(start, aws_settings, processes, f"monitoring-{i}") for i in (1, 2))
    )
    now = datetime.now(UTC)
    predictions = [
        factories.prediction_made(occurred_at=now, flagged=(Label.TOXIC,)) for _ in range(4)
    ]
    for prediction in predictions:  # as the logger would have stored them
        await clients.dynamodb.put_item(
            TableName=deployment.table("predictions").name,
            Item=PredictionItem.from_event(prediction, retention_seconds=3600).to_item(),
        )
    publisher = await open_publisher(clients, deployment)
    await publisher.publish(predictions)
    await publisher.publish(
        [
            factories.feedback_given(prediction_id=p.prediction_id, occurred_at=now)
            for p in predictions
        ]
    )
    reader = DynamoMonitoringReader(clients.dynamodb, deployment)

    def logs() -> str:
        return "\n".join(m.log() for m in monitors)

    claims = await eventually(reader.retrain_claims, "a retrain claim", 30, describe=logs)
    await asyncio.sleep(3)  # several more evaluations by both processes

    requests = await training_requests(clients, deployment)
    assert [(r.reason.value, r.request_id) for r in requests] == [
        ("accuracy_drop", claims[0].request_id)
    ]
    assert logs().count("retrain_requested") == 1
    assert [a.rule for a in await reader.active_alerts()] == ["feedback_accuracy"]
    [record] = [r for r in await reader.firings(10) if r.retrain_request_id is not None]
    assert record.rule == "feedback_accuracy"

    async def measured_with_lag() -> PipelineHealth | None:
        # Each monitor writes the reading it took; one that handled no prediction has no lag.
        health = await reader.pipeline_health()
        return health if health is not None and health.consumer_lag_seconds is not None else None

    health = await eventually(measured_with_lag, "a health reading with a consumer lag", 30)
    names = {q.name for q in health.queues}
    replica_queue = deployment.replica_queue("replica-a").name
    assert names == {q.name for q in deployment.static_queues} | {replica_queue}
    assert {q.name for q in health.queues if q.dead_letter} == {
        q.name for q in deployment.static_queues if not q.subscribed
    }
    assert all(q.oldest_age_seconds is None for q in health.queues)  # no CloudWatch here
    [replica] = health.replicas
    assert (replica.endpoint, replica.ready, replica.outbox_depth) == (replica_endpoint, True, 3)
    assert health.consumer_lag_seconds is not None
    assert 0 <= health.consumer_lag_seconds < 60


async def test_the_cloudwatch_reader_takes_the_newest_age_of_the_oldest_message(
    aws_settings: AwsSettings,
) -> None:
    """On AWS the age comes from CloudWatch; the stand-in's CloudWatch API stands in for it."""
    client = get_session().create_client(
        "cloudwatch",
        aws_settings.region,
        endpoint_url=aws_settings.endpoint_url,
        **aws_settings.credentials(),
    )
    now = datetime.now(UTC)
    async with client as cloudwatch:
        for minutes_ago, age in ((3, 40.0), (1, 95.0)):
            await cloudwatch.put_metric_data(
                Namespace="AWS/SQS",
                MetricData=[
                    {
                        "MetricName": "ApproximateAgeOfOldestMessage",
                        "Dimensions": [{"Name": "QueueName", "Value": "toxic-logger"}],
                        "Timestamp": now - timedelta(minutes=minutes_ago),
                        "Value": age,
                        "Unit": "Seconds",
                    }
                ],
            )
        ages = CloudWatchOldestAge(cloudwatch, clock=lambda: now)

        assert await ages.oldest_age_seconds("toxic-logger") == 95.0
        assert await ages.oldest_age_seconds("toxic-monitoring") is None
