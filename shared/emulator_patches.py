"""Performance fixes to moto's SQS, applied only inside the `toxic emulator` process.

moto 5.2 checks each message's retention on receive by computing *every* attribute of its queue,
including counts that scan all of the queue's messages: one receive costs O(depth²), so a queue a
thousand messages deep takes hundreds of milliseconds per call and a backlog feeds on itself. The
replacement reads the retention period alone; what it decides is unchanged.
"""

from __future__ import annotations

from typing import Any

__all__ = ["apply_patches"]


def _retention_check(self: Any, queue_name: str, message: Any) -> bool:
    """True while ``message`` is younger than its queue's MessageRetentionPeriod."""
    from moto.core.utils import unix_time

    retention_seconds = int(self.get_queue(queue_name).message_retention_period)
    retain_until: float = retention_seconds + message.sent_timestamp / 1000
    return bool(retain_until > unix_time())


def apply_patches() -> list[str]:
    """Apply every patch whose target exists in the installed moto; returns what was applied."""
    from moto.sqs.models import SQSBackend

    applied: list[str] = []
    if hasattr(SQSBackend, "is_message_valid_based_on_retention_period"):
        SQSBackend.is_message_valid_based_on_retention_period = _retention_check  # type: ignore[method-assign]
        applied.append("sqs-retention-check")
    return applied
