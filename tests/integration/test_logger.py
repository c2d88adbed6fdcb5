"""`toxic serve logger` as a real process: events published on the topic end up as DynamoDB rows."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from contracts import Decision, Label, ModeratorAction, ReviewPriority
from shared.aws import AwsClients
from shared.infra import InfraSpec
from shared.items import FeedbackItem, ModelItem, PredictionItem, ReviewItem, ReviewStatus
from shared.settings import AwsSettings
from shared.worker import open_publisher
from tests import factories
from tests.harness.processes import ServiceProcess, toxic_command

pytestmark = pytest.mark.integration

T = TypeVar("T")


@pytest.fixture
async def logger(
    deployment: InfraSpec,
    aws_settings: AwsSettings,
    processes: Callable[..., ServiceProcess],
) -> ServiceProcess:
    """The logger process, consuming its queue."""
    process = processes(
        "logger",
        toxic_command("serve", "logger"),
        env={
            "AWS_ENDPOINT_URL": str(aws_settings.endpoint_url),
            "TOXIC_PREFIX": aws_settings.prefix,
            "TOXIC_WAIT_TIME_SECONDS": "1",
            "TOXIC_PREDICTION_RETENTION_DAYS": "2",
        },
    )
    await asyncio.to_thread(
        process.wait_until, lambda: "consumer_started" in process.log(), 60, "consuming"
    )
    return process


async def eventually(
    probe: Callable[[], Awaitable[T | None]], process: ServiceProcess, timeout: float = 20.0
) -> T:
    """The first result of ``probe`` that is not None (or falsy), polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await probe()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing within {timeout}s; the logger said:\n{process.log()}")


async def query(clients: AwsClients, table: str, index: str | None, **equal: str) -> list[Any]:
    """Items of ``table`` (or its ``index``) whose key attributes equal the given strings."""
    names = {f"#{name}": name for name in equal}
    values = {f":{name}": {"S": value} for name, value in equal.items()}
    condition = " AND ".join(f"#{name} = :{name}" for name in equal)
    extra: dict[str, Any] = {"IndexName": index} if index else {}
    response = await clients.dynamodb.query(
        TableName=table,
        KeyConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
        **extra,
    )
    return response.get("Items", [])


async def drained(clients: AwsClients, spec: InfraSpec, process: ServiceProcess) -> None:
    """Wait until the logger has handled and deleted every message on its queue."""
    url = (await clients.sqs.get_queue_url(QueueName=spec.queue("logger").name))["QueueUrl"]

    async def empty() -> bool:
        attributes = await clients.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )
        return set(attributes["Attributes"].values()) == {"0"}

    await eventually(empty, process)


async def dead_letters(clients: AwsClients, spec: InfraSpec) -> str:
    dlq = spec.queue("logger").dead_letter_queue
    assert dlq is not None
    url = (await clients.sqs.get_queue_url(QueueName=dlq))["QueueUrl"]
    attributes = await clients.sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return attributes["Attributes"]["ApproximateNumberOfMessages"]


async def test_a_scored_comment_becomes_a_row_listed_by_its_day(
    clients: AwsClients, deployment: InfraSpec, logger: ServiceProcess
) -> None:
    event = factories.prediction_made(text="thanks for fixing the typo")
    await (await open_publisher(clients, deployment)).publish([event])

    day = event.occurred_at.strftime("%Y-%m-%d")
    table = deployment.table("predictions").name
    [row] = await eventually(lambda: query(clients, table, "by_time", day=day), logger)

    stored = PredictionItem.from_item(row)
    assert stored.prediction_id == event.prediction_id
    assert stored.text == "thanks for fixing the typo"
    assert stored.expires_at == int(event.occurred_at.timestamp()) + 2 * 24 * 3600


