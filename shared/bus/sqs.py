"""The :class:`~shared.bus.ports.QueueTransport` over an SQS queue and its dead-letter queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shared.bus.ports import Delivery

if TYPE_CHECKING:
    from types_aiobotocore_sqs import SQSClient
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueTypeDef, MessageTypeDef

__all__ = ["DEAD_LETTER_REASON", "DEAD_LETTER_SOURCE", "SqsQueue"]

# Message attributes a dead-lettered message carries, so `toxic dlq list` can say why.
DEAD_LETTER_REASON = "dead_letter_reason"
DEAD_LETTER_SOURCE = "dead_letter_source"
# SQS caps a message attribute value's size with the message; keep reasons short.
_MAX_REASON = 1_000


def _delivery(message: MessageTypeDef) -> Delivery:
    attributes = {
        name: value["StringValue"]
        for name, value in message.get("MessageAttributes", {}).items()
        if "StringValue" in value
    }
    return Delivery(
        message_id=message["MessageId"],
        receipt=message["ReceiptHandle"],
        body=message.get("Body", ""),
        attributes=attributes,
        receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
    )


class SqsQueue:
    """One SQS queue (and its DLQ) reached through an injected aiobotocore client."""

    def __init__(self, sqs: SQSClient, *, name: str, url: str, dlq_url: str) -> None:
        self._sqs = sqs
        self._name = name
        self._url = url
        self._dlq_url = dlq_url

    @property
    def name(self) -> str:
        return self._name

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Delivery]:
        response = await self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=max(1, min(10, max_messages)),
            WaitTimeSeconds=wait_seconds,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
        return [_delivery(m) for m in response.get("Messages", [])]

    async def delete(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        failed: list[Delivery] = []
        for start in range(0, len(deliveries), 10):
            chunk = {str(i): d for i, d in enumerate(deliveries[start : start + 10])}
            response = await self._sqs.delete_message_batch(
                QueueUrl=self._url,
                Entries=[{"Id": i, "ReceiptHandle": d.receipt} for i, d in chunk.items()],
            )
            failed.extend(chunk[f["Id"]] for f in response.get("Failed", []))
        return failed

    async def change_visibility(self, deliveries: Sequence[Delivery], seconds: int) -> None:
        for start in range(0, len(deliveries), 10):
            chunk = deliveries[start : start + 10]
            await self._sqs.change_message_visibility_batch(
                QueueUrl=self._url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": d.receipt, "VisibilityTimeout": seconds}
                    for i, d in enumerate(chunk)
                ],
            )

    async def dead_letter(self, delivery: Delivery, reason: str) -> None:
        # Send first, then delete: a crash in between leaves a duplicate in the DLQ, never a loss.
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            name: {"DataType": "String", "StringValue": value}
            for name, value in delivery.attributes.items()
            if name not in (DEAD_LETTER_REASON, DEAD_LETTER_SOURCE) and value
        }
        attributes[DEAD_LETTER_REASON] = {
            "DataType": "String",
            "StringValue": reason[:_MAX_REASON] or "unknown",
        }
        attributes[DEAD_LETTER_SOURCE] = {"DataType": "String", "StringValue": self._name}
        await self._sqs.send_message(
            QueueUrl=self._dlq_url,
            # SQS refuses an empty body; an empty message is still worth keeping as evidence.
            MessageBody=delivery.body or "(empty body)",
            MessageAttributes=attributes,
        )
        await self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=delivery.receipt)
