"""Reading what the mesh stored, the way a test counts it: by index or key, never guessing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.aws import AwsClients
from shared.dynamo import from_attribute_map
from shared.infra import InfraSpec

__all__ = ["queue_depth", "rollup", "stored_prediction_ids"]


async def stored_prediction_ids(clients: AwsClients, spec: InfraSpec) -> list[str]:
    """Every prediction id in the table, through its ``by_time`` index (today's and, near
    midnight, yesterday's): duplicates would show up as repeated ids."""
    ids: list[str] = []
    now = datetime.now(UTC)
    for day in sorted({now.date(), (now - timedelta(minutes=30)).date()}):
        query: dict[str, Any] = {
            "TableName": spec.table("predictions").name,
            "IndexName": "by_time",
            "KeyConditionExpression": "#day = :day",
            "ExpressionAttributeNames": {"#day": "day"},
            "ExpressionAttributeValues": {":day": {"S": day.isoformat()}},
            # The ids alone: tests poll this while consumers write, and whole items of hundreds
            # of predictions cost the stand-in more to send than the writes it is waiting for.
            "ProjectionExpression": "prediction_id",
        }
        while True:
            response = await clients.dynamodb.query(**query)
            ids += [item["prediction_id"]["S"] for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                break
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return ids


async def queue_depth(clients: AwsClients, name: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue ``name``."""
    url = (await clients.sqs.get_queue_url(QueueName=name))["QueueUrl"]
    attributes = (
        await clients.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


async def rollup(clients: AwsClients, spec: InfraSpec, pk: str, sk: str) -> dict[str, Any]:
    """One rollup item's counters (empty when absent)."""
    response = await clients.dynamodb.get_item(
        TableName=spec.table("rollups").name,
        Key={"pk": {"S": pk}, "sk": {"S": sk}},
        ConsistentRead=True,
    )
    return from_attribute_map(response.get("Item", {}))