async def test_a_review_waits_pending_until_a_moderator_decides(
    clients: AwsClients, deployment: InfraSpec, logger: ServiceProcess
) -> None:
    publisher = await open_publisher(clients, deployment)
    reviews = deployment.table("reviews").name
    prediction = factories.prediction_made(
        decision=Decision.REVIEW, review_priority=ReviewPriority.HIGH, text="borderline remark"
    )

    await publisher.publish([prediction])
    [pending] = await eventually(
        lambda: query(clients, reviews, "by_status", status="pending"), logger
    )
    assert ReviewItem.from_item(pending) == ReviewItem.from_prediction(prediction)

    decision = factories.moderator_decision(
        prediction, moderator_action=ModeratorAction.REMOVE, true_labels={Label.INSULT: True}
    )
    await publisher.publish([decision])
    [row] = await eventually(
        lambda: query(clients, reviews, "by_status", status="reviewed"), logger
    )

    reviewed = ReviewItem.from_item(row)
    assert reviewed.prediction_id == prediction.prediction_id
    assert reviewed.status is ReviewStatus.REVIEWED
    assert reviewed.resolved_at == decision.occurred_at
    assert reviewed.resolved_by == f"{decision.source.service}/{decision.source.instance}"
    assert reviewed.moderator_action is ModeratorAction.REMOVE
    assert reviewed.true_labels == {Label.INSULT: True}
    assert reviewed.feedback_id == decision.feedback_id
    assert await query(clients, reviews, "by_status", status="pending") == []
    [feedback] = await query(
        clients,
        deployment.table("feedback").name,
        "by_prediction",
        prediction_id=str(prediction.prediction_id),
    )
    assert FeedbackItem.from_item(feedback) == FeedbackItem.from_event(decision)


async def test_events_published_twice_leave_one_row_and_a_resolved_review_resolved(
    clients: AwsClients, deployment: InfraSpec, logger: ServiceProcess
) -> None:
    publisher = await open_publisher(clients, deployment)
    reviews = deployment.table("reviews").name
    prediction = factories.prediction_made(decision=Decision.REVIEW)
    decision = factories.moderator_decision(prediction)

    await publisher.publish([prediction, prediction])
    await eventually(lambda: query(clients, reviews, "by_status", status="pending"), logger)
    await publisher.publish([decision])
    [resolved] = await eventually(
        lambda: query(clients, reviews, "by_status", status="reviewed"), logger
    )
    await publisher.publish([prediction, decision])
    await publisher.publish([prediction])
    await drained(clients, deployment, logger)

    day = prediction.occurred_at.strftime("%Y-%m-%d")
    rows = await query(clients, deployment.table("predictions").name, "by_time", day=day)
    assert len(rows) == 1
    assert await query(clients, reviews, "by_status", status="pending") == []
    assert await query(clients, reviews, "by_status", status="reviewed") == [resolved]
    assert "duplicate_ignored" in logger.log()
    assert await dead_letters(clients, deployment) == "0"


async def test_a_decision_on_a_prediction_never_queued_is_kept_as_feedback_and_not_retried(
    clients: AwsClients, deployment: InfraSpec, logger: ServiceProcess
) -> None:
    decision = factories.moderator_decision(factories.prediction_made())

    await (await open_publisher(clients, deployment)).publish([decision])
    await drained(clients, deployment, logger)

    feedback = await clients.dynamodb.get_item(
        TableName=deployment.table("feedback").name,
        Key={"feedback_id": {"S": str(decision.feedback_id)}},
        ConsistentRead=True,
    )
    assert FeedbackItem.from_item(feedback["Item"]) == FeedbackItem.from_event(decision)
    scan = await clients.dynamodb.scan(TableName=deployment.table("reviews").name)
    assert scan["Items"] == []
    assert "review_not_found" in logger.log()
    assert await dead_letters(clients, deployment) == "0"


async def test_a_published_model_joins_the_model_history(
    clients: AwsClients, deployment: InfraSpec, logger: ServiceProcess
) -> None:
    published = factories.model_published(model_name="toxic-comment", model_version="3")

    await (await open_publisher(clients, deployment)).publish([published, published])

    models = deployment.table("models").name
    [row] = await eventually(lambda: query(clients, models, None, pk="model#toxic-comment"), logger)
    await drained(clients, deployment, logger)
    assert len(await query(clients, models, None, pk="model#toxic-comment")) == 1
    stored = ModelItem.from_item(row)
    assert stored == ModelItem.from_event(published)
    assert stored.baseline == published.baseline


async def test_sigterm_stops_the_logger_cleanly(logger: ServiceProcess) -> None:
    logger.signal(signal.SIGTERM)

    assert await asyncio.to_thread(logger.wait, 30) == 0
    assert "worker_stopped" in logger.log()
