"""Publishing events to the SNS topic in batches, within SNS's limits, with retries."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from contracts import Envelope, encode
from contracts.topology import EVENT_TYPE_ATTRIBUTE
from shared.errors import PoisonError, RetryableError
from shared.logs import get_logger

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient
    from types_aiobotocore_sns.type_defs import PublishBatchRequestEntryTypeDef

__all__ = ["MAX_BATCH_BYTES", "MAX_BATCH_ENTRIES", "SnsPublisher", "message_attributes"]

# SNS PublishBatch: at most 10 entries, and 256 KiB for the whole request's messages and attributes.
MAX_BATCH_ENTRIES = 10
MAX_BATCH_BYTES = 256 * 1024

_TRANSIENT_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "KMSThrottlingException",
    }
)
_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    OSError,
)

log = get_logger(__name__)


def message_attributes(event: Envelope) -> dict[str, dict[str, str]]:
    """The SNS message attributes of ``event``: subscriptions filter on ``event_type``."""
    event_type = str(getattr(event, "event_type", ""))
    return {
        EVENT_TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event_type},
        "schema_version": {"DataType": "String", "StringValue": event.schema_version},
    }


@dataclass(frozen=True)
class _Entry:
    entry_id: str
    body: str
    attributes: dict[str, dict[str, str]]
    size: int


def _entry(index: int, event: Envelope) -> _Entry:
    body = encode(event)
    attributes = message_attributes(event)
    size = len(body.encode()) + sum(
        len(name.encode()) + len(value["DataType"].encode()) + len(value["StringValue"].encode())
        for name, value in attributes.items()
    )
    if size > MAX_BATCH_BYTES:
        raise PoisonError(
            f"event {event.event_id} is {size} bytes; SNS takes at most {MAX_BATCH_BYTES}"
        )
    return _Entry(str(index), body, attributes, size)


def batches(entries: Sequence[_Entry]) -> list[list[_Entry]]:
    """Group entries in order into batches of at most 10 entries and 256 KiB each."""
    grouped: list[list[_Entry]] = []
    current: list[_Entry] = []
    current_size = 0
    for entry in entries:
        if current and (
            len(current) == MAX_BATCH_ENTRIES or current_size + entry.size > MAX_BATCH_BYTES
        ):
            grouped.append(current)
            current, current_size = [], 0
        current.append(entry)
        current_size += entry.size
    if current:
        grouped.append(current)
    return grouped


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ClientError):
        error: Any = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return error.get("Code") in _TRANSIENT_CODES or status >= 500
    return isinstance(exc, _CONNECTION_ERRORS)


class SnsPublisher:
    """The :class:`~shared.bus.ports.Publisher` over an SNS topic."""

    def __init__(
        self,
        sns: SNSClient,
        topic_arn: str,
        *,
        max_attempts: int = 6,
        base_delay: float = 0.05,
        max_delay: float = 2.0,
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._max_attempts = max_attempts
        self._base_delay = base_delay
        self._max_delay = max_delay

    @property
    def topic_arn(self) -> str:
        return self._topic_arn

    async def publish(self, events: Sequence[Envelope]) -> None:
        """Publish every event or raise: RetryableError when the bus stays unreachable."""
        entries = [_entry(i, event) for i, event in enumerate(events)]
        rejected: list[str] = []
        for batch in batches(entries):
            rejected.extend(await self._publish_batch(batch))
        if rejected:
            raise PoisonError("SNS refused events as malformed: " + "; ".join(rejected))

    async def _publish_batch(self, batch: list[_Entry]) -> list[str]:
        """Send one batch, retrying what failed transiently; returns the sender-fault failures."""
        pending = {entry.entry_id: entry for entry in batch}
        rejected: list[str] = []
        for attempt in range(1, self._max_attempts + 1):
            request: list[PublishBatchRequestEntryTypeDef] = [
                {"Id": e.entry_id, "Message": e.body, "MessageAttributes": e.attributes}  # type: ignore[typeddict-item]
                for e in pending.values()
            ]
            try:
                response = await self._sns.publish_batch(
                    TopicArn=self._topic_arn, PublishBatchRequestEntries=request
                )
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                if attempt == self._max_attempts:
                    raise RetryableError(
                        f"SNS unreachable after {attempt} attempts: {exc}"
                    ) from exc
                log.warning("publish_retry", attempt=attempt, error=str(exc))
                await asyncio.sleep(self._backoff(attempt))
                continue
            for ok in response.get("Successful", []):
                pending.pop(ok["Id"], None)
            for failed in response.get("Failed", []):
                if failed.get("SenderFault"):
                    pending.pop(failed["Id"], None)
                    rejected.append(f"{failed.get('Code')}: {failed.get('Message', '')}")
            if not pending:
                return rejected
            if attempt < self._max_attempts:
                log.warning("publish_partial_retry", attempt=attempt, pending=len(pending))
                await asyncio.sleep(self._backoff(attempt))
        raise RetryableError(f"SNS kept failing {len(pending)} entries of a batch")

    def _backoff(self, attempt: int) -> float:
        # Full jitter keeps many replicas from retrying in step after an outage.
        ceiling = min(self._max_delay, self._base_delay * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311
