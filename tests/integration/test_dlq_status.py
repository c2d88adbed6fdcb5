"""`toxic dlq` and `toxic status` against the real stand-in."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from services.cli_dlq import list_dead_letters, redrive, resolve
from services.cli_status import check_health, queue_depths
from shared.artifacts import ArtifactStore, ChampionPointer
from shared.aws import AwsClients
from shared.bus import SqsQueue
from shared.errors import ConfigurationError
from shared.infra import InfraSpec
from shared.infra.messaging import find_queue
from shared.settings import AwsSettings
from tests.factories import prediction_made
from tests.harness.processes import toxic_command

pytestmark = pytest.mark.integration


async def url_of(clients: AwsClients, name: str) -> str:
    url = await find_queue(clients.sqs, name)
    assert url is not None
    return url


async def logger_queue(clients: AwsClients, spec: InfraSpec) -> SqsQueue:
    queue = spec.queue("logger")
    assert queue.dead_letter_queue is not None
    return SqsQueue(
        clients.sqs,
        name=queue.name,
        url=await url_of(clients, queue.name),
        dlq_url=await url_of(clients, queue.dead_letter_queue),
    )


async def dead_letter_two(clients: AwsClients, spec: InfraSpec) -> str:
    """One poison message moved by the consumer (with its reason), one moved by SQS's redrive."""
    queue = await logger_queue(clients, spec)
    url = await url_of(clients, spec.queue("logger").name)
    attributes: dict[str, Any] = {
        "event_type": {"DataType": "String", "StringValue": "PredictionMade"}
    }
    await clients.sqs.send_message(
        QueueUrl=url, MessageBody="{not json", MessageAttributes=attributes
    )
    (poison,) = await queue.receive(10, 0)
    await queue.dead_letter(poison, "malformed_json: Expecting property name")

    event = prediction_made()
    body = event.model_dump_json()
    await clients.sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    for _ in range(5):  # received and never deleted: a handler that keeps failing
        got = await clients.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
        assert len(got.get("Messages", [])) == 1
    await clients.sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)  # the redrive happens
    return str(event.event_id)


async def test_dlq_list_shows_why_each_message_is_there_and_leaves_them_visible(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    event_id = await dead_letter_two(clients, deployment)

    letters = await list_dead_letters(clients, deployment, "logger")
    by_id = {letter.event_id: letter for letter in letters}
    assert set(by_id) == {"-", event_id}
    poison = by_id["-"]  # its body is not JSON; its event_type comes from the message attribute
    assert poison.event_type == "PredictionMade"
    assert poison.reason == "malformed_json: Expecting property name"
    assert poison.source == deployment.queue("logger").name
    redriven = by_id[event_id]
    assert redriven.event_type == "PredictionMade"
    assert redriven.reason.startswith("redriven by SQS after 5 receives")
    assert redriven.receives >= 5
    assert all(0 <= letter.age_seconds < 60 for letter in letters)
    # Listing is not consuming: the messages are all there, visible, for the next listing.
    assert len(await list_dead_letters(clients, deployment, "logger")) == 2


async def test_dlq_redrive_moves_every_message_back_without_the_dead_letter_attributes(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    await dead_letter_two(clients, deployment)

    moved, source = await redrive(clients, deployment, "logger")
    assert (moved, source) == (2, deployment.queue("logger").name)
    assert await list_dead_letters(clients, deployment, "logger") == []
    got = await clients.sqs.receive_message(
        QueueUrl=await url_of(clients, source),
        MaxNumberOfMessages=10,
        MessageAttributeNames=["All"],
    )
    messages = got.get("Messages", [])
    assert len(messages) == 2
    for message in messages:
        assert set(message["MessageAttributes"]) == {"event_type"}


async def test_dlq_refuses_an_unknown_queue_and_the_api_redrive(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    with pytest.raises(ConfigurationError, match="no dead-letter queue for 'mailer'"):
        resolve(deployment, "mailer")
    assert resolve(deployment, f"{deployment.prefix}-monitoring-dlq").source == (
        f"{deployment.prefix}-monitoring"
    )
    assert resolve(deployment, "api").source is None
    with pytest.raises(ConfigurationError, match="nothing to send back"):
        await redrive(clients, deployment, "api")


async def test_the_dlq_commands_print_a_table_and_say_how_many_moved(
    clients: AwsClients, deployment: InfraSpec, aws_settings: AwsSettings, processes
) -> None:
    await dead_letter_two(clients, deployment)
    env = {"AWS_ENDPOINT_URL": aws_settings.endpoint_url or "", "TOXIC_PREFIX": deployment.prefix}
    listed = processes("dlq-list", toxic_command("dlq", "list", "logger"), env=env)
    assert listed.wait(60) == 0
    assert "malformed_json: Expecting property name" in listed.log()
    assert "2 message(s)" in listed.log()
    moved = processes("dlq-redrive", toxic_command("dlq", "redrive", "logger"), env=env)
    assert moved.wait(60) == 0
    assert f"moved 2 message(s) back to {deployment.prefix}-logger" in moved.log()


async def test_status_counts_visible_in_flight_and_delayed_messages(
    clients: AwsClients, deployment: InfraSpec
) -> None:
    url = await url_of(clients, deployment.queue("monitoring").name)
    for _ in range(3):
        await clients.sqs.send_message(QueueUrl=url, MessageBody="x")
    await clients.sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    await clients.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=60)

    depths = {depth.queue: depth for depth in await queue_depths(clients, deployment)}
    monitoring = depths[deployment.queue("monitoring").name]
    assert (monitoring.visible, monitoring.in_flight, monitoring.delayed) == (2, 1, 1)
    assert {q.name for q in deployment.static_queues} <= set(depths)


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ready = self.path == "/readyz"
        body = json.dumps(
            {"model_loaded": ready, "model_version": "7", "outbox_depth": 0, "outbox_capacity": 9}
        ).encode()
        self.send_response(200 if ready else 503)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_health_says_ready_not_ready_or_down(health_server: str) -> None:
    ready = check_health("api", f"{health_server}/readyz")
    assert (ready.state, ready.detail) == ("ready", "model 7, outbox 0/9")
    not_ready = check_health("api", f"{health_server}/other")
    assert not_ready.state == "not ready"
    assert "HTTP 503" in not_ready.detail
    down = check_health("api", "http://127.0.0.1:9/readyz")
    assert down.state == "down"


async def test_toxic_status_prints_depths_the_champion_and_health(
    clients: AwsClients,
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes,
    health_server: str,
) -> None:
    env = {
        "AWS_ENDPOINT_URL": aws_settings.endpoint_url or "",
        "TOXIC_PREFIX": deployment.prefix,
        "TOXIC_PORT": health_server.rsplit(":", 1)[1],
    }
    before = processes("status-none", toxic_command("status"), env=env)
    assert before.wait(60) == 0
    assert "champion: none published yet" in before.log()
    assert f"{deployment.prefix}-logger-dlq" in before.log()

    await ArtifactStore(clients.s3, deployment.bucket.name).write_champion(
        ChampionPointer(
            model_name="toxic-comment-classifier",
            model_version="7",
            manifest_key="models/x/manifest.json",
            sha256="0" * 64,
        )
    )
    after = processes("status-champion", toxic_command("status", "--json"), env=env)
    assert after.wait(60) == 0
    document = json.loads(after.log())
    assert document["champion"]["model_version"] == "7"
    api = next(s for s in document["services"] if s["name"] == "api")
    assert (api["state"], api["detail"]) == ("ready", "model 7, outbox 0/9")
